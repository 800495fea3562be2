/**
 * Replacing one service: a first start, a blue-green switch behind the edge (routed services),
 * or a stop-and-start recreate (services the edge can't route, e.g. a database's raw TCP port).
 * Every step is recorded in the deployment row first, so a crash can be reconciled.
 */
import { otherColor, type Color } from '../engine/labels.js';
import { BerthError } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { formatMs } from '../lib/time.js';
import type { Service } from '../project/model.js';
import type { Deployment } from '../store/deployments.js';
import { sourceHeldBy } from '../store/stopped.js';
import type { DeployContext } from './context.js';
import { currentEdgeView, primaryNetwork } from './edge-view.js';
import { watchDeploymentExits, type ExitWatch } from './exit-watch.js';
import { waitHealthy } from './health.js';
import { keepImages, resolveImage } from './images.js';
import { startSlot, stopAndRemove } from './slots.js';
import { makeSnapshot } from './snapshot.js';
import { watchNewColor } from './verify.js';

export type DeployKind = 'up' | 'deploy' | 'rollback';

export interface ReplaceRequest {
  readonly service: Service;
  readonly imageRef: string;
  readonly kind: DeployKind;
}

export interface DeployOutcome {
  readonly deploymentId: string;
  readonly service: string;
  readonly color: Color;
  readonly strategy: 'first-start' | 'blue-green' | 'recreate';
  readonly imageRef: string;
  readonly imageId: string;
  readonly previousImageId?: string;
  readonly healthyMs: number;
  readonly switchMs?: number;
  readonly gapMs?: number;
  readonly deployMs: number;
}

/**
 * What to say when `service`, held stopped by the stop mark `reason`, is started again (`berth up`,
 * a deploy): it runs on the data as the failed restore left it, which is still not backed up.
 */
export function startedOnPartialData(service: string, reason: string): string | undefined {
  const source = sourceHeldBy(reason);
  return source && `${service}: starts on ${source} as a failed restore left it; ${source} is not backed up until a restore of it succeeds, or \`berth backup run --source ${source} --accept-partial\` accepts it as it is`;
}

/** Says so when `service` is started again while a failed restore held it stopped (`mark`). */
export function warnIfHeldByRestore(ctx: DeployContext, service: string, mark: { readonly reason: string } | undefined): void {
  const partial = mark && startedOnPartialData(service, mark.reason);
  if (partial) ctx.report.warn(partial);
}

export async function replaceService(ctx: DeployContext, req: ReplaceRequest): Promise<DeployOutcome> {
  const { project, deployments } = ctx;
  const service = req.service;
  const image = await resolveImage(ctx.engine, req.imageRef, service.name);
  const live = deployments.getLive(project.name, service.name);
  const liveInfo = live ? await ctx.engine.inspectContainer(live.containerId) : undefined;
  const previous = live && liveInfo ? { ...live, info: liveInfo } : undefined;
  const color: Color = previous ? otherColor(previous.color) : 'blue';
  const strategy = !previous ? 'first-start' : service.route ? 'blue-green' : 'recreate';
  const started = ctx.clock();
  const dep = deployments.insert({
    id: newId(ctx.clock),
    project: project.name,
    service: service.name,
    kind: strategy === 'recreate' ? 'recreate' : req.kind,
    color,
    imageRef: req.imageRef,
    imageId: image.id,
    previousId: previous?.deploymentId,
    status: 'running',
    phase: 'starting',
    snapshot: { ...makeSnapshot({ service, imageRef: req.imageRef, imageId: image.id, repoDigests: image.repoDigests, configHash: '' }) },
    user: ctx.user,
    startedAt: started,
  });
  // Started again on purpose: from now on a death of this service alerts (the running deployment silences the deploy itself).
  warnIfHeldByRestore(ctx, service.name, ctx.stopped.get(project.name, service.name));
  ctx.stopped.clear(project.name, service.name);
  const exits = await watchDeploymentExits(ctx.engine, dep.id);
  const run = { ctx, req, dep, color, imageId: image.id, started, exits };
  try {
    const outcome =
      strategy === 'first-start' ? await firstStart(run) : strategy === 'blue-green' ? await blueGreen(run, previous!) : await recreate(run, previous!);
    deployments.update(dep.id, { status: 'succeeded', phase: 'done', finishedAt: ctx.clock() });
    await keepImages(ctx.engine, project.name, service.name, deployments.lastSucceeded(project.name, service.name, service.deploy.keepImages));
    auditOutcome(ctx, outcome.strategy, dep, previous?.info.imageId, 'succeeded');
    return { ...outcome, previousImageId: previous?.info.imageId };
  } catch (err) {
    const rolledBack = err instanceof BerthError && err.code === 'ROLLED_BACK';
    deployments.update(dep.id, { status: rolledBack ? 'rolled_back' : 'failed', phase: 'done', finishedAt: ctx.clock(), error: (err as Error).message });
    auditOutcome(ctx, strategy, dep, previous?.info.imageId, rolledBack ? 'rolled_back' : 'failed', (err as Error).message);
    throw err;
  } finally {
    exits.close();
  }
}

interface Run {
  readonly ctx: DeployContext;
  readonly req: ReplaceRequest;
  readonly dep: Deployment;
  readonly color: Color;
  readonly imageId: string;
  readonly started: number;
  readonly exits: ExitWatch;
}

interface Previous {
  readonly color: Color;
  readonly containerId: string;
  readonly deploymentId: string;
  readonly info: { readonly id: string; readonly imageId: string; readonly ips: Readonly<Record<string, string>> };
}

/** Start the new color and wait until healthy; on failure remove it and rethrow. */
async function startHealthy(run: Run, publishPorts: boolean): Promise<{ containerId: string; ip?: string; healthyMs: number }> {
  const { ctx, req, dep, color } = run;
  const service = req.service;
  const network = primaryNetwork(ctx.project, service);
  ctx.report.step(`${service.name}: starting ${color} from ${req.imageRef} (${run.imageId.slice(7, 19)})`);
  const slot = await startSlot(ctx, service, color, run.imageId, dep.id, publishPorts);
  ctx.deployments.update(dep.id, { phase: 'health', containerId: slot.containerId });
  try {
    const t0 = ctx.clock();
    const info = await waitHealthy(ctx, service, slot.containerId, network, service.deploy.healthTimeoutMs, run.exits.last);
    const healthyMs = ctx.clock() - t0;
    ctx.report.done(`${service.name}: ${color} healthy in ${formatMs(healthyMs)}`);
    return { containerId: slot.containerId, ip: info.ips[network], healthyMs };
  } catch (err) {
    ctx.report.warn(`${service.name}: ${color} failed its health gate; removing it`);
    await ctx.engine.removeContainer(slot.containerId).catch(() => undefined);
    throw new BerthError('DEPLOY_FAILED', (err as Error).message, 'the previous version keeps serving; fix the image or probe and deploy again', { cause: err });
  }
}

async function firstStart(run: Run): Promise<DeployOutcome> {
  const { ctx, req, dep, color } = run;
  const s = await startHealthy(run, !req.service.route);
  ctx.deployments.setLive(ctx.project.name, req.service.name, color, dep.id, s.containerId);
  if (req.service.route && s.ip && (await ctx.edge.isRunning())) {
    await ctx.edge.switchTo(req.service.name, color, { ip: s.ip, port: req.service.route.port });
    await ctx.edge.persist(await currentEdgeView(ctx));
  }
  return outcome(run, 'first-start', s.healthyMs);
}

async function blueGreen(run: Run, previous: Previous): Promise<DeployOutcome> {
  const { ctx, req, dep, color } = run;
  const service = req.service;
  const route = service.route!;
  const network = primaryNetwork(ctx.project, service);
  const s = await startHealthy(run, false);
  const sw = await ctx.edge.switchTo(service.name, color, { ip: s.ip!, port: route.port });
  ctx.deployments.setLive(ctx.project.name, service.name, color, dep.id, s.containerId);
  ctx.deployments.update(dep.id, { phase: 'verify', switchedAt: ctx.clock(), switchMs: sw.ms });
  await ctx.edge.persist(await currentEdgeView(ctx));
  ctx.report.done(`${service.name}: edge switched ${previous.color} → ${color} in ${sw.ms.toFixed(1)} ms`);
  ctx.report.step(`${service.name}: draining ${previous.color} (≤ ${formatMs(service.deploy.drainMs)}), verifying ${color} for ${formatMs(service.deploy.verifyMs)}`);

  const drained = drain(ctx, service.name, previous.color, service.deploy.drainMs);
  const failure = await watchNewColor(ctx, service, s.containerId, network, service.deploy.verifyMs, run.exits.last);
  await drained;
  if (failure) {
    const oldIp = previous.info.ips[network]!;
    await ctx.edge.switchTo(service.name, previous.color, { ip: oldIp, port: route.port });
    ctx.deployments.setLive(ctx.project.name, service.name, previous.color, previous.deploymentId, previous.containerId);
    const rollbackMs = ctx.clock() - failure.seenAt;
    ctx.deployments.update(dep.id, { phase: 'rolled-back' });
    await ctx.edge.persist(await currentEdgeView(ctx));
    ctx.report.warn(`${service.name}: ${color} failed after the switch (${failure.reason}); traffic back on ${previous.color} in ${formatMs(rollbackMs)}`);
    await ctx.edge.retire(service.name, color).catch(() => undefined);
    await ctx.engine.removeContainer(s.containerId).catch(() => undefined);
    throw new BerthError(
      'ROLLED_BACK',
      `${service.name}: deployment ${dep.id} rolled back: ${failure.reason} (traffic restored to ${previous.color} ${formatMs(rollbackMs)} after the failure was seen)`,
      `see \`berth history ${service.name}\` and the container logs above`,
    );
  }
  await ctx.edge.retire(service.name, previous.color);
  ctx.deployments.update(dep.id, { phase: 'cleanup' });
  await stopAndRemove(ctx, service, previous.containerId);
  ctx.report.done(`${service.name}: ${color} verified; ${previous.color} removed`);
  return outcome(run, 'blue-green', s.healthyMs, { switchMs: sw.ms });
}

async function drain(ctx: DeployContext, service: string, color: Color, maxMs: number): Promise<void> {
  const start = ctx.clock();
  while (ctx.clock() - start < maxMs) {
    if ((await ctx.edge.activeSessions(service, color).catch(() => 0)) === 0) return;
    await ctx.sleep(100);
  }
}

async function recreate(run: Run, previous: Previous): Promise<DeployOutcome> {
  const { ctx, req, dep, color } = run;
  const service = req.service;
  const ports = service.ports.filter((p) => p.hostPort !== undefined).map((p) => p.hostPort).join(', ');
  ctx.report.warn(
    `${service.name} has no edge route${ports ? ` (it publishes raw port ${ports})` : ''}: replacing it by stop-and-start, so it will be unavailable for a moment`,
  );
  const gapStart = ctx.clock();
  await ctx.engine.stopContainer(previous.containerId, Math.ceil((service.stopGracePeriodMs ?? 10_000) / 1000));
  let s: Awaited<ReturnType<typeof startHealthy>>;
  try {
    s = await startHealthy(run, true);
  } catch (err) {
    ctx.report.warn(`${service.name}: restarting the previous container`);
    await ctx.engine.startContainer(previous.containerId);
    throw err;
  }
  const gapMs = ctx.clock() - gapStart;
  ctx.deployments.setLive(ctx.project.name, service.name, color, dep.id, s.containerId);
  ctx.deployments.update(dep.id, { phase: 'verify', gapMs });
  ctx.report.done(`${service.name}: recreated; measured gap ${formatMs(gapMs)}; verifying for ${formatMs(service.deploy.verifyMs)}`);
  const failure = await watchNewColor(ctx, service, s.containerId, primaryNetwork(ctx.project, service), service.deploy.verifyMs, run.exits.last);
  if (failure) {
    await ctx.engine.removeContainer(s.containerId).catch(() => undefined);
    await ctx.engine.startContainer(previous.containerId);
    ctx.deployments.setLive(ctx.project.name, service.name, previous.color, previous.deploymentId, previous.containerId);
    throw new BerthError(
      'ROLLED_BACK',
      `${service.name}: deployment ${dep.id} rolled back: ${failure.reason} (previous container restarted ${formatMs(ctx.clock() - failure.seenAt)} after the failure was seen)`,
      `see \`berth history ${service.name}\``,
    );
  }
  ctx.deployments.update(dep.id, { phase: 'cleanup' });
  await ctx.engine.removeContainer(previous.containerId);
  return outcome(run, 'recreate', s.healthyMs, { gapMs });
}

function outcome(run: Run, strategy: DeployOutcome['strategy'], healthyMs: number, extra: { switchMs?: number; gapMs?: number } = {}): DeployOutcome {
  return {
    deploymentId: run.dep.id,
    service: run.req.service.name,
    color: run.color,
    strategy,
    imageRef: run.req.imageRef,
    imageId: run.imageId,
    healthyMs,
    deployMs: run.ctx.clock() - run.started,
    ...extra,
  };
}

function auditOutcome(ctx: DeployContext, strategy: string, dep: Deployment, oldDigest: string | undefined, outcome: string, error?: string): void {
  ctx.audit.append({
    user: ctx.user,
    action: dep.kind,
    project: ctx.project.name,
    target: dep.service,
    oldDigest,
    newDigest: dep.imageId,
    outcome,
    details: { deployment: dep.id, strategy, imageRef: dep.imageRef, color: dep.color, ...(error ? { error } : {}) },
  });
}
