/**
 * Backup health: the age of the newest good backup against `max_age`, and the outcome of the
 * newest `backup verify` (a failed restore drill or a damaged repository fails the probe until a
 * verify passes again). Both read from SQLite through functions the agent injects.
 */
import type { ProbeSpec } from '../../project/monitor-schema.js';
import type { PolledProbe } from '../types.js';

type BackupSpec = Extract<ProbeSpec, { kind: 'backup' }>;
export type LastGoodBackupAt = (source?: string) => number | undefined;
export type LastVerifyOf = (source?: string) => { readonly at: number; readonly ok: boolean; readonly reason?: string } | undefined;

export function createBackupProbe(spec: BackupSpec, deps: { lastGoodBackupAt?: LastGoodBackupAt; lastVerify?: LastVerifyOf; clock: () => number }): PolledProbe {
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
      const fresh = at - last <= spec.maxAgeMs;
      const verify = deps.lastVerify?.(spec.source);
      const verified = verify ? `; last verify ${new Date(verify.at).toISOString()} ${verify.ok ? 'passed' : `FAILED: ${verify.reason}`}` : '';
      const summary = `${what}: newest good one ${ageH} h old (${new Date(last).toISOString()})${fresh ? '' : `, older than ${spec.maxAgeMs / 3_600_000} h`}${verified}`;
      return { ok: fresh && verify?.ok !== false, value: ageH, summary, atMs: at };
    },
  };
}
