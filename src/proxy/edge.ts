/**
 * The edge proxy as berth's deploy logic sees it: each routed service has a blue and a green
 * slot; a switch moves new requests to one slot without closing any client connection.
 * One implementation today: `haproxy.ts` (runtime API, no reloads during deploys).
 */
import type { Color } from '../engine/labels.js';

export interface SlotAddress {
  readonly ip: string;
  readonly port: number;
}

export interface EdgeServiceView {
  readonly active?: Color;
  readonly slots: Partial<Record<Color, SlotAddress>>;
}

/** What the edge should route: service → active slot and addresses. */
export type EdgeView = Readonly<Record<string, EdgeServiceView>>;

export type EdgeApplyResult = 'created' | 'recreated' | 'reloaded' | 'synced';

export interface Edge {
  /**
   * Make the edge exist and match the routes: graceful reload when routes changed, a new container
   * when listeners or networks changed. With `routes: false` only the live slots are synced.
   */
  apply(view: EdgeView, options?: { readonly routes: boolean }): Promise<EdgeApplyResult>;
  /** Atomically send new requests of `service` to `to` (addr set + ready), draining the other slot. */
  switchTo(service: string, to: Color, addr: SlotAddress): Promise<{ readonly ms: number }>;
  /** Take a slot out of rotation entirely (after drain). */
  retire(service: string, color: Color): Promise<void>;
  /** Requests/connections still open on a slot (for draining). */
  activeSessions(service: string, color: Color): Promise<number>;
  /** Persist the view so a restart of the edge comes back routing the same way. */
  persist(view: EdgeView): Promise<void>;
  isRunning(): Promise<boolean>;
  remove(): Promise<void>;
}
