/** The agent's scheduled pull (contracts.md: generic `{ name, cron, run(signal) }` jobs). */
import type { Project } from '../project/model.js';
import { pullReplica } from './pull.js';
import { openReplication } from './service.js';

export interface ReplicateJob {
  readonly name: string;
  readonly cron: string;
  run(signal: AbortSignal): Promise<void>;
}

/**
 * One job when `backup.replicate` is configured, none otherwise. A failed pull rejects.
 * `current` gives the project as berth.yaml says at run time (the agent reloads it).
 */
export function replicateJobs(project: Project, current: () => Promise<Project> = async () => project): ReplicateJob[] {
  const cfg = project.replicate;
  if (!cfg) return [];
  return [
    {
      name: `replicate-pull:${project.name}`,
      cron: cfg.cron,
      async run(signal) {
        const now = await current();
        const world = openReplication(now);
        try {
          await pullReplica(world.deps, now, { signal });
        } finally {
          world.close();
        }
      },
    },
  ];
}
