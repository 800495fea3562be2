/** Starting and removing one color of a service. */
import fs from 'node:fs';
import type { ContainerInfo } from '../engine/engine.js';
import { makeDirs } from '../lib/files.js';
import { containerName, type Color } from '../engine/labels.js';
import { buildContainer } from '../engine/specs/container.js';
import type { Service } from '../project/model.js';
import type { DeployContext } from './context.js';

export interface StartedSlot {
  readonly containerId: string;
  readonly configHash: string;
}

export async function startSlot(ctx: DeployContext, service: Service, color: Color, imageId: string, deploymentId: string, publishPorts: boolean): Promise<StartedSlot> {
  const built = buildContainer(ctx.project, service, { color, deploymentId, imageId, publishPorts });
  makeBindSources(service);
  const leftover = await ctx.engine.inspectContainer(containerName(ctx.project.name, service.name, color));
  if (leftover) await ctx.engine.removeContainer(leftover.id);
  const id = await ctx.engine.createContainer(built.spec);
  try {
    for (const n of built.extraNetworks) await ctx.engine.connectNetwork(id, n.name, n.aliases, n);
    await ctx.engine.startContainer(id);
  } catch (err) {
    await ctx.engine.removeContainer(id).catch(() => undefined);
    throw err;
  }
  return { containerId: id, configHash: built.configHash };
}

/**
 * A bind mount's missing source folder is made where Compose would make it (the short syntax
 * `./data:/data`, or `bind.create_host_path: true`); Docker's mount API would refuse it instead.
 * A new checkout, or a project just rebuilt by `restore --all`, has no data folders yet.
 */
function makeBindSources(service: Service): void {
  for (const m of service.mounts) if (m.type === 'bind' && m.createHostPath && m.source && !fs.existsSync(m.source)) makeDirs(m.source);
}

/** Graceful stop (the service's grace period, default 10 s), then remove. */
export async function stopAndRemove(ctx: DeployContext, service: Service, containerId: string): Promise<void> {
  const grace = Math.ceil((service.stopGracePeriodMs ?? 10_000) / 1000);
  await ctx.engine.stopContainer(containerId, grace).catch(() => undefined);
  await ctx.engine.removeContainer(containerId);
}

export function serviceContainers(ctx: DeployContext, service: string): Promise<ContainerInfo[]> {
  return ctx.engine.listContainers({ 'berth.project': ctx.project.name, 'berth.service': service });
}
