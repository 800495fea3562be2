/** Derive what the edge should route from recorded live colors and the containers' addresses. */
import type { Project, Service } from '../project/model.js';
import type { EdgeView, EdgeServiceView } from '../proxy/edge.js';
import type { DeployContext } from './context.js';

/** Engine name of the network the edge and probes use to reach a service. */
export function primaryNetwork(project: Project, service: Service): string {
  const key = Object.keys(service.networks)[0] ?? 'default';
  return project.networks[key]?.name ?? `${project.name}_${key}`;
}

export async function currentEdgeView(ctx: DeployContext): Promise<EdgeView> {
  const view: Record<string, EdgeServiceView> = {};
  for (const service of Object.values(ctx.project.services)) {
    if (!service.route) continue;
    const live = ctx.deployments.getLive(ctx.project.name, service.name);
    if (!live) continue;
    const info = await ctx.engine.inspectContainer(live.containerId);
    const ip = info?.ips[primaryNetwork(ctx.project, service)];
    if (!ip) continue;
    view[service.name] = { active: live.color, slots: { [live.color]: { ip, port: service.route.port } } };
  }
  return view;
}
