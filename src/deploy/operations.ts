/**
 * The mutating operations as the CLI (and later the agent) call them. Each one reads like a
 * runbook: lock → reconcile → do → audit (inside the step) → release.
 */
import { label } from '../engine/labels.js';
import { BerthError } from '../lib/errors.js';
import type { Service } from '../project/model.js';
import type { Deployment } from '../store/deployments.js';
import type { DeployContext } from './context.js';
import { reconcile } from './reconcile.js';
import { replaceService, type DeployOutcome } from './replace.js';
import { restoreSecrets, type DeploymentSnapshot } from './snapshot.js';
import { up, type UpResult } from './up.js';

export interface LockOptions {
  /** Wait for another deploy to finish (default) or fail at once. */
  readonly wait: boolean;
}

export async function withDeployLock<T>(ctx: DeployContext, command: string, opts: LockOptions, fn: () => Promise<T>): Promise<T> {
  const handle = await ctx.lock.acquire(ctx.project.name, command, {
    wait: opts.wait,
    onWait: (h) => ctx.report.info(`waiting for the deploy lock: held by pid ${h.pid} (${h.user}, "${h.command}")`),
    onStale: (h) => ctx.report.warn(`cleared a stale deploy lock left by pid ${h.pid} ("${h.command}"), which is no longer running`),
  });
  try {
    await reconcile(ctx);
    return await fn();
  } finally {
    handle.release();
  }
}

/** Read-only commands reconcile too when nobody holds the lock (the next command after a crash fixes things). */
export async function reconcileIfIdle(ctx: DeployContext, command: string): Promise<void> {
  try {
    await withDeployLock(ctx, command, { wait: false }, async () => undefined);
  } catch (err) {
    if (!(err instanceof BerthError && err.code === 'LOCK_HELD')) throw err;
  }
}

export function upProject(ctx: DeployContext, opts: LockOptions): Promise<UpResult> {
  return withDeployLock(ctx, 'berth up', opts, () => up(ctx));
}

export function requireService(ctx: DeployContext, name: string): Service {
  const service = ctx.project.services[name];
  if (!service) {
    throw new BerthError('NOT_FOUND', `unknown service "${name}"`, `services in ${ctx.project.name}: ${Object.keys(ctx.project.services).sort().join(', ')}`);
  }
  return service;
}

export function deployService(ctx: DeployContext, name: string, opts: LockOptions & { image?: string }): Promise<DeployOutcome> {
  const base = requireService(ctx, name);
  const service = opts.image ? { ...base, image: opts.image } : base;
  return withDeployLock(ctx, `berth deploy ${name}`, opts, () => replaceService(ctx, { service, imageRef: service.image, kind: 'deploy' }));
}

export function rollbackService(ctx: DeployContext, name: string, opts: LockOptions & { to?: string }): Promise<DeployOutcome> {
  const current = requireService(ctx, name);
  return withDeployLock(ctx, `berth rollback ${name}`, opts, async () => {
    const target = rollbackTarget(ctx, name, opts.to);
    const snapshot = target.snapshot as unknown as DeploymentSnapshot;
    const service = restoreSecrets(snapshot, current);
    ctx.report.step(`${name}: rolling back to deployment ${target.id} (${snapshot.imageRef}, ${snapshot.imageId.slice(7, 19)})`);
    const image = await ctx.engine.inspectImage(snapshot.imageId);
    if (!image) {
      throw new BerthError('NOT_FOUND', `image ${snapshot.imageId} of deployment ${target.id} is no longer on this host`, 'only the last keep_images deployments are protected from pruning');
    }
    return replaceService(ctx, { service: { ...service, image: snapshot.imageId }, imageRef: snapshot.imageId, kind: 'rollback' });
  });
}

function rollbackTarget(ctx: DeployContext, service: string, to: string | undefined): Deployment {
  if (to) {
    const dep = ctx.deployments.get(to);
    if (!dep || dep.project !== ctx.project.name || dep.service !== service) {
      throw new BerthError('NOT_FOUND', `no deployment ${to} of service ${service}`, `list them with \`berth history ${service}\``);
    }
    if (dep.status !== 'succeeded') throw new BerthError('STATE', `deployment ${to} did not succeed (${dep.status}); roll back to a successful one`);
    return dep;
  }
  const live = ctx.deployments.getLive(ctx.project.name, service);
  const candidates = ctx.deployments.lastSucceeded(ctx.project.name, service, 50).filter((d) => d.id !== live?.deploymentId);
  const liveDep = live ? ctx.deployments.get(live.deploymentId) : undefined;
  const earlier = candidates.find((d) => !liveDep || d.startedAt < liveDep.startedAt) ?? candidates[0];
  if (!earlier) throw new BerthError('NOT_FOUND', `service ${service} has no earlier successful deployment to roll back to`);
  return earlier;
}

export interface DownResult {
  readonly removedContainers: string[];
  readonly removedNetworks: string[];
  readonly removedVolumes: string[];
}

export function downProject(ctx: DeployContext, opts: LockOptions & { volumes: boolean }): Promise<DownResult> {
  return withDeployLock(ctx, 'berth down', opts, async () => {
    const { project, engine } = ctx;
    const containers = await engine.listContainers({ [label.project]: project.name });
    // Before the first container goes: the agent must know these deaths are intended.
    const services = Object.keys(project.services);
    // A mark already there stays: e.g. a failed restore's, which also holds that source's backups.
    for (const s of services) if (!ctx.stopped.get(project.name, s)) ctx.stopped.mark(project.name, s, { now: ctx.clock(), user: ctx.user, reason: 'berth down' });
    ctx.audit.append({ user: ctx.user, action: 'stop', project: project.name, target: '*', outcome: 'succeeded', details: { services, reason: 'berth down' } });
    for (const c of containers) await engine.removeContainer(c.id);
    await ctx.edge.remove();
    for (const s of Object.keys(project.services)) ctx.deployments.clearLive(project.name, s);
    const removedNetworks: string[] = [];
    for (const n of Object.values(project.networks)) {
      if (n.external || !(await engine.networkExists(n.name))) continue;
      await engine.removeNetwork(n.name);
      removedNetworks.push(n.name);
    }
    const removedVolumes: string[] = [];
    if (opts.volumes) {
      for (const v of Object.values(project.volumes)) {
        if (v.external) continue;
        await engine.removeVolume(v.name);
        removedVolumes.push(v.name);
      }
    }
    const result = { removedContainers: containers.map((c) => c.name), removedNetworks, removedVolumes };
    ctx.audit.append({ user: ctx.user, action: 'down', project: project.name, target: '*', outcome: 'succeeded', details: { ...result } });
    ctx.report.done(`removed ${containers.length} container(s), ${removedNetworks.length} network(s), ${removedVolumes.length} volume(s)`);
    return result;
  });
}
