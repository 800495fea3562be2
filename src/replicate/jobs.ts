/** The agent's scheduled pull (contracts.md: generic `{ name, cron, run(signal) }` jobs). */
import type { Project } from '../project/model.js';
import { pullReplica } from './pull.js';
import { openReplication } from './service.js';

export interface ReplicateJob {
  readonly name: string;
  readonly cron: string;
  run(signal: AbortSignal): Promise<void>;
}

/** One job when `backup.replicate` is configured, none otherwise. A failed pull rejects. */
export function replicateJobs(project: Project): ReplicateJob[] {
  const cfg = project.replicate;
  if (!cfg) return [];
  return [
    {
      name: `replicate-pull:${project.name}`,
      cron: cfg.cron,
      async run(signal) {
        const world = openReplication(project);
        try {
          await pullReplica(world.deps, project, { signal });
        } finally {
          world.close();
        }
      },
    },
  ];
}
