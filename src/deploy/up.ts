/**
 * `berth up`: make the host run the project. Idempotent: a service whose live container already
 * has the desired config hash is left alone; a changed one is replaced the zero-downtime way.
 */
import { label } from '../engine/labels.js';
import { buildContainer } from '../engine/specs/container.js';
import { volumeSpec } from '../engine/specs/volume.js';
import { BerthError } from '../lib/errors.js';
import { formatMs } from '../lib/time.js';
import type { Service } from '../project/model.js';
import type { EdgeApplyResult } from '../proxy/edge.js';
import type { DeployContext } from './context.js';
import { currentEdgeView } from './edge-view.js';
import { resolveImage } from './images.js';
import { jobServices, startOrder } from './order.js';
import { preflight } from './preflight.js';
import { replaceService, warnIfHeldByRestore, type DeployOutcome } from './replace.js';
import { startSlot } from './slots.js';
import { newId } from '../lib/ids.js';
import { makeSnapshot } from './snapshot.js';

export interface UpResult {
  readonly created: { readonly networks: string[]; readonly volumes: string[] };
  readonly services: Array<{ readonly service: string; readonly action: 'unchanged' | 'started' | 'replaced' | 'completed'; readonly outcome?: DeployOutcome }>;
  readonly removedOrphans: string[];
  readonly edge: EdgeApplyResult | 'none' | 'removed';
  readonly changed: boolean;
}

export async function up(ctx: DeployContext): Promise<UpResult> {
  const { project, engine } = ctx;
  const order = startOrder(project);
  await preflight(ctx, order);
  const created = await ensureResources(ctx);
  const removedOrphans = await removeOrphans(ctx);
  const routed = Object.values(project.services).some((s) => s.route);
  let edge: UpResult['edge'] = 'none';
  // Bring the edge up to date first when services are already live: a blue-green replace below needs it.
  if (routed && Object.keys(await currentEdgeView(ctx)).length) edge = await ctx.edge.apply(await currentEdgeView(ctx));
  const jobs = jobServices(project);
  const services: UpResult['services'] = [];
  for (const name of order) {
    const service = project.services[name]!;
    await waitForDependencies(ctx, service);
    if (jobs.has(name)) {
      ctx.stopped.clear(project.name, name);
      services.push({ service: name, action: await runJob(ctx, service) });
      continue;
    }
    const live = await liveState(ctx, service);
    const mark = ctx.stopped.get(project.name, name);
    if (live.state === 'unchanged') {
      ctx.stopped.clear(project.name, name);
      services.push({ service: name, action: 'unchanged' });
      continue;
    }
    if (live.state === 'stopped-unchanged' && mark) {
      // Stopped on purpose (held by a failed restore) with the config it should have: started as it is.
      warnIfHeldByRestore(ctx, name, mark);
      await engine.startContainer(live.containerId);
      ctx.stopped.clear(project.name, name);
      ctx.report.done(`${name}: started again (it was stopped on purpose)`);
      services.push({ service: name, action: 'started' });
      continue;
    }
    const hadLive = ctx.deployments.getLive(project.name, name) !== undefined;
    const outcome = await replaceService(ctx, { service, imageRef: service.image, kind: 'up' });
    services.push({ service: name, action: hadLive ? 'replaced' : 'started', outcome });
  }
  if (routed) {
    const final = await ctx.edge.apply(await currentEdgeView(ctx));
    if (edge === 'none' || final !== 'synced') edge = final;
  }
  else if (await engine.inspectContainer(`${project.name}-edge`)) {
    await ctx.edge.remove();
    edge = 'removed';
  }
  if (edge !== 'synced' && edge !== 'none') ctx.report.done(`edge ${edge}`);
  const changed =
    created.networks.length + created.volumes.length + removedOrphans.length > 0 || services.some((s) => s.action !== 'unchanged') || (edge !== 'synced' && edge !== 'none');
  if (changed) {
    ctx.audit.append({
      user: ctx.user,
      action: 'up',
      project: project.name,
      target: '*',
      outcome: 'succeeded',
      details: { services: services.map((s) => `${s.service}:${s.action}`), created, removedOrphans, edge },
    });
  }
  return { created, services, removedOrphans, edge, changed };
}

async function ensureResources(ctx: DeployContext): Promise<UpResult['created']> {
  const { project, engine } = ctx;
  const networks: string[] = [];
  const volumes: string[] = [];
  for (const n of Object.values(project.networks)) {
    if (n.external) {
      if (!(await engine.networkExists(n.name))) throw new BerthError('NOT_FOUND', `external network ${n.name} does not exist`, `create it: docker network create ${n.name}`);
      continue;
    }
    const labels = { ...n.labels, [label.project]: project.name, [label.composeProject]: project.name };
    if (await engine.ensureNetwork({ name: n.name, driver: n.driver, internal: n.internal, labels, driverOpts: n.driverOpts, enableIpv6: n.enableIpv6, ipam: n.ipam })) networks.push(n.name);
  }
  for (const v of Object.values(project.volumes)) {
    if (v.external) continue;
    if (await engine.ensureVolume(volumeSpec(project.name, v))) volumes.push(v.name);
  }
  if (networks.length || volumes.length) ctx.report.done(`created ${[...networks.map((n) => `network ${n}`), ...volumes.map((v) => `volume ${v}`)].join(', ')}`);
  return { networks, volumes };
}

async function removeOrphans(ctx: DeployContext): Promise<string[]> {
  const removed: string[] = [];
  const containers = await ctx.engine.listContainers({ [label.project]: ctx.project.name, [label.role]: 'service' });
  for (const c of containers) {
    const service = c.labels[label.service] ?? '';
    if (ctx.project.services[service]) continue;
    await ctx.engine.removeContainer(c.id);
    ctx.deployments.clearLive(ctx.project.name, service);
    removed.push(c.name);
  }
  if (removed.length) ctx.report.done(`removed containers of services no longer in the project: ${removed.join(', ')}`);
  return removed;
}

/** The live container: running with the desired config hash, stopped with it, or anything else. */
async function liveState(ctx: DeployContext, service: Service): Promise<{ state: 'unchanged' | 'stopped-unchanged'; containerId: string } | { state: 'other' }> {
  const live = ctx.deployments.getLive(ctx.project.name, service.name);
  const info = live && (await ctx.engine.inspectContainer(live.containerId));
  if (!live || !info) return { state: 'other' };
  const image = await resolveImage(ctx.engine, service.image, service.name);
  const desired = buildContainer(ctx.project, service, { color: live.color, deploymentId: '', imageId: image.id, publishPorts: !service.route });
  if (info.labels[label.configHash] !== desired.configHash) return { state: 'other' };
  return { state: info.running ? 'unchanged' : 'stopped-unchanged', containerId: live.containerId };
}

async function waitForDependencies(ctx: DeployContext, service: Service): Promise<void> {
  for (const [dep, cond] of Object.entries(service.dependsOn)) {
    if (cond !== 'service_healthy') continue;
    const depService = ctx.project.services[dep]!;
    const deadline = ctx.clock() + depService.deploy.healthTimeoutMs;
    for (;;) {
      const live = ctx.deployments.getLive(ctx.project.name, dep);
      const info = live && (await ctx.engine.inspectContainer(live.containerId));
      if (info && (info.health === 'healthy' || (!info.health && info.running))) break;
      if (ctx.clock() > deadline) {
        throw new BerthError('HEALTH', `${service.name} waits for ${dep} to be healthy, but it is ${info ? (info.health ?? info.state) : 'not running'}`, `check \`berth logs ${dep}\``);
      }
      await ctx.sleep(250);
    }
  }
}

/** A `service_completed_successfully` dependency: run it to completion once per config. */
async function runJob(ctx: DeployContext, service: Service): Promise<'unchanged' | 'completed'> {
  const live = ctx.deployments.getLive(ctx.project.name, service.name);
  const image = await resolveImage(ctx.engine, service.image, service.name);
  const desired = buildContainer(ctx.project, service, { color: 'blue', deploymentId: '', imageId: image.id, publishPorts: true });
  const current = live && (await ctx.engine.inspectContainer(live.containerId));
  if (current && current.labels[label.configHash] === desired.configHash && !current.running && current.exitCode === 0) return 'unchanged';
  if (current) await ctx.engine.removeContainer(current.id);
  const id = newId(ctx.clock);
  const t0 = ctx.clock();
  ctx.deployments.insert({ id, project: ctx.project.name, service: service.name, kind: 'up', color: 'blue', imageRef: service.image, imageId: image.id, status: 'running', phase: 'job', snapshot: { ...makeSnapshot({ service, imageRef: service.image, imageId: image.id, repoDigests: image.repoDigests, configHash: desired.configHash }) }, user: ctx.user, startedAt: t0 });
  ctx.report.step(`${service.name}: running to completion`);
  const slot = await startSlot(ctx, service, 'blue', image.id, id, true);
  for (;;) {
    const info = await ctx.engine.inspectContainer(slot.containerId);
    if (info && !info.running) {
      if (info.exitCode !== 0) {
        ctx.deployments.update(id, { status: 'failed', finishedAt: ctx.clock(), error: `exit code ${info.exitCode}` });
        const logs = await ctx.engine.logs(info.id, { tail: 15 });
        throw new BerthError('DEPLOY_FAILED', `${service.name} exited with code ${info.exitCode}:\n${logs.trimEnd()}`);
      }
      break;
    }
    await ctx.sleep(250);
  }
  ctx.deployments.setLive(ctx.project.name, service.name, 'blue', id, slot.containerId);
  ctx.deployments.update(id, { status: 'succeeded', phase: 'done', finishedAt: ctx.clock(), containerId: slot.containerId });
  ctx.report.done(`${service.name}: completed in ${formatMs(ctx.clock() - t0)}`);
  return 'completed';
}
