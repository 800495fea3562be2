/**
 * Backup runs, per-source results, verify runs and restore drills. A run row is written
 * `running` before any dump starts, so a killed run is found and marked `interrupted` later.
 */
import type { Clock } from '../lib/time.js';
import type { Db } from './db.js';
import { createPartlyRestoredStore } from './partly-restored.js';

export type BackupRunKind = 'backup' | 'safety';
export type BackupRunStatus = 'running' | 'succeeded' | 'partial' | 'failed' | 'interrupted';

export interface BackupRun {
  readonly id: string;
  readonly project: string;
  readonly kind: BackupRunKind;
  readonly status: BackupRunStatus;
  readonly user: string;
  readonly pid: number;
  readonly host: string;
  /** Where it wrote (berth.yaml's `backup.repository`); unknown for runs before schema v7. */
  readonly repository?: string;
  readonly startedAt: number;
  readonly finishedAt?: number;
  readonly error?: string;
}

export interface BackupResult {
  readonly runId: string;
  readonly source: string;
  readonly type: string;
  readonly status: 'succeeded' | 'failed';
  readonly snapshotId?: string;
  readonly bytes?: number;
  readonly dataAdded?: number;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly suspect?: string;
  readonly facts?: unknown;
  readonly error?: string;
}

export interface DrillRecord {
  readonly verifyId: string;
  readonly source: string;
  readonly snapshotId: string;
  readonly status: 'passed' | 'failed';
  readonly restoreMs: number;
  readonly bytes?: number;
  readonly details?: unknown;
  readonly error?: string;
}

/** A finished verify made elsewhere, with its drills (carried by a config snapshot). */
export type AdoptedVerify = VerifyRecord & { readonly finishedAt: number; readonly drills: readonly Omit<DrillRecord, 'verifyId'>[] };

export interface VerifyRecord {
  readonly id: string;
  readonly project: string;
  readonly status: 'running' | 'passed' | 'failed';
  readonly startedAt: number;
  readonly finishedAt?: number;
  readonly checkOk?: boolean;
  readonly checkOutput?: string;
  readonly error?: string;
  /** The repository checked when it was not backup.repository (`backup verify --repository`). */
  readonly otherRepository?: string;
}

export interface BackupStore {
  startRun(run: Pick<BackupRun, 'id' | 'project' | 'kind' | 'user' | 'pid' | 'host' | 'repository'>): BackupRun;
  /** When a snapshot was last stored in this repository by this host (any project), if ever. */
  lastStoredIn(repository: string): number | undefined;
  finishRun(id: string, status: BackupRunStatus, error?: string): void;
  /** When the nightly job backs up this run's failed sources again (ms since the epoch), or none (undefined). */
  setRetryAt(id: string, at: number | undefined): void;
  /** Runs left `running` by a process that is gone become `interrupted`; returns their ids. */
  markInterrupted(project: string, isRunning: (run: BackupRun) => boolean): string[];
  addResult(result: BackupResult): void;
  /** Newest first; only those of `kind` when given. */
  runs(project: string, limit?: number, kind?: BackupRunKind): BackupRun[];
  results(runId: string): BackupResult[];
  /** The newest successful result of a source in a regular (not safety) run. */
  lastResult(project: string, source: string): BackupResult | undefined;
  /** The result that produced a snapshot (matched by full id or id prefix, either way). */
  resultBySnapshot(snapshotId: string): BackupResult | undefined;
  run(id: string): BackupRun | undefined;
  /**
   * Records made elsewhere (another host's, carried by a config snapshot), written as they are in
   * one transaction; a run, result or verify this store holds already is left as it is. Returns how
   * many results, and how many verifies, were new.
   */
  adopt(runs: readonly BackupRun[], results: readonly BackupResult[], verifies?: readonly AdoptedVerify[]): { results: number; verifies: number };
  startVerify(v: Pick<VerifyRecord, 'id' | 'project' | 'otherRepository'>): void;
  finishVerify(id: string, patch: Pick<VerifyRecord, 'status' | 'checkOk' | 'checkOutput' | 'error'>): void;
  addDrill(d: DrillRecord): void;
  /** The newest verifies of the project's own repository (backup.repository), newest first. */
  verifies(project: string, limit?: number): VerifyRecord[];
  /** The newest finished verify of each other repository checked (`backup verify --repository`), newest first. */
  otherVerifies(project: string): VerifyRecord[];
  /** Every verify of the project, of its own repository and of others, newest first. */
  allVerifies(project: string, limit: number): VerifyRecord[];
  drills(verifyId: string): DrillRecord[];
}

const resultColumns = `(run_id, source, type, status, snapshot_id, bytes, data_added, started_at, finished_at, suspect, facts, error)
  VALUES (@runId, @source, @type, @status, @snapshotId, @bytes, @dataAdded, @startedAt, @finishedAt, @suspect, @facts, @error)`;

const drillColumns = `(verify_id, source, snapshot_id, status, restore_ms, bytes, details, error)
  VALUES (@verifyId, @source, @snapshotId, @status, @restoreMs, @bytes, @details, @error)`;

const drillParams = (d: DrillRecord) => ({
  verifyId: d.verifyId,
  source: d.source,
  snapshotId: d.snapshotId,
  status: d.status,
  restoreMs: Math.round(d.restoreMs),
  bytes: d.bytes ?? null,
  details: d.details === undefined ? null : JSON.stringify(d.details),
  error: d.error ?? null,
});

const resultParams = (r: BackupResult) => ({
  runId: r.runId,
  source: r.source,
  type: r.type,
  status: r.status,
  snapshotId: r.snapshotId ?? null,
  bytes: r.bytes ?? null,
  dataAdded: r.dataAdded ?? null,
  startedAt: r.startedAt,
  finishedAt: r.finishedAt,
  suspect: r.suspect ?? null,
  facts: r.facts === undefined ? null : JSON.stringify(r.facts),
  error: r.error ?? null,
});

export function createBackupStore(db: Db, clock: Clock): BackupStore {
  const q = {
    insertRun: db.prepare(`INSERT INTO backup_runs (id, project, kind, status, user, pid, host, repository, started_at) VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?)`),
    lastStoredIn: db.prepare(
      `SELECT MAX(r.finished_at) AS at FROM backup_results r JOIN backup_runs u ON u.id = r.run_id
       WHERE u.repository = ? AND r.status = 'succeeded' AND r.snapshot_id IS NOT NULL`,
    ),
    finishRun: db.prepare(`UPDATE backup_runs SET status = ?, finished_at = ?, error = ? WHERE id = ?`),
    run: db.prepare(`SELECT * FROM backup_runs WHERE id = ?`),
    adoptRun: db.prepare(
      `INSERT OR IGNORE INTO backup_runs (id, project, kind, status, user, pid, host, repository, started_at, finished_at, error)
       VALUES (@id, @project, @kind, @status, @user, @pid, @host, @repository, @startedAt, @finishedAt, @error)`,
    ),
    setRetryAt: db.prepare(`UPDATE backup_runs SET retry_at = ? WHERE id = ?`),
    runningRuns: db.prepare(`SELECT * FROM backup_runs WHERE project = ? AND status = 'running'`),
    runs: db.prepare(`SELECT * FROM backup_runs WHERE project = @project AND (@kind IS NULL OR kind = @kind) ORDER BY started_at DESC, id DESC LIMIT @limit`),
    insertResult: db.prepare(`INSERT INTO backup_results ${resultColumns}`),
    adoptResult: db.prepare(`INSERT OR IGNORE INTO backup_results ${resultColumns}`),
    results: db.prepare(`SELECT * FROM backup_results WHERE run_id = ? ORDER BY source`),
    lastResult: db.prepare(
      `SELECT r.* FROM backup_results r JOIN backup_runs u ON u.id = r.run_id
       WHERE u.project = ? AND u.kind = 'backup' AND r.source = ? AND r.status = 'succeeded' ORDER BY r.finished_at DESC LIMIT 1`,
    ),
    // Either id may be the short one (restic 0.14 reports short ids; a copy names its original by the full one).
    bySnapshot: db.prepare(
      `SELECT * FROM backup_results WHERE snapshot_id = @id OR substr(snapshot_id, 1, length(@id)) = @id OR substr(@id, 1, length(snapshot_id)) = snapshot_id
       ORDER BY finished_at DESC LIMIT 1`,
    ),
    insertVerify: db.prepare(`INSERT INTO backup_verifies (id, project, status, started_at, other_repository) VALUES (?, ?, 'running', ?, ?)`),
    finishVerify: db.prepare(`UPDATE backup_verifies SET status = ?, finished_at = ?, check_ok = ?, check_output = ?, error = ? WHERE id = ?`),
    insertDrill: db.prepare(`INSERT INTO backup_drills ${drillColumns}`),
    adoptDrill: db.prepare(`INSERT OR IGNORE INTO backup_drills ${drillColumns}`),
    adoptVerify: db.prepare(
      `INSERT OR IGNORE INTO backup_verifies (id, project, status, started_at, finished_at, check_ok, error, other_repository)
       VALUES (@id, @project, @status, @startedAt, @finishedAt, @checkOk, @error, @otherRepository)`,
    ),
    verifies: db.prepare(`SELECT * FROM backup_verifies WHERE project = ? AND other_repository IS NULL ORDER BY started_at DESC LIMIT ?`),
    allVerifies: db.prepare(`SELECT * FROM backup_verifies WHERE project = ? ORDER BY started_at DESC LIMIT ?`),
    otherVerifies: db.prepare(
      `SELECT * FROM backup_verifies v WHERE project = @project AND other_repository IS NOT NULL AND status != 'running'
         AND started_at = (SELECT max(started_at) FROM backup_verifies w WHERE w.project = @project AND w.other_repository = v.other_repository AND w.status != 'running')
       ORDER BY started_at DESC`,
    ),
    drills: db.prepare(`SELECT * FROM backup_drills WHERE verify_id = ? ORDER BY source`),
  };
  return {
    startRun(run) {
      const startedAt = clock();
      q.insertRun.run(run.id, run.project, run.kind, run.user, run.pid, run.host, run.repository ?? null, startedAt);
      return { ...run, status: 'running', startedAt };
    },
    lastStoredIn(repository) {
      return (q.lastStoredIn.get(repository) as { at: number | null }).at ?? undefined;
    },
    finishRun(id, status, error) {
      q.finishRun.run(status, clock(), error ?? null, id);
    },
    setRetryAt(id, at) {
      q.setRetryAt.run(at ?? null, id);
    },
    markInterrupted(project, isRunning) {
      const stale = (q.runningRuns.all(project) as RunRow[]).map(toRun).filter((r) => !isRunning(r));
      for (const r of stale) q.finishRun.run('interrupted', clock(), 'the process running this backup ended before it finished', r.id);
      return stale.map((r) => r.id);
    },
    addResult(r) {
      q.insertResult.run(resultParams(r));
    },
    run(id) {
      const row = q.run.get(id) as RunRow | undefined;
      return row && toRun(row);
    },
    adopt(runs, results, verifies = []) {
      const added = { results: 0, verifies: 0 };
      db.transaction(() => {
        for (const r of runs) q.adoptRun.run({ ...r, repository: r.repository ?? null, finishedAt: r.finishedAt ?? null, error: r.error ?? null });
        for (const r of results) added.results += q.adoptResult.run(resultParams(r)).changes;
        for (const v of verifies) {
          const params = { id: v.id, project: v.project, status: v.status, startedAt: v.startedAt, finishedAt: v.finishedAt, checkOk: v.checkOk === undefined ? null : Number(v.checkOk), error: v.error ?? null, otherRepository: v.otherRepository ?? null };
          if (q.adoptVerify.run(params).changes === 0) continue;
          added.verifies++;
          for (const d of v.drills) q.adoptDrill.run(drillParams({ ...d, verifyId: v.id }));
        }
      }).immediate();
      return added;
    },
    runs: (project, limit = 20, kind) => (q.runs.all({ project, limit, kind: kind ?? null }) as RunRow[]).map(toRun),
    results: (runId) => (q.results.all(runId) as ResultRow[]).map(toResult),
    lastResult(project, source) {
      const row = q.lastResult.get(project, source) as ResultRow | undefined;
      return row && toResult(row);
    },
    resultBySnapshot(id) {
      const row = q.bySnapshot.get({ id }) as ResultRow | undefined;
      return row && toResult(row);
    },
    startVerify(v) {
      q.insertVerify.run(v.id, v.project, clock(), v.otherRepository ?? null);
    },
    finishVerify(id, p) {
      q.finishVerify.run(p.status, clock(), p.checkOk === undefined ? null : Number(p.checkOk), p.checkOutput ?? null, p.error ?? null, id);
    },
    addDrill(d) {
      q.insertDrill.run(drillParams(d));
    },
    verifies: (project, limit = 10) => (q.verifies.all(project, limit) as VerifyRow[]).map(toVerify),
    allVerifies: (project, limit) => (q.allVerifies.all(project, limit) as VerifyRow[]).map(toVerify),
    otherVerifies: (project) => (q.otherVerifies.all({ project }) as VerifyRow[]).map(toVerify),
    drills: (verifyId) => (q.drills.all(verifyId) as DrillRow[]).map(toDrill),
  };
}

/**
 * When the newest good backup (succeeded, not suspect) of a project — or of one source —
 * finished, in ms since the epoch. The monitor's freshness probe takes this by injection.
 */
export function lastGoodBackupAt(db: Db, project: string, source?: string): number | undefined {
  const row = db
    .prepare(
      `SELECT max(r.finished_at) AS at FROM backup_results r JOIN backup_runs u ON u.id = r.run_id
       WHERE u.project = ? AND u.kind = 'backup' AND r.status = 'succeeded' AND r.suspect IS NULL AND (? IS NULL OR r.source = ?)`,
    )
    .get(project, source ?? null, source ?? null) as { at: number | null } | undefined;
  return row?.at ?? undefined;
}

/** The newest attempt at backing up a source, as the backup probe and `backup status` read it. */
export interface LastBackupAttempt {
  /** When it ended, ms since the epoch. */
  readonly at: number;
  readonly ok: boolean;
  readonly error?: string;
  /** Stored, but the dump looked wrong (empty, far smaller than the previous one). */
  readonly suspect?: string;
  /** A failed one: when the agent's nightly job backs it up again (ms since the epoch), while it waits to. */
  readonly retryAt?: number;
}

/**
 * Whether the process that said it backs a failed run up again (the agent whose nightly job made
 * the run) is still there to do it. An agent killed outright (SIGKILL, OOM, power) could not clear
 * the time it had recorded, and no retry comes from it.
 */
export type RetryComing = (run: { readonly pid: number; readonly host: string }) => boolean;

/**
 * The newest regular backup attempt of `source`: its own result in a run, or a run that failed
 * before it reached any source (the repository missing, a wrong password), which no source got past.
 * A failed one has `retryAt` while its retry is due and `retryComing` says its agent is there.
 */
export function lastBackupAttempt(db: Db, project: string, source: string, retryComing: RetryComing): LastBackupAttempt | undefined {
  const row = db
    .prepare(
      `SELECT at, status, suspect, error, retry_at, pid, host FROM (
         SELECT r.finished_at AS at, r.status, r.suspect, r.error, u.retry_at, u.pid, u.host FROM backup_results r JOIN backup_runs u ON u.id = r.run_id
         WHERE u.project = ? AND u.kind = 'backup' AND r.source = ?
         UNION ALL
         SELECT u.finished_at, 'failed', NULL, u.error, u.retry_at, u.pid, u.host FROM backup_runs u
         WHERE u.project = ? AND u.kind = 'backup' AND u.status = 'failed' AND u.finished_at IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM backup_results r WHERE r.run_id = u.id)
       ) ORDER BY at DESC LIMIT 1`,
    )
    .get(project, source, project) as { at: number; status: string; suspect: string | null; error: string | null; retry_at: number | null; pid: number; host: string } | undefined;
  if (!row) return undefined;
  const ok = row.status === 'succeeded';
  const retryAt = !ok && row.retry_at !== null && retryComing({ pid: row.pid, host: row.host }) ? row.retry_at : undefined;
  return { at: row.at, ok, ...(row.error && { error: row.error }), ...(row.suspect && { suspect: row.suspect }), ...(retryAt !== undefined && { retryAt }) };
}

export interface LastVerify {
  /** When the verify finished, ms since the epoch. */
  readonly at: number;
  readonly ok: boolean;
  /** Why it failed: restic check, which drills, or the error that stopped it. */
  readonly reason?: string;
}

/**
 * The newest finished `backup verify` of a project's own repository, or the newest one that drilled
 * `source` (a damaged repository fails every source); verifies of another repository do not count. The monitor's `backup` probe takes this by injection.
 */
export function lastVerify(db: Db, project: string, source?: string): LastVerify | undefined {
  const row = db
    .prepare(
      source === undefined
        ? `SELECT v.id, v.finished_at AS at, v.status, v.check_ok, v.error FROM backup_verifies v
           WHERE v.project = ? AND v.other_repository IS NULL AND v.status != 'running' ORDER BY v.started_at DESC LIMIT 1`
        : `SELECT v.id, v.finished_at AS at, d.status, v.check_ok, d.error FROM backup_drills d JOIN backup_verifies v ON v.id = d.verify_id
           WHERE v.project = ? AND v.other_repository IS NULL AND d.source = ? AND v.status != 'running' ORDER BY v.started_at DESC LIMIT 1`,
    )
    .get(...(source === undefined ? [project] : [project, source])) as { id: string; at: number | null; status: string; check_ok: number | null; error: string | null } | undefined;
  if (!row || row.at === null) return undefined;
  if (row.status === 'passed' && row.check_ok !== 0) return { at: row.at, ok: true };
  const failedDrills = (db.prepare(`SELECT source FROM backup_drills WHERE verify_id = ? AND status = 'failed' ORDER BY source`).pluck().all(row.id) as string[]).filter((s) => source === undefined || s === source);
  const reason = [...(row.check_ok === 0 ? ['restic check found damage'] : []), ...(failedDrills.length ? [`drill of ${failedDrills.join(', ')} failed`] : []), ...(row.error ? [row.error] : [])].join('; ');
  return { at: row.at, ok: false, reason: reason || 'failed' };
}

/** How far back the success rate of backup validation is counted (`backup status`, the agent's /metrics). */
export const validationWindowDays = 90;

/** Where that window starts, `now` being its end (ms since the epoch). */
export const validationWindowStart = (now: number): number => now - validationWindowDays * 86_400_000;

export interface DrillTally {
  readonly source: string;
  readonly passed: number;
  readonly failed: number;
}

/** Verifies of backup.repository finished since a time, and their restore drills per source (SC-007's success rate). */
export interface ValidationTally {
  readonly verifies: number;
  readonly verifiesPassed: number;
  readonly drills: readonly DrillTally[];
  /** Over every source. */
  readonly drillsPassed: number;
  readonly drillsFailed: number;
}

export function validationSince(db: Db, project: string, sinceMs: number): ValidationTally {
  const v = db
    .prepare(
      `SELECT count(*) AS n, coalesce(sum(status = 'passed'), 0) AS passed FROM backup_verifies
       WHERE project = ? AND other_repository IS NULL AND status != 'running' AND finished_at >= ?`,
    )
    .get(project, sinceMs) as { n: number; passed: number };
  const drills = db
    .prepare(
      `SELECT d.source, sum(d.status = 'passed') AS passed, sum(d.status = 'failed') AS failed FROM backup_drills d JOIN backup_verifies v ON v.id = d.verify_id
       WHERE v.project = ? AND v.other_repository IS NULL AND v.status != 'running' AND v.finished_at >= ? GROUP BY d.source ORDER BY d.source`,
    )
    .all(project, sinceMs) as DrillTally[];
  const sum = (pick: (d: DrillTally) => number) => drills.reduce((n, d) => n + pick(d), 0);
  return { verifies: v.n, verifiesPassed: v.passed, drills, drillsPassed: sum((d) => d.passed), drillsFailed: sum((d) => d.failed) };
}

/** What the agent's /metrics reads of one project's backups (the `BackupFigures` of agent/metrics.ts). */
export function backupFigures(db: Db, project: string, sources: readonly string[]) {
  return {
    sources: () => sources,
    lastGoodAt: (source: string) => lastGoodBackupAt(db, project, source),
    validation: (sinceMs: number) => validationSince(db, project, sinceMs),
  };
}

/** What the agent's backup probe reads of one project (the `BackupRecords` of monitor/probes/backup.ts). */
export function backupRecords(db: Db, project: string, retryComing: RetryComing) {
  const partly = createPartlyRestoredStore(db);
  return {
    lastGoodAt: (source?: string) => lastGoodBackupAt(db, project, source),
    lastAttempt: (source: string) => lastBackupAttempt(db, project, source, retryComing),
    lastVerify: (source?: string) => lastVerify(db, project, source),
    partlyRestored: (source: string) => partly.get(project, source),
  };
}

interface RunRow {
  id: string;
  project: string;
  kind: BackupRunKind;
  status: BackupRunStatus;
  user: string;
  pid: number;
  host: string;
  repository: string | null;
  started_at: number;
  finished_at: number | null;
  error: string | null;
}

interface ResultRow {
  run_id: string;
  source: string;
  type: string;
  status: 'succeeded' | 'failed';
  snapshot_id: string | null;
  bytes: number | null;
  data_added: number | null;
  started_at: number;
  finished_at: number;
  suspect: string | null;
  facts: string | null;
  error: string | null;
}

interface VerifyRow {
  id: string;
  project: string;
  status: VerifyRecord['status'];
  started_at: number;
  finished_at: number | null;
  check_ok: number | null;
  check_output: string | null;
  error: string | null;
  other_repository: string | null;
}

interface DrillRow {
  verify_id: string;
  source: string;
  snapshot_id: string;
  status: 'passed' | 'failed';
  restore_ms: number;
  bytes: number | null;
  details: string | null;
  error: string | null;
}

const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

function toRun(r: RunRow): BackupRun {
  return strip({ id: r.id, project: r.project, kind: r.kind, status: r.status, user: r.user, pid: r.pid, host: r.host, repository: opt(r.repository), startedAt: r.started_at, finishedAt: opt(r.finished_at), error: opt(r.error) });
}

function toResult(r: ResultRow): BackupResult {
  return strip({
    runId: r.run_id,
    source: r.source,
    type: r.type,
    status: r.status,
    snapshotId: opt(r.snapshot_id),
    bytes: opt(r.bytes),
    dataAdded: opt(r.data_added),
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    suspect: opt(r.suspect),
    facts: r.facts === null ? undefined : (JSON.parse(r.facts) as unknown),
    error: opt(r.error),
  });
}

function toVerify(r: VerifyRow): VerifyRecord {
  return strip({
    id: r.id,
    project: r.project,
    status: r.status,
    startedAt: r.started_at,
    finishedAt: opt(r.finished_at),
    checkOk: r.check_ok === null ? undefined : r.check_ok === 1,
    checkOutput: opt(r.check_output),
    error: opt(r.error),
    otherRepository: opt(r.other_repository),
  });
}

function toDrill(r: DrillRow): DrillRecord {
  return strip({
    verifyId: r.verify_id,
    source: r.source,
    snapshotId: r.snapshot_id,
    status: r.status,
    restoreMs: r.restore_ms,
    bytes: opt(r.bytes),
    details: r.details === null ? undefined : (JSON.parse(r.details) as unknown),
    error: opt(r.error),
  });
}

function strip<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
