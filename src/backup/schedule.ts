/** The backup schedules (`backup.schedule`, `backup.verify.schedule`, cron) and the jobs `berth agent` runs. */
import { setTimeout as sleep } from 'node:timers/promises';
import { Cron } from 'croner';
import { isProcessAlive } from '../deploy/lock.js';
import { BerthError } from '../lib/errors.js';
import type { Reporter } from '../lib/reporter.js';
import { silentReporter } from '../lib/reporter.js';
import type { RetryComing } from '../store/backups.js';
import { formatMs } from '../lib/time.js';
import type { Project } from '../project/model.js';
import { effectiveSources, ownSchedules } from '../project/backup-schema.js';
import { type BackupContext, openBackupContext, requireBackup } from './context.js';
import { pruneBackups } from './prune.js';
import { type RunOutcome, runBackup, runnerMayBeAlive } from './run.js';
import { verifyBackups } from './verify.js';

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
 * The nightly backup run (failed sources backed up again: `withRetries`), followed by the
 * retention prune when every source was stored; and,
 * unless `backup.verify` is false, the scheduled verify (restic check of 10 % of the data, then a
 * restore drill of every source's newest snapshot), whose outcome the `backup` probe reports.
 * `current` gives the project as berth.yaml says at run time (the agent reloads it; sources
 * added or changed since the agent started are honoured); the schedule is the one of `project`.
 */
export interface VerifyWait {
  /** How often the verify job looks again for a backup run still going. */
  readonly pollMs: number;
  /** How long it waits for one at most, then verifies anyway (and meets restic's lock, if any). */
  readonly maxMs: number;
}

export const verifyWaitDefaults: VerifyWait = { pollMs: 30_000, maxMs: 6 * 3_600_000 };

export function backupJobs(project: Project, report: Reporter = silentReporter, current: () => Promise<Project> = async () => project, wait: VerifyWait = verifyWaitDefaults): AgentJob[] {
  if (!project.backup) return [];
  const cfg = requireBackup(project);
  // The nightly job holds restic's lock from its backup run through its prune; the verify waits for all of it.
  const nightly = { active: false };
  // The sources with a job of their own: those scheduled when the agent started (a schedule added since waits for its restart).
  const own = ownSchedules(cfg);
  return [
    {
      name: `backup:${project.name}`,
      cron: cfg.schedule,
      async run(signal) {
        const { ctx, close } = openBackupContext(await current(), report, signal);
        nightly.active = true;
        try {
          // Sources with a job of their own (still scheduled) are backed up by it, not here; the prune is for all.
          const sources = effectiveSources(requireBackup(ctx.project)).filter((s) => !(s.schedule && s.name in own)).map((s) => s.name);
          if (sources.length) {
            const outcome = await withRetries(ctx, await runBackup(ctx, { sources }), signal);
            if (outcome.status !== 'succeeded') throw runFailed(outcome);
          }
          if (!signal.aborted) await pruneBackups(ctx);
        } finally {
          nightly.active = false;
          close();
        }
      },
    },
    ...Object.entries(own).map(([source, cron]) => sourceJob(project.name, source, cron, report, current)),
    ...(cfg.verifySchedule ? [verifyJob(project, cfg.verifySchedule, report, current, wait, () => nightly.active)] : []),
  ];
}

function runFailed(outcome: RunOutcome): BerthError {
  const failed = outcome.results.filter((r) => r.status === 'failed').map((r) => `${r.source} (${r.error})`);
  return new BerthError('BACKUP', `backup run ${outcome.runId} ${outcome.status}: ${failed.join(', ')}`);
}

/**
 * A source with a schedule of its own (`schedule:` on it, e.g. every 15 minutes for a recovery
 * point the nightly run cannot give): a backup run of that source alone on it. No retries (the
 * next run comes soon) and no prune (the nightly job's forgets and prunes every source by the
 * retention). A source no longer in berth.yaml, or no longer scheduled, is skipped until the
 * agent restarts and drops the job.
 */
function sourceJob(project: string, source: string, cron: string, report: Reporter, current: () => Promise<Project>): AgentJob {
  return {
    name: `backup:${project}:${source}`,
    cron,
    async run(signal) {
      const now = await current();
      const still = now.backup && ownSchedules(now.backup)[source];
      if (!still) {
        report.warn(`backup:${project}:${source}: source ${source} has no schedule of its own in berth.yaml any more; skipped (restart the agent to drop this job)`);
        return;
      }
      const { ctx, close } = openBackupContext(now, report, signal);
      try {
        const outcome = await runBackup(ctx, { sources: [source] });
        if (outcome.status !== 'succeeded') throw runFailed(outcome);
      } finally {
        close();
      }
    },
  };
}

/**
 * The sources a nightly run could not back up (a database restarting at that hour, a disk not
 * yet mounted) are backed up again, `backup.retries` times, `backup.retry_wait` apart; each retry
 * is a run of its own. Returns the outcome with every source's latest result, `succeeded` once
 * all are stored. A run the repository refused outright (it threw) is not retried here.
 */
async function withRetries(ctx: BackupContext, first: RunOutcome, signal: AbortSignal): Promise<RunOutcome> {
  const cfg = requireBackup(ctx.project);
  let outcome = first;
  for (let retry = 1; retry <= cfg.retries && outcome.status !== 'succeeded' && !signal.aborted; retry++) {
    const failed = outcome.results.filter((r) => r.status === 'failed').map((r) => r.source);
    ctx.report.warn(`backup run ${outcome.runId} ${outcome.status}: ${failed.join(', ')} failed; backing ${failed.length === 1 ? 'it' : 'them'} up again in ${formatMs(cfg.retryWaitMs)} (retry ${retry} of ${cfg.retries})`);
    // Said in the run's record: the backup probe does not alert for a failure whose retry is due.
    ctx.backups.setRetryAt(outcome.runId, ctx.clock() + cfg.retryWaitMs);
    await sleep(cfg.retryWaitMs, undefined, { signal }).catch(() => undefined); // ends at once when the agent stops
    if (signal.aborted) {
      ctx.backups.setRetryAt(outcome.runId, undefined); // no retry comes: the failure stands
      break;
    }
    const again = await runBackup(ctx, { sources: failed });
    const results = outcome.results.map((r) => again.results.find((a) => a.source === r.source) ?? r);
    const stored = results.filter((r) => r.status === 'succeeded').length;
    outcome = { ...again, results, status: stored === results.length ? 'succeeded' : stored > 0 ? 'partial' : 'failed' };
  }
  return outcome;
}

/** A failed run's recorded retry still comes while the agent that made the run may be at it. */
export const retryComing: RetryComing = runnerMayBeAlive;

/**
 * The scheduled verify. A backup run still going on this host (a long first run, a big change)
 * holds restic's lock, which `restic check` needs alone: the verify waits for it to end instead of
 * failing, so a slow night does not read as a failed verify until the next one.
 */
function verifyJob(project: Project, cron: string, report: Reporter, current: () => Promise<Project>, wait: VerifyWait, nightlyActive: () => boolean): AgentJob {
  return {
    name: `verify:${project.name}`,
    cron,
    async run(signal) {
      const { ctx, close } = openBackupContext(await current(), report, signal);
      try {
        await untilNoBackupRunning(ctx, wait, nightlyActive, signal);
        if (signal.aborted) return;
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

/** Waits while a backup run of this project goes on here (any process), or this agent's nightly job (run, then prune). */
async function untilNoBackupRunning(ctx: BackupContext, wait: VerifyWait, nightlyActive: () => boolean, signal: AbortSignal): Promise<void> {
  const deadline = ctx.clock() + wait.maxMs;
  let said = false;
  for (;;) {
    const run = ctx.backups.runs(ctx.project.name, 20).find((r) => r.status === 'running' && r.host === ctx.host && isProcessAlive(r.pid));
    const what = run ? `backup run ${run.id} (pid ${run.pid})` : nightlyActive() ? 'the nightly backup job (its prune)' : undefined;
    if (!what || signal.aborted) return;
    if (ctx.clock() >= deadline) {
      ctx.report.warn(`${what} is still going after ${Math.round(wait.maxMs / 60_000)} min; verifying anyway`);
      return;
    }
    if (!said) ctx.report.info(`waiting for ${what} to end before verifying`);
    said = true;
    await sleep(wait.pollMs, undefined, { signal }).catch(() => undefined); // ends at once when the agent stops
  }
}
