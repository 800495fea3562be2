/**
 * Deployment records and the live color of each service. Every deploy step is written here
 * before it is taken, so a crashed run can be reconciled from the table alone.
 */
import { BerthError } from '../lib/errors.js';
import type { Clock } from '../lib/time.js';
import type { Db } from './db.js';

/** Same values as the engine's `Color`; repeated here so the store depends on nothing above it. */
export type Color = 'blue' | 'green';
export type DeploymentKind = 'up' | 'deploy' | 'rollback' | 'recreate';
export type DeploymentStatus = 'running' | 'succeeded' | 'failed' | 'rolled_back' | 'interrupted';

export interface Deployment {
  readonly id: string;
  readonly project: string;
  readonly service: string;
  readonly kind: DeploymentKind;
  readonly color: Color;
  readonly imageRef: string;
  readonly imageId: string;
  /** The deployment that was live when this one started. */
  readonly previousId?: string;
  readonly status: DeploymentStatus;
  /** Free-form step name: starting, health, verify, cleanup, done… */
  readonly phase: string;
  readonly snapshot: Record<string, unknown>;
  readonly containerId?: string;
  readonly user: string;
  readonly startedAt: number;
  readonly switchedAt?: number;
  readonly finishedAt?: number;
  readonly switchMs?: number;
  readonly gapMs?: number;
  readonly error?: string;
}

/** What a new deployment starts with; `startedAt` defaults to the clock, `status` to running. */
export type NewDeployment = Omit<Deployment, 'status' | 'startedAt'> & {
  readonly status?: DeploymentStatus;
  readonly startedAt?: number;
};

/** Fields that change while a deployment runs. Keys left undefined keep their stored value. */
export type DeploymentPatch = Partial<
  Pick<Deployment, 'status' | 'phase' | 'snapshot' | 'containerId' | 'switchedAt' | 'finishedAt' | 'switchMs' | 'gapMs' | 'error'>
>;

export interface Live {
  readonly project: string;
  readonly service: string;
  readonly color: Color;
  readonly deploymentId: string;
  readonly containerId: string;
  readonly updatedAt: number;
}

export interface DeploymentStore {
  insert(rec: NewDeployment): Deployment;
  /** Apply a patch and return the updated record; throws STATE for an unknown id. */
  update(id: string, patch: DeploymentPatch): Deployment;
  get(id: string): Deployment | undefined;
  /** Newest first. */
  listForService(project: string, service: string, limit: number): Deployment[];
  /** Newest first. */
  listForProject(project: string, limit: number): Deployment[];
  /** Deployments still marked running, oldest first (after a crash, these need reconciling). */
  running(project: string): Deployment[];
  /** The last `n` successful deployments of a service, newest first. */
  lastSucceeded(project: string, service: string, n: number): Deployment[];
  getLive(project: string, service: string): Live | undefined;
  setLive(project: string, service: string, color: Color, deploymentId: string, containerId: string): void;
  clearLive(project: string, service: string): void;
  /** Live colors of every service of a project, by service name. */
  listLive(project: string): Live[];
}

interface DeploymentRow {
  id: string;
  project: string;
  service: string;
  kind: DeploymentKind;
  color: string;
  image_ref: string;
  image_id: string;
  previous_id: string | null;
  status: DeploymentStatus;
  phase: string;
  snapshot: string;
  container_id: string | null;
  user: string;
  started_at: number;
  switched_at: number | null;
  finished_at: number | null;
  switch_ms: number | null;
  gap_ms: number | null;
  error: string | null;
}

interface LiveRow {
  project: string;
  service: string;
  color: string;
  deployment_id: string;
  container_id: string;
  updated_at: number;
}

const patchColumns = {
  status: 'status',
  phase: 'phase',
  snapshot: 'snapshot',
  containerId: 'container_id',
  switchedAt: 'switched_at',
  finishedAt: 'finished_at',
  switchMs: 'switch_ms',
  gapMs: 'gap_ms',
  error: 'error',
} as const satisfies Record<keyof DeploymentPatch, string>;

const selectDeployment = 'SELECT * FROM deployments';
const newestFirst = 'ORDER BY started_at DESC, id DESC';

export function createDeploymentStore(db: Db, clock: Clock): DeploymentStore {
  const q = prepare(db);
  const one = (row: DeploymentRow | undefined): Deployment | undefined => (row ? toDeployment(row) : undefined);
  const many = (rows: DeploymentRow[]): Deployment[] => rows.map(toDeployment);
  const get = (id: string): Deployment | undefined => one(q.get.get(id) as DeploymentRow | undefined);

  return {
    insert(rec) {
      const row = toRow({ ...rec, status: rec.status ?? 'running', startedAt: rec.startedAt ?? clock() });
      q.insert.run(row);
      return toDeployment(row);
    },
    update(id, patch) {
      const result = q.update.run(patchParams(id, patch));
      const dep = result.changes ? get(id) : undefined;
      if (!dep) throw new BerthError('STATE', `cannot update deployment ${id}: it is not in the state database`);
      return dep;
    },
    get,
    listForService: (project, service, limit) => many(q.forService.all(project, service, limit) as DeploymentRow[]),
    listForProject: (project, limit) => many(q.forProject.all(project, limit) as DeploymentRow[]),
    running: (project) => many(q.running.all(project) as DeploymentRow[]),
    lastSucceeded: (project, service, n) => many(q.succeeded.all(project, service, n) as DeploymentRow[]),
    getLive(project, service) {
      const row = q.getLive.get(project, service) as LiveRow | undefined;
      return row ? toLive(row) : undefined;
    },
    setLive(project, service, color, deploymentId, containerId) {
      q.setLive.run({ project, service, color, deployment_id: deploymentId, container_id: containerId, updated_at: clock() });
    },
    clearLive(project, service) {
      q.clearLive.run(project, service);
    },
    listLive: (project) => (q.listLive.all(project) as LiveRow[]).map(toLive),
  };
}

function prepare(db: Db) {
  const setters = Object.values(patchColumns).map((c) => `${c} = CASE WHEN @set_${c} THEN @${c} ELSE ${c} END`);
  return {
    insert: db.prepare(
      `INSERT INTO deployments (id, project, service, kind, color, image_ref, image_id, previous_id, status, phase, snapshot,
         container_id, user, started_at, switched_at, finished_at, switch_ms, gap_ms, error)
       VALUES (@id, @project, @service, @kind, @color, @image_ref, @image_id, @previous_id, @status, @phase, @snapshot,
         @container_id, @user, @started_at, @switched_at, @finished_at, @switch_ms, @gap_ms, @error)`,
    ),
    update: db.prepare(`UPDATE deployments SET ${setters.join(', ')} WHERE id = @id`),
    get: db.prepare(`${selectDeployment} WHERE id = ?`),
    forService: db.prepare(`${selectDeployment} WHERE project = ? AND service = ? ${newestFirst} LIMIT ?`),
    forProject: db.prepare(`${selectDeployment} WHERE project = ? ${newestFirst} LIMIT ?`),
    running: db.prepare(`${selectDeployment} WHERE project = ? AND status = 'running' ORDER BY started_at, id`),
    succeeded: db.prepare(`${selectDeployment} WHERE project = ? AND service = ? AND status = 'succeeded' ${newestFirst} LIMIT ?`),
    getLive: db.prepare('SELECT * FROM live WHERE project = ? AND service = ?'),
    setLive: db.prepare(
      `INSERT INTO live (project, service, color, deployment_id, container_id, updated_at)
       VALUES (@project, @service, @color, @deployment_id, @container_id, @updated_at)
       ON CONFLICT (project, service) DO UPDATE SET color = excluded.color, deployment_id = excluded.deployment_id,
         container_id = excluded.container_id, updated_at = excluded.updated_at`,
    ),
    clearLive: db.prepare('DELETE FROM live WHERE project = ? AND service = ?'),
    listLive: db.prepare('SELECT * FROM live WHERE project = ? ORDER BY service'),
  };
}

function patchParams(id: string, patch: DeploymentPatch): Record<string, unknown> {
  const params: Record<string, unknown> = { id };
  for (const [key, column] of Object.entries(patchColumns)) {
    const value = patch[key as keyof DeploymentPatch];
    params[`set_${column}`] = value === undefined ? 0 : 1;
    params[column] = value === undefined ? null : key === 'snapshot' ? JSON.stringify(value) : value;
  }
  return params;
}

function toRow(d: Deployment): DeploymentRow {
  return {
    id: d.id,
    project: d.project,
    service: d.service,
    kind: d.kind,
    color: d.color,
    image_ref: d.imageRef,
    image_id: d.imageId,
    previous_id: d.previousId ?? null,
    status: d.status,
    phase: d.phase,
    snapshot: JSON.stringify(d.snapshot),
    container_id: d.containerId ?? null,
    user: d.user,
    started_at: d.startedAt,
    switched_at: d.switchedAt ?? null,
    finished_at: d.finishedAt ?? null,
    switch_ms: d.switchMs ?? null,
    gap_ms: d.gapMs ?? null,
    error: d.error ?? null,
  };
}

function toDeployment(r: DeploymentRow): Deployment {
  return dropUndefined({
    id: r.id,
    project: r.project,
    service: r.service,
    kind: r.kind,
    color: toColor(r.color, `deployment ${r.id}`),
    imageRef: r.image_ref,
    imageId: r.image_id,
    previousId: r.previous_id ?? undefined,
    status: r.status,
    phase: r.phase,
    snapshot: parseSnapshot(r.snapshot, r.id),
    containerId: r.container_id ?? undefined,
    user: r.user,
    startedAt: r.started_at,
    switchedAt: r.switched_at ?? undefined,
    finishedAt: r.finished_at ?? undefined,
    switchMs: r.switch_ms ?? undefined,
    gapMs: r.gap_ms ?? undefined,
    error: r.error ?? undefined,
  });
}

function toLive(r: LiveRow): Live {
  return {
    project: r.project,
    service: r.service,
    color: toColor(r.color, `live record of ${r.project}/${r.service}`),
    deploymentId: r.deployment_id,
    containerId: r.container_id,
    updatedAt: r.updated_at,
  };
}

function toColor(v: string, what: string): Color {
  if (v === 'blue' || v === 'green') return v;
  throw new BerthError('STATE', `${what} has color "${v}"; expected blue or green`, 'the state database was changed by hand; fix or delete that row');
}

function parseSnapshot(text: string, id: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BerthError('STATE', `deployment ${id} has a damaged snapshot (not a JSON object)`, 'that deployment cannot be rolled back to; deploy again');
  }
  return value as Record<string, unknown>;
}

/** Keep records free of `key: undefined`, so `deepEqual` and spreads behave. */
function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
