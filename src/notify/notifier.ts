/**
 * The `Notifier` the monitor calls: check and route the notification (a malformed one throws a
 * TypeError), then one synchronous SQLite insert per channel into the outbox. Nothing is sent here; the outbox worker delivers, so a caller is
 * never slowed down by a dead SMTP relay and nothing is lost when the process dies right after.
 */
import type { NotifyConfig } from '../project/notify-schema.js';
import type { Db } from '../store/db.js';
import { createOutboxStore } from '../store/notify-outbox.js';
import { type Clock, systemClock } from '../lib/time.js';
import type { NotifyLog } from './log.js';
import { checkNotification } from './notification-schema.js';
import { routeNotification } from './route.js';
import type { Notification, Notifier } from './types.js';

export interface NotifierOptions {
  readonly db: Db;
  readonly config: NotifyConfig;
  readonly project: string;
  readonly clock?: Clock;
  /** Called after new rows were queued (the worker's `kick`). */
  readonly onQueued?: () => void;
  readonly log?: NotifyLog;
}

export function createNotifier(opts: NotifierOptions): Notifier {
  const store = createOutboxStore(opts.db);
  const clock = opts.clock ?? systemClock;
  return {
    notify(n: Notification): void {
      checkNotification(n);
      const targets = routeNotification(opts.config.routes, n);
      if (targets.length === 0) {
        opts.log?.('warn', 'notification matches no route; not sent', { dedupKey: n.dedupKey, severity: n.severity });
        return;
      }
      const payload = JSON.stringify(n);
      const rows = targets.map((t) => ({
        project: opts.project,
        channel: t.channel,
        dedupKey: n.dedupKey,
        status: n.status,
        startsAt: n.startsAtMs,
        reason: 'route' as const,
        payload,
        fallback: t.fallback,
      }));
      if (store.enqueue(rows, clock(), opts.config.repeatMs) > 0) opts.onQueued?.();
    },
  };
}
