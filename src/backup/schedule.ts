/** The backup schedules (`backup.schedule`, `backup.verify.schedule`, cron) and the jobs `berth agent` runs. */
import { Cron } from 'croner';
import type { Reporter } from '../lib/reporter.js';
import { silentReporter } from '../lib/reporter.js';
import type { Project } from '../project/model.js';
import { openBackupContext, requireBackup } from './context.js';
import { pruneBackups } from './prune.js';
import { runBackup } from './run.js';
import { verifyBackups } from './verify.js';
import { BerthError } from '../lib/errors.js';

export function nextRuns(cron: string, count: number, from: Date = new Date()): Date[] {
  return new Cron(cron, { paused: true }).nextRuns(count, from);
}

/** Generic agent job shape (contracts.md). */
export interface AgentJob {
  readonly name: string;
  readonly cron: string;
  run(signal: AbortSignal): Promise<void>;
}

/**
 * The nightly backup run, followed by the retention prune when the run fully succeeded; and,
 * unless `backup.verify` is false, the scheduled verify (restic check of 10 % of the data, then a
 * restore drill of every source's newest snapshot), whose outcome the `backup` probe reports.
 * `current` gives the project as berth.yaml says at run time (the agent reloads it; sources
 * added or changed since the agent started are honoured); the schedule is the one of `project`.
 */
export function backupJobs(project: Project, report: Reporter = silentReporter, current: () => Promise<Project> = async () => project): AgentJob[] {
  if (!project.backup) return [];
  const cfg = requireBackup(project);
  return [
    {
      name: `backup:${project.name}`,
      cron: cfg.schedule,
      async run(signal) {
        const { ctx, close } = openBackupContext(await current(), report);
        try {
          const outcome = await runBackup(ctx);
          if (outcome.status !== 'succeeded') {
            const failed = outcome.results.filter((r) => r.status === 'failed').map((r) => `${r.source} (${r.error})`);
            throw new BerthError('BACKUP', `backup run ${outcome.runId} ${outcome.status}: ${failed.join(', ')}`);
          }
          if (!signal.aborted) await pruneBackups(ctx);
        } finally {
          close();
        }
      },
    },
    ...(cfg.verifySchedule ? [verifyJob(project, cfg.verifySchedule, report, current)] : []),
  ];
}

function verifyJob(project: Project, cron: string, report: Reporter, current: () => Promise<Project>): AgentJob {
  return {
    name: `verify:${project.name}`,
    cron,
    async run() {
      const { ctx, close } = openBackupContext(await current(), report);
      try {
        const outcome = await verifyBackups(ctx);
        if (!outcome.ok) {
          const failed = [...(outcome.check.ok ? [] : ['restic check']), ...outcome.drills.filter((d) => !d.ok).map((d) => `${d.source} drill`)];
          throw new BerthError('VERIFY', `backup verify ${outcome.verifyId} failed: ${failed.join(', ')}`);
        }
      } finally {
        close();
      }
    },
  };
}
