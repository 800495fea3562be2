/**
 * On a backup host: the replica's state as `berth replicate status` computes it from SQLite
 * (`replicate/status.ts`): failing when the latest pull failed, behind when the newest copy is
 * older than `max_lag` or nothing was copied yet. The agent injects the reading.
 */
import type { ProbeSpec } from '../../project/monitor-schema.js';
import type { PolledProbe } from '../types.js';

type ReplicationSpec = Extract<ProbeSpec, { kind: 'replication' }>;

export interface ReplicationReading {
  readonly state: 'ok' | 'behind' | 'failing';
  /** One line: why (the pull's error, the age against max_lag). */
  readonly reason: string;
  /** now − newest replicated snapshot time. */
  readonly ageMs?: number;
}
export type ReplicationOf = () => ReplicationReading;

export function createReplicationProbe(spec: ReplicationSpec, deps: { replication?: ReplicationOf; clock: () => number }): PolledProbe {
  return {
    id: spec.id,
    kind: 'replication',
    intervalMs: spec.intervalMs,
    async run() {
      const atMs = deps.clock();
      if (!deps.replication) return { ok: false, summary: 'replication: this agent has no replication records to read', atMs };
      const r = deps.replication();
      return { ok: r.state === 'ok', summary: `replication ${r.state}: ${r.reason}`, ...(r.ageMs !== undefined && { value: Math.round((r.ageMs / 3_600_000) * 10) / 10 }), atMs };
    },
  };
}
