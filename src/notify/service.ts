/**
 * Everything the agent needs for notifications in one call: channels from the project's
 * `notify:` config, the outbox worker, and a `Notifier` that wakes the worker on each new row.
 */
import type { Clock } from '../lib/time.js';
import { notifyDefaults, type NotifyConfig } from '../project/notify-schema.js';
import type { Db } from '../store/db.js';
import type { Channel, FetchLike } from './channel.js';
import { createChannels } from './channels.js';
import type { NotifyLog } from './log.js';
import { createNotifier } from './notifier.js';
import type { Notifier } from './types.js';
import { type OutboxWorker, startOutboxWorker } from './worker.js';

export interface NotificationsOptions {
  readonly db: Db;
  readonly project: string;
  /** `project.notify`; undefined (no `notify:` in berth.yaml) gives a notifier that only logs. */
  readonly config: NotifyConfig | undefined;
  readonly clock?: Clock;
  readonly log?: NotifyLog;
  readonly fetch?: FetchLike;
  readonly pollMs?: number;
}

export interface Notifications {
  readonly notifier: Notifier;
  readonly worker: OutboxWorker;
  readonly channels: Readonly<Record<string, Channel>>;
  /** Stops the worker (pending rows stay queued for the next start) and closes the channels. */
  stop(): Promise<void>;
}

const noChannels: NotifyConfig = { channels: {}, routes: [], repeatMs: 0, retry: notifyDefaults.retry };

export function startNotifications(options: NotificationsOptions): Notifications {
  const opts = { ...options, config: options.config ?? noChannels };
  const channels = createChannels(opts.config, opts.fetch ? { fetch: opts.fetch } : {});
  const worker = startOutboxWorker({
    db: opts.db,
    channels,
    project: opts.project,
    retry: opts.config.retry,
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.log ? { log: opts.log } : {}),
    ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}),
  });
  const notifier = createNotifier({
    db: opts.db,
    config: opts.config,
    project: opts.project,
    onQueued: () => worker.kick(),
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
  return {
    notifier,
    worker,
    channels,
    async stop() {
      await worker.stop();
      await Promise.all(Object.values(channels).map((c) => c.close()));
    },
  };
}
