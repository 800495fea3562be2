/**
 * Backup health, per watched source: the newest backup attempt must not have failed or come out
 * suspect (either fails the probe at once, with the reason; a failure the agent's nightly job
 * retries fails it only once that retry is 5 min overdue, `backupRetryRunMs`), the newest good backup must be
 * younger than `max_age`, and the newest `backup verify` must not have failed (a failed restore
 * drill or a damaged repository fails the probe until a verify passes again). Without `source:`,
 * every source of the project is watched: one failing night after night (a database down, a
 * source left partly restored) fails the probe although the others are backed up. Everything is
 * read from SQLite through the records the agent injects.
 */
import { monitorDefaults, type ProbeSpec } from '../../project/monitor-schema.js';
import type { LastBackupAttempt, LastVerify } from '../../store/backups.js';
import type { PolledProbe } from '../types.js';

type BackupSpec = Extract<ProbeSpec, { kind: 'backup' }>;

/** What the probe reads about a project's backups (the agent gives it SQLite-backed ones). */
export interface BackupRecords {
  /** The newest good backup (stored, not suspect) of `source`, or of any source without it; ms since the epoch. */
  lastGoodAt(source?: string): number | undefined;
  /** The newest attempt: its own result, or a run that failed before any source. */
  lastAttempt(source: string): LastBackupAttempt | undefined;
  /** The newest finished verify (of any source without `source`). */
  lastVerify(source?: string): LastVerify | undefined;
  /** Whether a failed restore left `source` partly restored (not backed up until restored or accepted). */
  partlyRestored(source: string): { readonly sinceMs: number; readonly by: string } | undefined;
}

export function createBackupProbe(spec: BackupSpec, deps: { backups?: BackupRecords; clock: () => number }): PolledProbe {
  const what = spec.source ? `backup ${spec.source}` : 'backup';
  const maxH = spec.maxAgeMs / 3_600_000;
  // A source backed up on a schedule of its own is held to that schedule's limit.
  const maxAgeOf = (source: string) => spec.sourceMaxAgeMs?.[source] ?? spec.maxAgeMs;
  const limitOf = (source: string) => (spec.sourceMaxAgeMs?.[source] === undefined ? `${maxH} h` : ageLimit(spec.sourceMaxAgeMs[source]!));
  return {
    id: spec.id,
    kind: 'backup',
    intervalMs: spec.intervalMs,
    async run() {
      const at = deps.clock();
      const records = deps.backups;
      if (!records) return { ok: false, summary: `${what}: this agent has no backup records to read`, atMs: at };
      const verify = records.lastVerify(spec.source);
      const verified = verify ? `; last verify ${iso(verify.at)} ${verify.ok ? 'passed' : `FAILED: ${verify.reason}`}` : '';
      const ageH = (last: number) => Math.round(((at - last) / 3_600_000) * 10) / 10;
      const when = (last: number) => `${ageH(last)} h old (${iso(last)})`;
      const watched = spec.source ? [spec.source] : spec.sources?.length ? spec.sources : undefined;
      if (!watched) {
        // A hand-built spec that names no sources: the newest good backup of any source.
        const last = records.lastGoodAt();
        if (last === undefined) return { ok: false, summary: `${what}: no good backup yet${verified}`, atMs: at };
        const fresh = at - last <= spec.maxAgeMs;
        return { ok: fresh && verify?.ok !== false, value: ageH(last), summary: `${what}: newest good one ${when(last)}${fresh ? '' : `, older than ${maxH} h`}${verified}`, atMs: at };
      }
      // A source a failed restore left partly restored fails the probe at once: its data may be partial, and it is not backed up.
      const partial = watched.flatMap((source) => {
        const p = records.partlyRestored(source);
        return p ? [`${source} PARTLY RESTORED since ${iso(p.sinceMs)} by ${p.by} (a restore failed part-way; not backed up until a restore of it succeeds or \`berth backup run --source ${source} --accept-partial\`)`] : [];
      });
      if (partial.length) return { ok: false, summary: `${what}: ${partial.join('; ')}`, atMs: at };

      // A failure the nightly job backs up again soon is said, not alerted: the retry may store it.
      const retryDue = (a: LastBackupAttempt | undefined) => (a && !a.ok && a.retryAt !== undefined && at < a.retryAt + monitorDefaults.backupRetryRunMs ? a.retryAt : undefined);
      const states = watched.map((source) => {
        const attempt = records.lastAttempt(source);
        return { source, last: records.lastGoodAt(source), attempt, retryAt: retryDue(attempt) };
      });
      // In a probe of one source its name is already said; of several, each problem names its source.
      const own = (source: string) => (spec.source ? '' : `${source}'s `);
      const due = states.flatMap(({ source, attempt, retryAt }) => (attempt && retryAt !== undefined ? [`${own(source)}last backup failed at ${iso(attempt.at)}, retry due ${iso(retryAt)}`] : []));
      const problems = states.flatMap(({ source, last, attempt, retryAt }) => {
        const good = last === undefined ? 'no good backup yet' : `newest good one ${when(last)}`;
        // A failure being retried is said in `due`; no good backup yet, or too old a one, still counts.
        if (attempt && !attempt.ok && retryAt === undefined) return [`${own(source)}last backup FAILED at ${iso(attempt.at)}: ${attempt.error ?? 'no reason recorded'} (${good})`];
        if (attempt?.suspect) return [`${own(source)}last backup (${iso(attempt.at)}) is SUSPECT: ${attempt.suspect} (${good})`];
        if (last === undefined) return [spec.source ? good : `${source} has ${good}`];
        if (at - last > maxAgeOf(source)) return [spec.source ? `${good}, older than ${limitOf(source)}` : `${source}'s newest good one is ${when(last)}, older than ${limitOf(source)}`];
        return [];
      });
      const known = states.filter((s) => s.last !== undefined);
      const oldest = known.length === states.length ? known.reduce((a, b) => (b.last! < a.last! ? b : a)) : undefined;
      const value = oldest ? { value: ageH(oldest.last!) } : {};
      // Without problems every source has a good backup, so `oldest` is there.
      const scheduled = watched.filter((s) => spec.sourceMaxAgeMs?.[s] !== undefined).map((s) => `${s}'s within ${limitOf(s)}`);
      const within = scheduled.length ? `within ${maxH} h (${scheduled.join(', ')}, by ${scheduled.length === 1 ? 'its' : 'their'} own schedule)` : `within ${maxH} h`;
      const said = problems.length ? problems.join('; ') : spec.source ? `newest good one ${when(oldest!.last!)}` : `every source (${watched.length}) has a good one ${within}; the oldest, ${oldest!.source}'s, is ${when(oldest!.last!)}`;
      const pending = due.length ? `; ${due.join('; ')}` : '';
      return { ok: !problems.length && verify?.ok !== false, ...value, summary: `${what}: ${said}${pending}${verified}`, atMs: at };
    },
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** A limit as said: whole minutes under an hour, else hours. */
const ageLimit = (ms: number) => (ms < 3_600_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round((ms / 3_600_000) * 10) / 10} h`);
