/**
 * Pure pieces of the worker's channel-health state machine: what a failure does to a channel's
 * health (back-off, down or not), which fallback copies the pending rows of a down channel make,
 * and the outbox rows of a notice. The worker performs what these return.
 */
import type { RetryPolicy } from '../project/notify-schema.js';
import type { ChannelHealth, NewOutboxRow, OutboxRow } from '../store/notify-outbox.js';
import type { Notification } from './types.js';

export interface FailureOutcome {
  readonly next: ChannelHealth;
  readonly delayMs: number;
  /** The channel counts as down (N failures in a row, or failing for T). */
  readonly down: boolean;
  /** This failure is the one that made it down. */
  readonly outageStarts: boolean;
}

export function afterFailure(h: ChannelHealth, error: string, now: number, retry: RetryPolicy): FailureOutcome {
  const failures = h.failures + 1;
  const failingSince = h.failingSince ?? now;
  const delayMs = Math.min(retry.maxMs, retry.initialMs * 2 ** Math.min(failures - 1, 30));
  const down = failures >= retry.fallbackAttempts || now - failingSince >= retry.fallbackAfterMs;
  const downNoticeAt = h.downNoticeAt ?? (down ? failingSince : undefined);
  return {
    next: { channel: h.channel, failures, failingSince, nextAttemptAt: now + delayMs, lastError: error, ...(downNoticeAt !== undefined ? { downNoticeAt } : {}) },
    delayMs,
    down,
    outageStarts: down && h.downNoticeAt === undefined,
  };
}

/** Copies of a down channel's rows for their fallback channels (only channels that exist), and who stands in. */
export function fallbackCopies(rows: readonly OutboxRow[], down: string, exists: (channel: string) => boolean): { copies: NewOutboxRow[]; standIns: string[] } {
  const standIns = new Set<string>();
  const copies: NewOutboxRow[] = [];
  for (const row of rows) {
    for (const f of row.fallback) {
      if (f === down || !exists(f)) continue;
      standIns.add(f);
      const { project, dedupKey, status, startsAt, payload } = row;
      copies.push({ project, channel: f, dedupKey, status, startsAt, reason: 'fallback', origin: down, payload });
    }
  }
  return { copies, standIns: [...standIns] };
}

export function noticeRows(project: string, notice: Notification, channels: readonly string[]): NewOutboxRow[] {
  const payload = JSON.stringify(notice);
  return channels.map((channel) => ({
    project,
    channel,
    dedupKey: notice.dedupKey,
    status: notice.status,
    startsAt: notice.startsAtMs,
    reason: 'channel-down',
    payload,
  }));
}
