/**
 * Domain services behind `berth notify test` and `berth notify status` (callable from the agent
 * too): send a test notification through the real outbox and channels and say what happened;
 * report the outbox and each channel's health.
 */
import { type Clock, systemClock } from '../lib/time.js';
import type { NotifyConfig } from '../project/notify-schema.js';
import type { Db } from '../store/db.js';
import { type ChannelHealth, createOutboxStore, type OutboxRow } from '../store/notify-outbox.js';
import type { FetchLike } from './channel.js';
import { createChannels } from './channels.js';
import type { Notification } from './types.js';
import { startOutboxWorker } from './worker.js';

export interface TestResult {
  readonly channel: string;
  readonly delivered: boolean;
  /** Queued → accepted by the receiver. */
  readonly ms?: number;
  readonly attempts: number;
  readonly error?: string;
}

export interface TestOptions {
  readonly db: Db;
  readonly project: string;
  readonly config: NotifyConfig;
  /** Default: every configured channel. */
  readonly channels?: readonly string[];
  readonly timeoutMs?: number;
  readonly clock?: Clock;
  readonly fetch?: FetchLike;
}

export async function sendTestNotification(opts: TestOptions): Promise<TestResult[]> {
  const clock = opts.clock ?? systemClock;
  const names = opts.channels && opts.channels.length > 0 ? [...opts.channels] : Object.keys(opts.config.channels);
  const store = createOutboxStore(opts.db);
  const t0 = clock();
  const n: Notification = {
    dedupKey: `berth/test/${t0}`,
    status: 'firing',
    severity: 'info',
    title: `[TEST] ${opts.project}: berth notification test`,
    summary: `A test notification sent by \`berth notify test\` at ${new Date(t0).toISOString()}; nothing is wrong.`,
    details: [{ label: 'Channels tested', value: names.join(', ') }],
    labels: { project: opts.project, alertname: 'BerthNotifyTest', severity: 'info' },
    startsAtMs: t0,
  };
  const payload = JSON.stringify(n);
  const rows = names.map((channel) => ({ project: opts.project, channel, dedupKey: n.dedupKey, status: n.status, startsAt: t0, reason: 'route' as const, payload }));
  store.enqueue(rows, t0, 0);
  const channels = createChannels(opts.config, opts.fetch ? { fetch: opts.fetch } : {});
  const worker = startOutboxWorker({ db: opts.db, channels, project: opts.project, retry: opts.config.retry, clock, pollMs: 200 });
  const mine = (): OutboxRow[] => store.recent(500).filter((r) => r.dedupKey === n.dedupKey);
  try {
    const deadline = t0 + (opts.timeoutMs ?? 20_000);
    while (clock() < deadline && mine().some((r) => r.state === 'pending')) await new Promise((r) => setTimeout(r, 50));
  } finally {
    await worker.stop();
    await Promise.all(Object.values(channels).map((c) => c.close()));
  }
  return names.map((channel) => {
    const row = mine().find((r) => r.channel === channel);
    const delivered = row?.state === 'delivered';
    return {
      channel,
      delivered,
      ...(delivered && row.deliveredAt !== undefined ? { ms: row.deliveredAt - t0 } : {}),
      attempts: row?.attempts ?? 0,
      ...(!delivered ? { error: row?.lastError ?? store.health(channel).lastError ?? 'not attempted before the timeout' } : {}),
    };
  });
}

export interface OutboxStatus {
  readonly channels: ReadonlyArray<ChannelHealth & { readonly type: string; readonly pending: number; readonly oldestPendingAt?: number }>;
  readonly recent: readonly OutboxRow[];
}

export function outboxStatus(db: Db, config: NotifyConfig, recent = 20): OutboxStatus {
  const store = createOutboxStore(db);
  const pending = store.pending();
  const names = [...new Set([...Object.keys(config.channels), ...pending.map((r) => r.channel)])];
  return {
    channels: names.map((name) => {
      const mine = pending.filter((r) => r.channel === name);
      return {
        ...store.health(name),
        type: config.channels[name]?.type ?? '(not configured)',
        pending: mine.length,
        ...(mine[0] ? { oldestPendingAt: mine[0].createdAt } : {}),
      };
    }),
    recent: store.recent(recent),
  };
}
