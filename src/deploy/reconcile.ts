/**
 * Bring the host back to a consistent state after a crash (e.g. SIGKILL mid-deploy):
 * exactly one live color per service, the edge pointing at a healthy one, no orphan containers,
 * and no deployment left "running". Runs under the deploy lock before every mutating command.
 */
import type { ContainerInfo } from '../engine/engine.js';
import { isColor, label, otherColor } from '../engine/labels.js';
import type { DeployContext } from './context.js';
import { currentEdgeView } from './edge-view.js';
import { jobServices } from './order.js';

export interface ReconcileReport {
  readonly interrupted: string[];
  readonly removed: string[];
  readonly promoted: string[];
}

export async function reconcile(ctx: DeployContext): Promise<ReconcileReport> {
  const { project, deployments, engine } = ctx;
  const report: ReconcileReport = { interrupted: [], removed: [], promoted: [] };
  for (const dep of deployments.running(project.name)) {
    deployments.update(dep.id, { status: 'interrupted', finishedAt: ctx.clock(), error: 'berth stopped before this deployment finished' });
    report.interrupted.push(dep.id);
  }
  const all = await engine.listContainers({ [label.project]: project.name, [label.role]: 'service' });
  const byService = new Map<string, ContainerInfo[]>();
  for (const c of all) byService.set(c.labels[label.service] ?? '', [...(byService.get(c.labels[label.service] ?? '') ?? []), c]);

  for (const [service, containers] of byService) {
    const live = deployments.getLive(project.name, service);
    let keep = live ? containers.find((c) => c.id === live.containerId) : undefined;
    if (live && (!keep || !keep.running || keep.health === 'unhealthy')) {
      const other = containers.find((c) => c.id !== live.containerId && c.running && c.health !== 'unhealthy' && isColor(c.labels[label.color]));
      if (other) {
        const color = other.labels[label.color] === 'blue' ? 'blue' : 'green';
        deployments.setLive(project.name, service, color, other.labels[label.deployment] ?? live.deploymentId, other.id);
        report.promoted.push(`${service}: ${otherColor(color)} → ${color}`);
        keep = other;
      }
    }
    // e.g. killed during a stop-and-start recreate: the old container is stopped and nothing replaced it.
    // Not one stopped on purpose (a failed restore holds its writers stopped until the data is whole).
    if (keep && !keep.running && project.services[service] && !jobServices(project).has(service) && !ctx.stopped.get(project.name, service)) {
      await engine.startContainer(keep.id);
      report.promoted.push(`${service}: restarted stopped live ${keep.name}`);
    }
    for (const c of containers) {
      if (c.id === keep?.id) continue;
      await engine.removeContainer(c.id);
      report.removed.push(c.name);
    }
  }
  if (report.interrupted.length || report.removed.length || report.promoted.length) {
    ctx.report.warn(
      `reconciled after an interrupted run: ${[
        report.interrupted.length ? `${report.interrupted.length} deployment(s) marked interrupted` : '',
        report.promoted.length ? `live switched (${report.promoted.join(', ')})` : '',
        report.removed.length ? `removed ${report.removed.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('; ')}`,
    );
    ctx.audit.append({ user: ctx.user, action: 'reconcile', project: project.name, target: '*', outcome: 'succeeded', details: { ...report } });
  }
  if (await ctx.edge.isRunning()) await ctx.edge.apply(await currentEdgeView(ctx), { routes: false });
  return report;
}
