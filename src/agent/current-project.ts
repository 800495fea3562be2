/**
 * The project as its files say now, for work the agent starts long after it started: a backup
 * run (nightly or `backup run --agent`) honours a berth.yaml edited since, as a run made by the
 * CLI would. A file that no longer loads fails that run with the loader's own error (file:line)
 * and the agent keeps running. The project's name and state dir cannot change under a running
 * agent (its lock, store and socket belong to them), and a new schedule (`backup.schedule`,
 * `backup.verify.schedule`, `backup.replicate.cron`, a source's own `schedule`) takes effect at the agent's restart: both are said, not silently ignored.
 */
import { BerthError } from '../lib/errors.js';
import { ownSchedules } from '../project/backup-schema.js';
import type { Project } from '../project/model.js';
import type { Log } from './log.js';

export type CurrentProject = () => Promise<Project>;

export function currentProject(started: Project, load: () => Promise<Project>, log: Log): CurrentProject {
  const schedules = (p: Project) => ({
    'backup.schedule': p.backup?.schedule ?? null,
    'backup.verify.schedule': p.backup?.verifySchedule ?? null,
    'backup.replicate.cron': p.replicate?.cron ?? null,
    ...Object.fromEntries(Object.entries(p.backup ? ownSchedules(p.backup) : {}).map(([source, cron]) => [`backup.sources.${source}.schedule`, cron])),
  });
  const running = schedules(started);
  const runningKey = JSON.stringify(running);
  let lastKey = runningKey;
  return async () => {
    const now = await load();
    if (now.name !== started.name || now.stateDir !== started.stateDir) {
      throw new BerthError(
        'CONFIG',
        `berth.yaml now describes project ${now.name} (state dir ${now.stateDir}), but this agent runs ${started.name} (state dir ${started.stateDir})`,
        'restart the agent (SIGTERM, then `berth agent`) to switch to the new project',
      );
    }
    const configured = schedules(now);
    const key = JSON.stringify(configured);
    // Said once per change, not at every run.
    if (key !== lastKey && key !== runningKey) log('a schedule changed in berth.yaml; it takes effect when the agent restarts', { level: 'warn', running, configured });
    lastKey = key;
    return now;
  };
}
