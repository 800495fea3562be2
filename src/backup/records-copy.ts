/**
 * A copy of the project's backup records outside the state database, carried by every config
 * snapshot: per source, its newest stored backup with the facts recorded at dump time (row counts,
 * checksums, digests), and the verifies of the last `validationWindowDays` with their drills. A
 * fresh host that restores the config takes it up, so right after `restore --all` it knows how old
 * its newest good backups are (the agent's backup probe does not call them missing), `backup
 * verify` can compare restore drills with what the old host recorded, and the success rate of
 * validation goes on from the old host's.
 */
import fs from 'node:fs';
import { z } from 'zod';
import { validationWindowDays, validationWindowStart, type AdoptedVerify, type BackupResult, type BackupRun, type BackupStore } from '../store/backups.js';

/** The copy's name inside the config source's tar. */
export const recordsCopyName = '.berth-backups.json';

const format = 'berth backup records v1';

const resultSchema = z
  .object({
    runId: z.string().min(1),
    source: z.string().min(1),
    type: z.string().min(1),
    snapshotId: z.string().regex(/^[0-9a-f]{8,64}$/),
    bytes: z.number().int().nonnegative().optional(),
    dataAdded: z.number().int().nonnegative().optional(),
    startedAt: z.number(),
    finishedAt: z.number(),
    suspect: z.string().optional(),
    facts: z.record(z.unknown()).optional(),
  })
  .strict();

const runSchema = z
  .object({
    id: z.string().min(1),
    status: z.enum(['succeeded', 'partial', 'failed', 'interrupted']),
    user: z.string(),
    pid: z.number().int(),
    host: z.string(),
    startedAt: z.number(),
    finishedAt: z.number().optional(),
  })
  .strict();

const drillSchema = z
  .object({
    source: z.string().min(1),
    snapshotId: z.string().min(1),
    status: z.enum(['passed', 'failed']),
    restoreMs: z.number().nonnegative(),
    bytes: z.number().int().nonnegative().optional(),
    details: z.unknown().optional(),
    error: z.string().optional(),
  })
  .strict();

const verifySchema = z
  .object({
    id: z.string().min(1),
    status: z.enum(['passed', 'failed']),
    startedAt: z.number(),
    finishedAt: z.number(),
    checkOk: z.boolean().optional(),
    error: z.string().optional(),
    otherRepository: z.string().optional(),
    drills: z.array(drillSchema),
  })
  .strict();

const copySchema = z
  .object({
    format: z.literal(format),
    project: z.string().min(1),
    /** The run the config snapshot carrying the copy belongs to. */
    run: runSchema,
    runs: z.array(runSchema),
    results: z.array(resultSchema),
    /** Finished verifies of the last validationWindowDays, newest first (copies made before they were carried have none). */
    verifies: z.array(verifySchema).optional(),
  })
  .strict();

/** At most this many verifies are carried (a verify a day for the window is 90). */
const carriedVerifies = 500;

export type RecordsCopy = z.infer<typeof copySchema>;

/**
 * The copy a config dump in run `runId` carries: the newest stored backup of each of `sources`
 * (their results in this run are recorded already: the config source runs last) and the runs they
 * belong to. The config's own result is not known yet; whoever takes the copy up adds it from the
 * snapshot they restored.
 */
export function recordsCopy(store: BackupStore, project: string, runId: string, sources: readonly string[], now: number): RecordsCopy | undefined {
  const current = store.run(runId);
  if (!current) return undefined;
  const runOf = (r: BackupRun) => ({ id: r.id, user: r.user, pid: r.pid, host: r.host, startedAt: r.startedAt, ...(r.finishedAt !== undefined && { finishedAt: r.finishedAt }) });
  // This run is still going: partial if a source failed before the config, else as good as its config snapshot.
  const failedHere = store.results(runId).some((r) => r.status === 'failed');
  const run = { ...runOf(current), finishedAt: now, status: failedHere ? ('partial' as const) : ('succeeded' as const) };
  // Each source's newest stored backup, of this run or of an earlier one that has ended.
  const runs = new Map<string, RecordsCopy['run']>();
  const results = sources.flatMap((source) => {
    const r = store.lastResult(project, source);
    if (!r?.snapshotId) return [];
    if (r.runId !== runId && !runs.has(r.runId)) {
      const earlier = store.run(r.runId);
      if (!earlier || earlier.status === 'running') return [];
      runs.set(r.runId, { ...runOf(earlier), status: earlier.status });
    }
    // Stored, so succeeded with no error; the status is implied.
    const { status: _status, error: _error, facts, ...kept } = r;
    return [{ ...kept, snapshotId: r.snapshotId, ...(facts !== undefined && { facts: facts as Record<string, unknown> }) }];
  });
  return { format, project, run, runs: [...runs.values()], results, verifies: carriedVerifiesOf(store, project, now) };
}

/** The finished verifies of the window, with their drills; a drill's mismatches cut to the first 20. */
function carriedVerifiesOf(store: BackupStore, project: string, now: number): NonNullable<RecordsCopy['verifies']> {
  const since = validationWindowStart(now);
  return store.allVerifies(project, carriedVerifies).flatMap((v) => {
    if (v.status === 'running' || v.finishedAt === undefined || v.finishedAt < since) return [];
    const drills = store.drills(v.id).map(({ verifyId: _v, details, ...d }) => {
      const shown = details as { mismatches?: unknown } | undefined;
      const cut = shown && Array.isArray(shown.mismatches) && shown.mismatches.length > 20 ? { ...shown, mismatches: shown.mismatches.slice(0, 20) } : details;
      return { ...d, ...(cut !== undefined && { details: cut }) };
    });
    const { project: _p, checkOutput: _c, status, finishedAt, ...kept } = v;
    return [{ ...kept, status, finishedAt, drills }];
  });
}

/** The config snapshot the copy came in, as the restore saw it. */
export interface CarryingSnapshot {
  readonly id: string;
  /** restic's snapshot time (when its backup started), ms since the epoch. */
  readonly time: number;
  readonly bytes: number;
  /** The restored tar's digests: the facts the config's own drill compares with. */
  readonly manifest: unknown;
}

/**
 * A copy a config restore left at `file`, taken up when this host holds no backup records of
 * `project` yet (a fresh host), with the config snapshot's own result added; then removed. A host
 * with records of its own keeps them and drops the copy. Never fails the restore: says what
 * happened, or nothing when there is no copy or nothing was taken up.
 */
export function takeUpRecords(store: BackupStore, project: string, file: string, carrying: CarryingSnapshot, configSource: string): { level: 'info' | 'warn'; message: string } | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    // A safety snapshot taken just before this restore is no record of its own.
    if (store.runs(project, 1, 'backup').length > 0) return undefined;
    let parsed: RecordsCopy;
    try {
      parsed = copySchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
    } catch (err) {
      const why = err instanceof z.ZodError ? `${err.issues[0]?.path.join('.') || 'copy'}: ${err.issues[0]?.message}` : (err as Error).message;
      return { level: 'warn', message: `${file}: the copy of the backup records is damaged (${why}); not taken up: the next \`berth backup run\` records new ones` };
    }
    if (parsed.project !== project) return { level: 'warn', message: `${file}: the copy of the backup records is of project ${parsed.project}, not ${project}; not taken up` };
    const asRun = (r: RecordsCopy['run']): BackupRun => ({ ...r, project, kind: 'backup' });
    const results: BackupResult[] = [
      ...parsed.results.map((r) => ({ ...r, status: 'succeeded' as const })),
      { runId: parsed.run.id, source: configSource, type: 'config', status: 'succeeded', snapshotId: carrying.id, bytes: carrying.bytes, startedAt: carrying.time, finishedAt: parsed.run.finishedAt ?? carrying.time, facts: { manifest: carrying.manifest } },
    ];
    const verifies: AdoptedVerify[] = (parsed.verifies ?? []).map((v) => ({ ...v, project }));
    const added = store.adopt([asRun(parsed.run), ...parsed.runs.map(asRun)], results, verifies);
    const verified = added.verifies ? `, and ${added.verifies} verify(ies) of the last ${validationWindowDays} days` : '';
    return { level: 'info', message: `took up the backup records of ${added.results} snapshot(s) made on ${parsed.run.host}${verified}: their ages and dump-time facts, for the backup probe and \`berth backup verify\`` };
  } finally {
    fs.rmSync(file, { force: true });
  }
}
