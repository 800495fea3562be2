/**
 * `berth backup run`: one restic snapshot per source, each dump streamed straight into
 * `restic backup --stdin`. A failing source does not stop the others; the run is `partial`
 * then, and is never reported as a success. Runbook: record run → init repo → each source → record → audit.
 */
import os from 'node:os';
import { Writable } from 'node:stream';
import { z } from 'zod';
import { isProcessAlive } from '../deploy/lock.js';
import { formatBytes } from '../lib/bytes.js';
import { BerthError } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { formatMs, formatUtcMinute } from '../lib/time.js';
import { berthVersion } from '../lib/version.js';
import type { BackupSource } from '../project/backup-schema.js';
import type { BackupResult, BackupRunKind, BackupRunStatus } from '../store/backups.js';
import { lockWaitOf, requireBackup, selectSources, sourceContext, type BackupContext } from './context.js';
import { refuseWhilePartlyRestored } from './held.js';
import { waitingForLock } from './lock-wait.js';
import { startProgress, streaming } from './progress.js';
import type { BackupSummary, Restic } from './restic.js';
import { snapshotTags } from './restic-args.js';
import { ownSnapshots } from './replica-name.js';
import { sourceDrivers, type Facts } from './sources/index.js';

export interface SourceOutcome {
  readonly source: string;
  readonly type: string;
  readonly status: 'succeeded' | 'failed';
  readonly snapshotId?: string;
  readonly bytes?: number;
  readonly dataAdded?: number;
  readonly durationMs: number;
  readonly suspect?: string;
  readonly error?: string;
  readonly hint?: string;
}

export interface RunOutcome {
  readonly runId: string;
  readonly kind: BackupRunKind;
  readonly status: BackupRunStatus;
  readonly repository: string;
  readonly results: readonly SourceOutcome[];
  readonly durationMs: number;
}

/** A RunOutcome received from elsewhere (the agent's control socket), checked at the boundary. */
export const runOutcomeSchema: z.ZodType<RunOutcome> = z.object({
  runId: z.string(),
  kind: z.enum(['backup', 'safety']),
  status: z.enum(['running', 'succeeded', 'partial', 'failed', 'interrupted']),
  repository: z.string(),
  durationMs: z.number(),
  results: z.array(
    z.object({
      source: z.string(),
      type: z.string(),
      status: z.enum(['succeeded', 'failed']),
      snapshotId: z.string().optional(),
      bytes: z.number().optional(),
      dataAdded: z.number().optional(),
      durationMs: z.number(),
      suspect: z.string().optional(),
      error: z.string().optional(),
      hint: z.string().optional(),
    }),
  ),
});

export interface RunOptions {
  readonly sources?: readonly string[];
  readonly kind?: BackupRunKind;
  /** Create the repository even where snapshots were stored before (it is gone: a new one is wanted). */
  readonly init?: boolean;
}

/**
 * Whether the process that made a run may still be at it: alive on this host, or on another host
 * (a shared state directory), whose pids say nothing here and which is taken at its word.
 */
export const runnerMayBeAlive = (run: { readonly pid: number; readonly host: string }): boolean => run.host !== os.hostname() || isProcessAlive(run.pid);

export async function runBackup(ctx: BackupContext, opts: RunOptions = {}): Promise<RunOutcome> {
  const cfg = requireBackup(ctx.project);
  // The config last: its snapshot carries the newest backup record of every other source, this run's included.
  const sources = selectSources(ctx, opts.sources).sort((a, b) => Number(a.type === 'config') - Number(b.type === 'config'));
  const kind = opts.kind ?? 'backup';
  const interrupted = ctx.backups.markInterrupted(ctx.project.name, runnerMayBeAlive);
  if (interrupted.length) ctx.report.warn(`marked ${interrupted.length} earlier run(s) interrupted (their process is gone): ${interrupted.join(', ')}`);
  const runId = newId(ctx.clock);
  const t0 = ctx.clock();
  ctx.backups.startRun({ id: runId, project: ctx.project.name, kind, user: ctx.user, pid: ctx.pid, host: ctx.host, repository: cfg.repository });
  const results: SourceOutcome[] = [];
  let restic: Restic;
  try {
    restic = ctx.restic();
    if (await restic.ensureInit(() => refuseToRecreate(ctx, cfg.repository, opts.init))) ctx.report.done(`created restic repository ${cfg.repository}`);
    // On a backup host: not among copies of the primary under this project's name.
    else if (ctx.project.replicate) await ownSnapshots(ctx.project, restic);
  } catch (err) {
    finish(ctx, runId, kind, 'failed', results, (err as Error).message);
    throw err;
  }
  for (const source of sources) {
    const { outcome, fatal } = await backupOne(ctx, restic, source, runId, kind);
    results.push(outcome);
    if (fatal) {
      // The repository itself refused (wrong password, missing), or restic is not there: every other source would fail the same way.
      finish(ctx, runId, kind, results.some((r) => r.status === 'succeeded') ? 'partial' : 'failed', results, fatal.message);
      throw fatal;
    }
  }
  const ok = results.filter((r) => r.status === 'succeeded').length;
  const status: BackupRunStatus = ok === results.length ? 'succeeded' : ok > 0 ? 'partial' : 'failed';
  const failed = results.filter((r) => r.status === 'failed');
  finish(ctx, runId, kind, status, results, failed.length ? failed.map((f) => `${f.source}: ${f.error}`).join('; ') : undefined);
  return { runId, kind, status, repository: cfg.repository, results, durationMs: ctx.clock() - t0 };
}

/**
 * A repository missing where this host stored snapshots before is most often a disk that is not
 * mounted (or a wrong sftp path): creating a new one there would put the backups on the disk
 * beneath and leave the real repository behind. Only `--init` says a new one is wanted.
 */
function refuseToRecreate(ctx: BackupContext, repository: string, init: boolean | undefined): void {
  const last = ctx.backups.lastStoredIn(repository);
  if (last === undefined || init) return;
  throw new BerthError(
    'REPOSITORY',
    `the repository ${repository} is missing, but this host stored snapshots there until ${formatUtcMinute(last)}`,
    'is its disk mounted (or the sftp path right)? To start a new, empty repository there, run `berth backup run --init`',
  );
}

function finish(ctx: BackupContext, runId: string, kind: BackupRunKind, status: BackupRunStatus, results: readonly SourceOutcome[], error?: string): void {
  ctx.backups.finishRun(runId, status, error);
  ctx.audit.append({
    user: ctx.user,
    action: kind === 'safety' ? 'backup.safety' : 'backup.run',
    project: ctx.project.name,
    target: results.map((r) => r.source).join(',') || '*',
    outcome: status === 'succeeded' ? 'succeeded' : 'failed',
    details: { run: runId, status, ...(error && { error }), snapshots: Object.fromEntries(results.filter((r) => r.snapshotId).map((r) => [r.source, r.snapshotId!])) },
  });
}

async function backupOne(ctx: BackupContext, restic: Restic, source: BackupSource, runId: string, kind: BackupRunKind): Promise<{ outcome: SourceOutcome; fatal?: BerthError }> {
  const driver = sourceDrivers[source.type];
  const startedAt = ctx.clock();
  const previous = ctx.backups.lastResult(ctx.project.name, source.name);
  let bytes = 0;
  let facts: Facts = {};
  ctx.report.step(`${source.name}: ${source.type} → ${restic.repository}`);
  const stopProgress = startProgress(ctx.report, ctx.clock, source.name, streaming, () => bytes);
  // A safety snapshot's config carries no records: it is no regular backup.
  const sctx = sourceContext(ctx, source, kind === 'backup' ? runId : undefined);
  const tags = snapshotTags(ctx.project.name, source.name, berthVersion, kind);
  try {
    if (kind === 'backup') refuseWhilePartlyRestored(ctx, source.name);
    // restic refuses its lock before it stores anything; a dump it did not read is simply made again.
    const summary = await waitingForLock(source.name, lockWaitOf(ctx), async (): Promise<BackupSummary> => {
      bytes = 0;
      if (driver.direct && (await driver.direct.usable(sctx, restic))) {
        let direct: BackupSummary;
        ({ summary: direct, facts } = await driver.direct.backup(sctx, restic, { tags, host: ctx.host, ...(previous?.snapshotId && { previous: previous.snapshotId }) }, (n) => (bytes = n)));
        bytes = direct.total_bytes_processed;
        return direct;
      }
      return restic.backupStream({ filename: driver.filename(source), host: ctx.host, tags }, async (stdin, signal) => {
        const counter = forwardTo(stdin, (n) => (bytes += n));
        facts = await driver.dump(sctx, counter, signal);
        await new Promise<void>((resolve, reject) => counter.end((err?: Error | null) => (err ? reject(err) : resolve())));
      });
    });
    const suspect = suspectReason(bytes, facts, previous, requireBackup(ctx.project).suspectRatio);
    const outcome: SourceOutcome = { source: source.name, type: source.type, status: 'succeeded', snapshotId: summary.snapshot_id, bytes, dataAdded: summary.data_added, durationMs: ctx.clock() - startedAt, ...(suspect && { suspect }) };
    record(ctx, runId, source, startedAt, outcome, facts);
    const rate = bytes / Math.max(outcome.durationMs / 1000, 0.001);
    ctx.report.done(`${source.name}: snapshot ${summary.snapshot_id}, ${formatBytes(bytes)} (${formatBytes(summary.data_added)} new) in ${formatMs(outcome.durationMs)}, ${formatBytes(rate)}/s`);
    if (suspect) ctx.report.warn(`${source.name}: SUSPECT — ${suspect}`);
    return { outcome };
  } catch (err) {
    const e = err instanceof BerthError ? err : new BerthError('BACKUP', (err as Error).message, undefined, { cause: err });
    const outcome: SourceOutcome = { source: source.name, type: source.type, status: 'failed', durationMs: ctx.clock() - startedAt, error: e.message, ...(e.hint && { hint: e.hint }) };
    record(ctx, runId, source, startedAt, outcome, undefined);
    ctx.report.warn(`${source.name}: FAILED — ${e.message}`);
    const fatal = (e.code === 'REPOSITORY' && /wrong password|no restic repository|password file|is not set/.test(e.message)) || (e.code === 'CONFIG' && /^restic is not installed/.test(e.message));
    return { outcome, ...(fatal && { fatal: e }) };
  } finally {
    stopProgress();
  }
}

function record(ctx: BackupContext, runId: string, source: BackupSource, startedAt: number, o: SourceOutcome, facts: Facts | undefined): void {
  const r: BackupResult = {
    runId,
    source: source.name,
    type: source.type,
    status: o.status,
    startedAt,
    finishedAt: ctx.clock(),
    ...(o.snapshotId && { snapshotId: o.snapshotId }),
    ...(o.bytes !== undefined && { bytes: o.bytes }),
    ...(o.dataAdded !== undefined && { dataAdded: o.dataAdded }),
    ...(o.suspect && { suspect: o.suspect }),
    ...(facts && { facts }),
    ...(o.error && { error: o.error }),
  };
  ctx.backups.addResult(r);
}

/** Why a dump looks wrong: empty, no tables/files/keys, or far smaller than the previous one. */
export function suspectReason(bytes: number, facts: Facts, previous: Pick<BackupResult, 'bytes'> | undefined, ratio: number): string | undefined {
  if (bytes === 0) return 'the dump is empty';
  if (Array.isArray(facts.tables) && facts.tables.length === 0) return 'the database has no tables';
  const manifest = (facts.manifest ?? facts) as { files?: number };
  if (manifest.files === 0) return 'no files';
  if (previous?.bytes && bytes < previous.bytes * ratio) {
    return `${formatBytes(bytes)} is ${Math.round((bytes / previous.bytes) * 100)}% of the previous dump (${formatBytes(previous.bytes)}); under ${Math.round(ratio * 100)}% counts as suspect`;
  }
  return undefined;
}

/**
 * A writable that forwards to `target` with its backpressure, counting bytes. Once restic stops
 * reading, a write fails: the dump tool piped into it stops being read, and restic's exit aborts
 * the dump and says why (backupStream). The failed write is not an error event of its own: one
 * nobody listened to would end berth before it could record and report restic's error.
 */
function forwardTo(target: Writable, onBytes: (n: number) => void): Writable {
  const forward = new Writable({
    write(chunk: Buffer, _enc, cb) {
      onBytes(chunk.length);
      if (target.destroyed) return cb(new Error('the repository stopped reading'));
      if (target.write(chunk)) return cb();
      const done = (err?: Error) => {
        target.off('drain', ok);
        target.off('close', closed);
        cb(err);
      };
      const ok = () => done();
      const closed = () => done(new Error('the repository stopped reading'));
      target.once('drain', ok);
      target.once('close', closed);
    },
  });
  forward.on('error', () => undefined);
  return forward;
}
