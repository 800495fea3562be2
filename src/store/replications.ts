/** Replication runs and the primary → replica snapshot id map, in SQLite. */
import type { Clock } from '../lib/time.js';
import type { Db } from './db.js';

export type ReplicationRunStatus = 'running' | 'succeeded' | 'failed' | 'interrupted';

export interface ReplicationRun {
  readonly id: string;
  readonly project: string;
  readonly source: string;
  readonly target: string;
  readonly status: ReplicationRunStatus;
  readonly attempts: number;
  readonly copied: number;
  readonly primaryCount?: number;
  readonly replicaCount?: number;
  /** Primary snapshots not copied because this host's retention removed their copies before. */
  readonly leftOut?: number;
  readonly primaryNewestAt?: number;
  readonly replicaNewestAt?: number;
  readonly checkOk?: boolean;
  readonly errorKind?: string;
  readonly error?: string;
  readonly pid: number;
  readonly host: string;
  readonly user: string;
  readonly startedAt: number;
  readonly finishedAt?: number;
}

export type RunStart = Pick<ReplicationRun, 'id' | 'project' | 'source' | 'target' | 'pid' | 'host' | 'user'>;

export type RunFinish = Pick<ReplicationRun, 'attempts' | 'copied' | 'primaryCount' | 'replicaCount' | 'leftOut' | 'primaryNewestAt' | 'replicaNewestAt' | 'checkOk' | 'errorKind' | 'error'> & {
  readonly status: 'succeeded' | 'failed';
};

export interface SnapshotMapping {
  readonly originalId: string;
  readonly copyId: string;
  readonly timeMs: number;
  readonly tags: readonly string[];
}

export interface ReplicationStore {
  /**
   * Records a new `running` run, unless a live process on this host is already pulling for the
   * project (then returns that run). Runs of dead processes become `interrupted` first.
   */
  begin(run: RunStart, isAlive: (pid: number) => boolean): { ok: true } | { ok: false; holder: ReplicationRun };
  finish(id: string, result: RunFinish): void;
  /** Runs left `running` by a process that is gone become `interrupted`; returns how many. */
  markInterrupted(project: string, host: string, isAlive: (pid: number) => boolean): number;
  /** Newest first. */
  runs(project: string, limit?: number): ReplicationRun[];
  lastSucceeded(project: string): ReplicationRun | undefined;
  /** Records the map; returns the original ids that were not known before. */
  recordMappings(project: string, runId: string | undefined, mappings: readonly SnapshotMapping[]): string[];
  mappings(project: string): Array<SnapshotMapping & { runId?: string }>;
  /**
   * Marks copies this host's retention removed, so the next pull does not copy them again. One
   * with no mapping yet (not copied by a pull: its original is gone from the primary) is recorded.
   */
  markForgotten(project: string, removed: readonly SnapshotMapping[]): void;
  /** Original ids of the copies this host's retention removed. */
  forgottenOriginals(project: string): Set<string>;
  /** A new, empty repository here: nothing in it was ever removed. */
  clearForgotten(project: string): void;
  /** Since when a prune is owed: copies were removed (markForgotten) and no prune finished after. */
  pruneOwedSince(project: string): number | undefined;
  /** A prune finished: the removed copies' data is gone. */
  markPruned(project: string): void;
}

interface RunRow {
  id: string;
  project: string;
  source: string;
  target: string;
  status: ReplicationRunStatus;
  attempts: number;
  copied: number;
  primary_count: number | null;
  replica_count: number | null;
  left_out: number | null;
  primary_newest_at: number | null;
  replica_newest_at: number | null;
  check_ok: number | null;
  error_kind: string | null;
  error: string | null;
  pid: number;
  host: string;
  user: string;
  started_at: number;
  finished_at: number | null;
}

export function createReplicationStore(db: Db, clock: Clock): ReplicationStore {
  const q = {
    insert: db.prepare(
      `INSERT INTO replication_runs (id, project, source, target, status, pid, host, user, started_at)
       VALUES (@id, @project, @source, @target, 'running', @pid, @host, @user, @started_at)`,
    ),
    finish: db.prepare(
      `UPDATE replication_runs SET status = @status, attempts = @attempts, copied = @copied, primary_count = @primary_count,
         replica_count = @replica_count, left_out = @left_out, primary_newest_at = @primary_newest_at, replica_newest_at = @replica_newest_at,
         check_ok = @check_ok, error_kind = @error_kind, error = @error, finished_at = @finished_at
       WHERE id = @id`,
    ),
    running: db.prepare(`SELECT id, pid FROM replication_runs WHERE project = ? AND host = ? AND status = 'running'`),
    byId: db.prepare('SELECT * FROM replication_runs WHERE id = ?'),
    interrupt: db.prepare(
      `UPDATE replication_runs SET status = 'interrupted', error = 'the pull process ended before finishing', finished_at = ? WHERE id = ?`,
    ),
    runs: db.prepare('SELECT * FROM replication_runs WHERE project = ? ORDER BY started_at DESC, id DESC LIMIT ?'),
    lastOk: db.prepare(`SELECT * FROM replication_runs WHERE project = ? AND status = 'succeeded' ORDER BY started_at DESC, id DESC LIMIT 1`),
    known: db.prepare('SELECT 1 FROM replicated_snapshots WHERE project = ? AND original_id = ?').pluck(),
    upsertMap: db.prepare(
      `INSERT INTO replicated_snapshots (project, original_id, copy_id, snapshot_time, tags, run_id, recorded_at)
       VALUES (@project, @original_id, @copy_id, @snapshot_time, @tags, @run_id, @recorded_at)
       ON CONFLICT (project, original_id) DO UPDATE SET copy_id = excluded.copy_id, forgotten_at = NULL`,
    ),
    maps: db.prepare('SELECT * FROM replicated_snapshots WHERE project = ? ORDER BY snapshot_time, original_id'),
    forget: db.prepare(
      `INSERT INTO replicated_snapshots (project, original_id, copy_id, snapshot_time, tags, run_id, recorded_at, forgotten_at)
       VALUES (@project, @original_id, @copy_id, @snapshot_time, @tags, NULL, @recorded_at, @recorded_at)
       ON CONFLICT (project, original_id) DO UPDATE SET forgotten_at = excluded.forgotten_at`,
    ),
    forgotten: db.prepare('SELECT original_id FROM replicated_snapshots WHERE project = ? AND forgotten_at IS NOT NULL').pluck(),
    unforget: db.prepare('UPDATE replicated_snapshots SET forgotten_at = NULL WHERE project = ?'),
    owe: db.prepare('INSERT OR IGNORE INTO replica_prune_owed (project, since) VALUES (?, ?)'),
    owedSince: db.prepare('SELECT since FROM replica_prune_owed WHERE project = ?').pluck(),
    paid: db.prepare('DELETE FROM replica_prune_owed WHERE project = ?'),
  };

  const recordTx = db.transaction((project: string, runId: string | undefined, mappings: readonly SnapshotMapping[]) => {
    const fresh: string[] = [];
    for (const m of mappings) {
      const known = q.known.get(project, m.originalId) !== undefined;
      // The first pull that sees a snapshot gets it; ones found already present (copied by hand) have no run.
      q.upsertMap.run({
        project,
        original_id: m.originalId,
        copy_id: m.copyId,
        snapshot_time: m.timeMs,
        tags: JSON.stringify(m.tags),
        run_id: known ? null : (runId ?? null),
        recorded_at: clock(),
      });
      if (!known) fresh.push(m.originalId);
    }
    return fresh;
  });

  const forgetTx = db.transaction((project: string, removed: readonly SnapshotMapping[]) => {
    for (const m of removed) {
      q.forget.run({ project, original_id: m.originalId, copy_id: m.copyId, snapshot_time: m.timeMs, tags: JSON.stringify(m.tags), recorded_at: clock() });
    }
    // In the same transaction: a removal is never recorded without the prune it calls for.
    if (removed.length > 0) q.owe.run(project, clock());
  });
  const clearTx = db.transaction((project: string) => {
    q.unforget.run(project);
    q.paid.run(project);
  });

  const markInterrupted = (project: string, host: string, isAlive: (pid: number) => boolean): number => {
    const stale = (q.running.all(project, host) as Array<{ id: string; pid: number }>).filter((r) => !isAlive(r.pid));
    for (const r of stale) q.interrupt.run(clock(), r.id);
    return stale.length;
  };

  const beginTx = db.transaction((run: RunStart, isAlive: (pid: number) => boolean) => {
    markInterrupted(run.project, run.host, isAlive);
    const live = q.running.get(run.project, run.host) as { id: string } | undefined;
    if (live) return { ok: false as const, holder: toRun(q.byId.get(live.id) as RunRow) };
    q.insert.run({ ...run, started_at: clock() });
    return { ok: true as const };
  });

  return {
    begin: (run, isAlive) => beginTx.immediate(run, isAlive),
    finish(id, r) {
      q.finish.run({
        id,
        status: r.status,
        attempts: r.attempts,
        copied: r.copied,
        primary_count: r.primaryCount ?? null,
        replica_count: r.replicaCount ?? null,
        left_out: r.leftOut ?? null,
        primary_newest_at: r.primaryNewestAt ?? null,
        replica_newest_at: r.replicaNewestAt ?? null,
        check_ok: r.checkOk === undefined ? null : r.checkOk ? 1 : 0,
        error_kind: r.errorKind ?? null,
        error: r.error ?? null,
        finished_at: clock(),
      });
    },
    markInterrupted,
    runs: (project, limit = 20) => (q.runs.all(project, limit) as RunRow[]).map(toRun),
    lastSucceeded(project) {
      const row = q.lastOk.get(project) as RunRow | undefined;
      return row && toRun(row);
    },
    recordMappings: (project, runId, mappings) => recordTx(project, runId, mappings),
    mappings: (project) =>
      (q.maps.all(project) as Array<{ original_id: string; copy_id: string; snapshot_time: number; tags: string; run_id: string | null }>).map((r) => ({
        originalId: r.original_id,
        copyId: r.copy_id,
        timeMs: r.snapshot_time,
        tags: JSON.parse(r.tags) as string[],
        ...(r.run_id ? { runId: r.run_id } : {}),
      })),
    markForgotten: (project, removed) => forgetTx(project, removed),
    forgottenOriginals: (project) => new Set(q.forgotten.all(project) as string[]),
    clearForgotten: (project) => clearTx(project),
    pruneOwedSince: (project) => (q.owedSince.get(project) as number | undefined) ?? undefined,
    markPruned: (project) => void q.paid.run(project),
  };
}

function toRun(r: RunRow): ReplicationRun {
  const opt = <K extends string, V>(key: K, v: V | null): { [P in K]?: V } => (v === null ? {} : ({ [key]: v } as { [P in K]?: V }));
  return {
    id: r.id,
    project: r.project,
    source: r.source,
    target: r.target,
    status: r.status,
    attempts: r.attempts,
    copied: r.copied,
    ...opt('primaryCount', r.primary_count),
    ...opt('replicaCount', r.replica_count),
    ...opt('leftOut', r.left_out),
    ...opt('primaryNewestAt', r.primary_newest_at),
    ...opt('replicaNewestAt', r.replica_newest_at),
    ...opt('checkOk', r.check_ok === null ? null : r.check_ok === 1),
    ...opt('errorKind', r.error_kind),
    ...opt('error', r.error),
    pid: r.pid,
    host: r.host,
    user: r.user,
    startedAt: r.started_at,
    ...opt('finishedAt', r.finished_at),
  };
}
