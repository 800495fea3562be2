/**
 * Replication health from SQLite alone (no network), so the monitor can poll it cheaply:
 * `failing` when the latest pull failed, `behind` when the newest replicated snapshot is older
 * than `max_lag` (or nothing was ever replicated), else `ok`.
 */
import type { Project } from '../project/model.js';
import type { Db } from '../store/db.js';
import { createReplicationStore, type ReplicationRun } from '../store/replications.js';

export type ReplicationState = 'ok' | 'behind' | 'failing';

export interface ReplicationStatus {
  readonly project: string;
  readonly state: ReplicationState;
  /** One line for an alert summary. */
  readonly reason: string;
  readonly from?: string;
  readonly maxLagMs: number;
  readonly lastSuccessAt?: number;
  readonly lastAttemptAt?: number;
  readonly lastError?: string;
  /** Failed or interrupted pulls since the last successful one. */
  readonly consecutiveFailures: number;
  readonly primaryNewestAt?: number;
  readonly replicaNewestAt?: number;
  /** Newest primary snapshot time − newest replicated, as of the last successful pull. */
  readonly lagMs?: number;
  /** now − newest replicated snapshot time. */
  readonly ageMs?: number;
  readonly primarySnapshots?: number;
  readonly replicaSnapshots?: number;
  /** Primary snapshots not here because this host's retention removed their copies. */
  readonly leftOut?: number;
}

export const defaultMaxLagMs = 26 * 3_600_000;

export function replicationStatus(db: Db, project: Pick<Project, 'name' | 'replicate'>, now: number = Date.now()): ReplicationStatus {
  const runs = createReplicationStore(db, () => now).runs(project.name, 50);
  return evaluateReplication(project.name, runs, project.replicate?.maxLagMs ?? defaultMaxLagMs, now, project.replicate?.from);
}

/** Pure: newest-first runs → status. */
export function evaluateReplication(project: string, runs: readonly ReplicationRun[], maxLagMs: number, now: number, from?: string): ReplicationStatus {
  const finished = runs.filter((r) => r.status !== 'running');
  const lastOk = finished.find((r) => r.status === 'succeeded');
  const failures = lastOk ? finished.indexOf(lastOk) : finished.length;
  const latest = finished[0];
  const base = {
    project,
    maxLagMs,
    consecutiveFailures: failures,
    ...(from ? { from } : {}),
    ...(latest ? { lastAttemptAt: latest.finishedAt ?? latest.startedAt } : {}),
    ...(lastOk ? { lastSuccessAt: lastOk.finishedAt ?? lastOk.startedAt } : {}),
    ...(lastOk?.primaryNewestAt !== undefined ? { primaryNewestAt: lastOk.primaryNewestAt } : {}),
    ...(lastOk?.replicaNewestAt !== undefined ? { replicaNewestAt: lastOk.replicaNewestAt, ageMs: now - lastOk.replicaNewestAt } : {}),
    ...(lastOk?.primaryNewestAt !== undefined && lastOk.replicaNewestAt !== undefined ? { lagMs: lastOk.primaryNewestAt - lastOk.replicaNewestAt } : {}),
    ...(lastOk?.primaryCount !== undefined ? { primarySnapshots: lastOk.primaryCount } : {}),
    ...(lastOk?.replicaCount !== undefined ? { replicaSnapshots: lastOk.replicaCount } : {}),
    ...(lastOk?.leftOut ? { leftOut: lastOk.leftOut } : {}),
  };
  if (latest && latest.status !== 'succeeded') {
    const error = latest.error ?? latest.status;
    return { ...base, state: 'failing', lastError: error, reason: `last pull ${latest.status} (${failures} in a row): ${error}` };
  }
  if (!lastOk) return { ...base, state: 'behind', reason: 'no successful pull yet' };
  if (lastOk.replicaNewestAt === undefined) {
    return { ...base, state: 'behind', reason: 'nothing replicated yet: the primary has no snapshots' };
  }
  const age = now - lastOk.replicaNewestAt;
  if (age > maxLagMs) {
    return { ...base, state: 'behind', reason: `newest replicated snapshot is ${hours(age)} old, more than max_lag ${hours(maxLagMs)}` };
  }
  return { ...base, state: 'ok', reason: `newest replicated snapshot is ${hours(age)} old (max_lag ${hours(maxLagMs)})` };
}

function hours(ms: number): string {
  return ms >= 3_600_000 ? `${(ms / 3_600_000).toFixed(1)}h` : `${Math.round(ms / 60_000)}m`;
}
