/**
 * Backup health: the age of the newest good backup against `max_age`, and the outcome of the
 * newest `backup verify` (a failed restore drill or a damaged repository fails the probe until a
 * verify passes again). Without `source:`, every source of the project must have a good backup
 * that young: one failing night after night (a database down, a source left partly restored)
 * fails the probe although the others are backed up. Both read from SQLite through functions the
 * agent injects.
 */
import type { ProbeSpec } from '../../project/monitor-schema.js';
import type { PolledProbe } from '../types.js';

type BackupSpec = Extract<ProbeSpec, { kind: 'backup' }>;
/** The newest good backup of `source` (of any source without it), ms since the epoch. */
export type LastGoodBackupAt = (source?: string) => number | undefined;
export type LastVerifyOf = (source?: string) => { readonly at: number; readonly ok: boolean; readonly reason?: string } | undefined;
/** Whether a failed restore left `source` partly restored (not backed up until restored or accepted). */
export type PartlyRestoredOf = (source: string) => { readonly sinceMs: number; readonly by: string } | undefined;

export function createBackupProbe(
  spec: BackupSpec,
  deps: { lastGoodBackupAt?: LastGoodBackupAt; lastVerify?: LastVerifyOf; partlyRestored?: PartlyRestoredOf; clock: () => number },
): PolledProbe {
  const what = spec.source ? `backup ${spec.source}` : 'backup';
  const maxH = spec.maxAgeMs / 3_600_000;
  return {
    id: spec.id,
    kind: 'backup',
    intervalMs: spec.intervalMs,
    async run() {
      const at = deps.clock();
      if (!deps.lastGoodBackupAt) return { ok: false, summary: `${what}: this agent has no backup records to read`, atMs: at };
      const verify = deps.lastVerify?.(spec.source);
      const verified = verify ? `; last verify ${new Date(verify.at).toISOString()} ${verify.ok ? 'passed' : `FAILED: ${verify.reason}`}` : '';
      const ageH = (last: number) => Math.round(((at - last) / 3_600_000) * 10) / 10;
      const when = (last: number) => `${ageH(last)} h old (${new Date(last).toISOString()})`;
      const every = !spec.source && spec.sources?.length ? spec.sources : undefined;
      // A source a failed restore left partly restored fails the probe at once: its data may be partial, and it is not backed up.
      const partial = (spec.source ? [spec.source] : (every ?? [])).flatMap((source) => {
        const p = deps.partlyRestored?.(source);
        return p ? [`${source} PARTLY RESTORED since ${new Date(p.sinceMs).toISOString()} by ${p.by} (a restore failed part-way; not backed up until a restore of it succeeds or \`berth backup run --source ${source} --accept-partial\`)`] : [];
      });
      if (partial.length) return { ok: false, summary: `${what}: ${partial.join('; ')}`, atMs: at };
      if (every) {
        const newest = every.map((source) => ({ source, last: deps.lastGoodBackupAt!(source) }));
        const stale = newest.filter((n) => n.last === undefined || at - n.last > spec.maxAgeMs);
        const oldest = newest.reduce((a, b) => ((b.last ?? -Infinity) < (a.last ?? -Infinity) ? b : a));
        const summary = stale.length
          ? `${what}: ${stale.map((n) => (n.last === undefined ? `${n.source} has no good backup yet` : `${n.source}'s newest good one is ${when(n.last)}, older than ${maxH} h`)).join('; ')}`
          : `${what}: every source (${every.length}) has a good one within ${maxH} h; the oldest, ${oldest.source}'s, is ${when(oldest.last!)}`;
        return { ok: !stale.length && verify?.ok !== false, ...(oldest.last !== undefined && { value: ageH(oldest.last) }), summary: summary + verified, atMs: at };
      }
      const last = deps.lastGoodBackupAt(spec.source);
      if (last === undefined) return { ok: false, summary: `${what}: no good backup yet`, atMs: at };
      const fresh = at - last <= spec.maxAgeMs;
      const summary = `${what}: newest good one ${when(last)}${fresh ? '' : `, older than ${maxH} h`}${verified}`;
      return { ok: fresh && verify?.ok !== false, value: ageH(last), summary, atMs: at };
    },
  };
}
