/**
 * The agent's scheduler (croner): generic jobs `{ name, cron, run(signal) }` — backup and
 * replication register theirs with one line. A job never overlaps itself; stop() aborts the
 * running ones and waits for them.
 */
import { Cron } from 'croner';
import { BerthError } from '../lib/errors.js';

export interface Job {
  readonly name: string;
  readonly cron: string;
  run(signal: AbortSignal): Promise<void>;
}

export interface JobStatus {
  readonly name: string;
  readonly cron: string;
  readonly nextRunMs?: number;
  readonly lastStartMs?: number;
  readonly lastEndMs?: number;
  readonly lastError?: string;
  readonly running: boolean;
}

export interface Scheduler {
  add(job: Job): void;
  status(): JobStatus[];
  stop(): Promise<void>;
}

export function createScheduler(opts: { log?: (msg: string, f?: Record<string, unknown>) => void; clock?: () => number } = {}): Scheduler {
  const clock = opts.clock ?? Date.now;
  const controller = new AbortController();
  const entries: Array<{ job: Job; cron: Cron; running?: Promise<void>; lastStartMs?: number; lastEndMs?: number; lastError?: string }> = [];

  return {
    add(job) {
      if (entries.some((e) => e.job.name === job.name)) throw new BerthError('CONFIG', `two scheduled jobs are called ${job.name}`);
      let cron: Cron;
      const entry = { job } as (typeof entries)[number];
      try {
        cron = new Cron(job.cron, { protect: true, unref: false }, async () => {
          if (controller.signal.aborted) return;
          entry.lastStartMs = clock();
          opts.log?.('job start', { job: job.name });
          entry.running = job.run(controller.signal).then(
            () => {
              delete entry.lastError;
              opts.log?.('job done', { job: job.name, ms: clock() - (entry.lastStartMs ?? 0) });
            },
            (err: unknown) => {
              entry.lastError = (err as Error).message;
              opts.log?.('job failed', { job: job.name, err: entry.lastError });
            },
          );
          await entry.running;
          entry.lastEndMs = clock();
          delete entry.running;
        });
      } catch (err) {
        throw new BerthError('CONFIG', `job ${job.name}: invalid cron expression "${job.cron}": ${(err as Error).message}`, 'use five fields like "0 2 * * *" (minute hour day month weekday)');
      }
      entry.cron = cron;
      entries.push(entry);
    },
    status: () =>
      entries.map((e) => ({
        name: e.job.name,
        cron: e.job.cron,
        running: e.running !== undefined,
        ...(e.cron.nextRun() ? { nextRunMs: e.cron.nextRun()!.getTime() } : {}),
        ...(e.lastStartMs !== undefined ? { lastStartMs: e.lastStartMs } : {}),
        ...(e.lastEndMs !== undefined ? { lastEndMs: e.lastEndMs } : {}),
        ...(e.lastError !== undefined ? { lastError: e.lastError } : {}),
      })),
    async stop() {
      controller.abort();
      for (const e of entries) e.cron.stop();
      await Promise.all(entries.map((e) => e.running));
    },
  };
}
