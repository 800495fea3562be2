/**
 * One adapter per channel type behind this interface (STYLE.md habit 3). A channel only sends;
 * retries, back-off, fallbacks and de-duplication belong to the outbox worker.
 */
import type { Notification } from './types.js';

/** One outbox row on its way to a channel. */
export interface Delivery {
  readonly notification: Notification;
  readonly project: string;
  /** Stable for the row across retries and restarts: the webhook `Idempotency-Key`, the e-mail Message-ID. */
  readonly id: string;
  /** 0 for the first delivery, n for the nth repeat of a still-firing incident. */
  readonly repeat: number;
  /** Set when this channel stands in for another one that keeps failing. */
  readonly fallbackFor?: string;
}

export interface Channel {
  readonly name: string;
  readonly type: 'smtp' | 'webhook';
  /** Resolves once the receiver accepted the notification; rejects (to be retried) otherwise. */
  send(delivery: Delivery, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

export type FetchLike = typeof fetch;

/**
 * The receiver refused this notification itself (e.g. a webhook's 400 or 413), so sending it again
 * cannot succeed: the row is set aside instead of blocking the rows behind it, and the channel does
 * not count as down.
 */
export class PermanentDeliveryError extends Error {
  override readonly name = 'PermanentDeliveryError';
}
