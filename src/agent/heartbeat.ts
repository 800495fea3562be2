/**
 * Dead-man's switch: this agent POSTs a heartbeat to its peer every `interval`, and reports the
 * probe `peer:<name>` failing when no heartbeat arrived from the peer for `timeout` — so the
 * primary's agent and the backup host's agent each alert when the other stops.
 */
import type { MonitorConfig } from '../project/monitor-schema.js';
import type { MonitorStore } from '../store/monitor.js';
import type { EventProbe, ProbeMeta, ProbeResult } from '../monitor/types.js';

type PeerConfig = NonNullable<MonitorConfig['peer']>;

export interface Heartbeat extends EventProbe {
  readonly meta: ProbeMeta;
  /** Called by the HTTP server on POST /heartbeat. */
  received(from: string): void;
  lastSeenMs(): number | undefined;
}

export function createHeartbeat(o: { peer: PeerConfig; self: string; store: MonitorStore; clock: () => number; token?: string; fetch?: typeof fetch; log?: (m: string, f?: Record<string, unknown>) => void }): Heartbeat {
  const id = `peer:${o.peer.name}`;
  const doFetch = o.fetch ?? fetch;
  const startedAt = o.clock();
  let timer: NodeJS.Timeout | undefined;
  // The send in flight: stop() waits for it, so no answer lands in a store closed after stopping.
  let sending: Promise<void> | undefined;
  let stopped = false;
  let report: (id: string, r: ProbeResult) => void = () => {};
  let lastOk: boolean | undefined;

  const lastSeenMs = () => o.store.heartbeat(o.peer.name)?.lastSeenMs;
  const check = () => {
    const now = o.clock();
    const seen = lastSeenMs();
    // A fresh agent gives the peer one timeout to show up before calling it silent.
    const silentFor = now - Math.max(seen ?? 0, startedAt);
    const ok = silentFor <= o.peer.timeoutMs;
    const summary = ok
      ? `peer ${o.peer.name} heard ${seen ? `${Math.round((now - seen) / 1000)} s ago` : 'never yet (within grace)'}`
      : `peer agent ${o.peer.name} silent for ${Math.round(silentFor / 1000)} s${seen ? ` (last heartbeat ${new Date(seen).toISOString()})` : ' (never heard)'}`;
    if (ok !== lastOk || !ok) report(id, { ok, summary, atMs: now, ...(seen ? { value: (now - seen) / 1000 } : {}) });
    lastOk = ok;
  };
  const send = async () => {
    const at = o.clock();
    try {
      const res = await doFetch(`${o.peer.url}/heartbeat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(o.token ? { authorization: `Bearer ${o.token}` } : {}) },
        body: JSON.stringify({ from: o.self, atMs: at }),
        signal: AbortSignal.timeout(Math.min(5_000, o.peer.intervalMs)),
      });
      o.store.heartbeatSent(o.peer.name, at, res.ok ? undefined : `HTTP ${res.status}`);
    } catch (err) {
      o.store.heartbeatSent(o.peer.name, at, (err as Error).message);
    }
  };
  const beat = () => {
    // A peer slower than the interval gets one heartbeat at a time, not a pile of them.
    sending ??= send().finally(() => (sending = undefined));
    check();
  };

  return {
    ids: [id],
    kind: 'peer',
    meta: { id, kind: 'peer', forMs: o.peer.forMs, severity: o.peer.severity, labels: { ...o.peer.labels, peer: o.peer.name }, alert: true, ...(o.peer.runbook ? { runbook: o.peer.runbook } : {}) },
    async start(r) {
      report = r;
      beat();
      timer = setInterval(beat, Math.min(o.peer.intervalMs, Math.max(250, o.peer.timeoutMs / 4)));
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await sending;
    },
    received(from) {
      if (stopped) return;
      o.store.heartbeatSeen(o.peer.name, o.clock());
      o.log?.('heartbeat received', { from });
      if (lastOk === false) check();
    },
    lastSeenMs,
  };
}
