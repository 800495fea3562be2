/** Start order from depends_on (Kahn's algorithm, ties broken by name for stable output). */
import { BerthError } from '../lib/errors.js';
import type { Project } from '../project/model.js';

export function startOrder(project: Project): string[] {
  const pending = new Map(Object.values(project.services).map((s) => [s.name, new Set(Object.keys(s.dependsOn))]));
  const order: string[] = [];
  while (pending.size) {
    const ready = [...pending].filter(([, deps]) => [...deps].every((d) => !pending.has(d))).map(([n]) => n).sort();
    if (!ready.length) {
      throw new BerthError('CONFIG', `depends_on has a cycle between: ${[...pending.keys()].sort().join(', ')}`, 'remove one of the depends_on entries');
    }
    for (const n of ready) {
      order.push(n);
      pending.delete(n);
    }
  }
  return order;
}

/** Services some other service waits on with `service_completed_successfully`: run-to-completion jobs. */
export function jobServices(project: Project): Set<string> {
  const jobs = new Set<string>();
  for (const s of Object.values(project.services)) {
    for (const [dep, cond] of Object.entries(s.dependsOn)) if (cond === 'service_completed_successfully') jobs.add(dep);
  }
  return jobs;
}
