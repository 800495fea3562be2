/** `berth status`: what runs now, read-only (no lock, no reconcile). */
import { label } from '../engine/labels.js';
import type { DeployContext } from './context.js';

export interface ServiceStatus {
  readonly service: string;
  readonly color?: string;
  readonly state: string;
  readonly health?: string;
  readonly image?: string;
  readonly imageId?: string;
  readonly repoDigests: readonly string[];
  readonly startedAt?: string;
  readonly uptimeSeconds?: number;
  readonly route?: { readonly hosts: readonly string[]; readonly port: number };
  readonly deployment?: string;
  readonly extraContainers: string[];
  /** Stopped on purpose (`berth down`, or held by a restore that failed part-way): by whom, when, why. */
  readonly stoppedOnPurpose?: { readonly by: string; readonly at: string; readonly reason: string };
}

export interface ProjectStatus {
  readonly project: string;
  readonly edge: { readonly running: boolean; readonly listeners: string[] };
  readonly services: ServiceStatus[];
}

export async function projectStatus(ctx: DeployContext): Promise<ProjectStatus> {
  const { project, engine, deployments } = ctx;
  const all = await engine.listContainers({ [label.project]: project.name, [label.role]: 'service' });
  const services: ServiceStatus[] = [];
  for (const s of Object.values(project.services).sort((a, b) => a.name.localeCompare(b.name))) {
    const live = deployments.getLive(project.name, s.name);
    const info = live ? all.find((c) => c.id === live.containerId) : undefined;
    const dep = live ? deployments.get(live.deploymentId) : undefined;
    const image = info ? await engine.inspectImage(info.imageId) : undefined;
    const mark = ctx.stopped.get(project.name, s.name);
    const extra = all.filter((c) => c.labels[label.service] === s.name && c.id !== info?.id).map((c) => `${c.name} (${c.state})`);
    services.push({
      service: s.name,
      color: info ? live?.color : undefined,
      state: info ? info.state : 'not running',
      health: info?.health,
      image: dep?.imageRef ?? info?.imageRef,
      imageId: info?.imageId,
      repoDigests: image?.repoDigests ?? [],
      startedAt: info?.startedAt?.toISOString(),
      uptimeSeconds: info?.running && info.startedAt ? Math.round((ctx.clock() - info.startedAt.getTime()) / 1000) : undefined,
      route: s.route && { hosts: s.route.hosts, port: s.route.port },
      deployment: live?.deploymentId,
      extraContainers: extra,
      ...(mark && { stoppedOnPurpose: { by: mark.stoppedBy, at: new Date(mark.stoppedAtMs).toISOString(), reason: mark.reason } }),
    });
  }
  return {
    project: project.name,
    edge: { running: await ctx.edge.isRunning().catch(() => false), listeners: project.edge.listeners.map((l) => `${l.hostIp}:${l.hostPort}${l.defaultService ? ` → ${l.defaultService}` : ''}`) },
    services,
  };
}
