/** Backup freshness: the age of the newest good backup (function injected by the agent) against `max_age`. */
import type { ProbeSpec } from '../../project/monitor-schema.js';
import type { PolledProbe } from '../types.js';

type BackupSpec = Extract<ProbeSpec, { kind: 'backup' }>;
export type LastGoodBackupAt = (source?: string) => number | undefined;

export function createBackupProbe(spec: BackupSpec, deps: { lastGoodBackupAt?: LastGoodBackupAt; clock: () => number }): PolledProbe {
  const what = spec.source ? `backup ${spec.source}` : 'backup';
  return {
    id: spec.id,
    kind: 'backup',
    intervalMs: spec.intervalMs,
    async run() {
      const at = deps.clock();
      if (!deps.lastGoodBackupAt) return { ok: false, summary: `${what}: this agent has no backup records to read`, atMs: at };
      const last = deps.lastGoodBackupAt(spec.source);
      if (last === undefined) return { ok: false, summary: `${what}: no good backup yet`, atMs: at };
      const ageH = Math.round(((at - last) / 3_600_000) * 10) / 10;
      const ok = at - last <= spec.maxAgeMs;
      return { ok, value: ageH, summary: `${what}: newest good one ${ageH} h old (${new Date(last).toISOString()})${ok ? '' : `, older than ${spec.maxAgeMs / 3_600_000} h`}`, atMs: at };
    },
  };
}
