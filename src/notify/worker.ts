/**
 * The outbox worker: delivers pending rows channel by channel, oldest first, and marks each one
 * delivered only after its channel accepted it. A failing channel backs off exponentially
 * (initial → ×2 → … → max); once it counts as down (N failures in a row or failing for T), its
 * pending rows also go to their routes' fallback channels, with one notice that the channel is
 * failing, and a recovery notice when it delivers again. The rows stay queued for the failed
 * channel and go out there once when it recovers.
 *
 * Delivery guarantee: at-least-once at the channel, exactly-once in the normal case. A row is
 * claimed (worker id + lease) before it is sent and marked delivered right after; a worker that
 * dies between the channel's "accepted" and the mark (SIGKILL in a window of about a millisecond)
 * leaves the row pending, and the next worker sends it again. Receivers can drop such a repeat by
 * the stable `Idempotency-Key` header (webhook) or Message-ID (e-mail). Rows already marked
 * delivered are never sent again, and a restarted worker frees the claims of dead workers on this
 * host at once instead of waiting for their lease to end.
 */
import { createHash, randomUUID } from 'node:crypto';
import os from 'node:os';
import { type Clock, systemClock } from '../lib/time.js';
import { notifyDefaults, type RetryPolicy } from '../project/notify-schema.js';
import type { Db } from '../store/db.js';
import { type ChannelHealth, createOutboxStore, type OutboxRow, type OutboxStore } from '../store/notify-outbox.js';
import { type Channel, type Delivery, PermanentDeliveryError } from './channel.js';
import type { NotifyLog } from './log.js';
import { afterFailure, fallbackCopies, noticeRows } from './health.js';
import { channelNotice, channelNoticeKey } from './notices.js';
import type { Notification } from './types.js';

export interface OutboxWorkerOptions {
  readonly db: Db;
  readonly channels: Readonly<Record<string, Channel>>;
  /** Used for notices about a failing channel. */
  readonly project: string;
  readonly clock?: Clock;
  readonly retry?: RetryPolicy;
  /**
   * How often the outbox is looked at without a `kick()` or a due retry (a safety net: rows of this
   * process wake the worker through `kick()`, and a backed-off channel through its own timer); default 30 s.
   */
  readonly pollMs?: number;
  /** A claim older than this is free for another worker; default 2 min. */
  readonly leaseMs?: number;
  /** Delivered rows are deleted after this long; default 30 days. */
  readonly retentionMs?: number;
  readonly workerId?: string;
  readonly log?: NotifyLog;
}

export interface DrainResult {
  readonly delivered: number;
  readonly failed: number;
}

export interface OutboxWorker {
  readonly id: string;
  /** Stops the loop, aborts sends in flight (their rows stay pending) and waits for it to end. */
  stop(): Promise<void>;
  /** Look at the outbox now (new rows were queued). */
  kick(): void;
  /** Drains every channel now (after a drain already in progress); resolves when done. */
  drainOnce(): Promise<DrainResult>;
}

export function startOutboxWorker(opts: OutboxWorkerOptions): OutboxWorker {
  const worker = new Worker(opts);
  worker.start();
  return worker;
}

class Worker implements OutboxWorker {
  readonly id: string;
  private readonly store: OutboxStore;
  private readonly clock: Clock;
  private readonly retry: RetryPolicy;
  private readonly pollMs: number;
  private readonly leaseMs: number;
  private readonly stopping = new AbortController();
  private loop: Promise<void> = Promise.resolve();
  private wake: (() => void) | undefined;
  /** Sets the loop's timer again without a pass (after a `kick()` pass changed when a channel is due). */
  private rearm: (() => void) | undefined;
  /** Each channel drains on its own lane, so a slow SMTP relay never holds up a webhook. */
  private readonly lanes = new Map<string, Lane>();
  private lastPrune = 0;

  constructor(private readonly opts: OutboxWorkerOptions) {
    this.id = opts.workerId ?? `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.store = createOutboxStore(opts.db);
    this.clock = opts.clock ?? systemClock;
    this.retry = opts.retry ?? notifyDefaults.retry;
    this.pollMs = opts.pollMs ?? 30_000;
    this.leaseMs = opts.leaseMs ?? 120_000;
  }

  start(): void {
    const freed = this.store.releaseClaims((w) => w !== this.id && isDeadLocalWorker(w));
    if (freed > 0) this.opts.log?.('info', 'freed outbox rows claimed by a worker that is gone', { rows: freed });
    const orphans = this.store.pending().filter((r) => !Object.hasOwn(this.opts.channels, r.channel));
    if (orphans.length > 0) {
      const channels = [...new Set(orphans.map((r) => r.channel))];
      this.opts.log?.('warn', 'pending notifications for channels no longer in berth.yaml stay queued', { rows: orphans.length, channels });
    }
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort(new Error('notify worker stopping'));
    this.wake?.();
    await this.loop;
    await Promise.allSettled([...this.lanes.values()].map((l) => l.queued ?? l.running));
  }

  kick(): void {
    if (this.stopping.signal.aborted) return;
    this.pass()
      .catch((err: Error) => this.opts.log?.('warn', 'outbox pass failed', { error: err.message }))
      // The pass may have backed a channel off: the loop sets its timer for that retry.
      .finally(() => this.rearm?.());
  }

  drainOnce(): Promise<DrainResult> {
    return this.pass();
  }

  private async run(): Promise<void> {
    // Without channels there is nothing to deliver: no loop, no timer.
    if (Object.keys(this.opts.channels).length === 0) return;
    let due = true;
    while (!this.stopping.signal.aborted) {
      if (due) {
        try {
          await this.pass();
        } catch (err) {
          this.opts.log?.('warn', 'outbox pass failed', { error: (err as Error).message });
        }
      }
      if (this.stopping.signal.aborted) break;
      // One timer: the next retry of a backed-off channel, else the safety-net poll.
      due = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(true), this.waitMs());
        this.wake = () => (clearTimeout(timer), resolve(true));
        this.rearm = () => (clearTimeout(timer), resolve(false));
      });
      this.wake = undefined;
      this.rearm = undefined;
    }
  }

  /** Until the next poll, or sooner when a backed-off channel is due again. */
  private waitMs(): number {
    const now = this.clock();
    let wait = this.pollMs;
    for (const name of Object.keys(this.opts.channels)) {
      const due = this.store.health(name).nextAttemptAt - now;
      if (due > 0) wait = Math.min(wait, due);
    }
    return Math.max(10, wait);
  }

  /** Drains every channel: one that is draining already drains again right after (it may have missed new rows). */
  private async pass(): Promise<DrainResult> {
    const results = await Promise.all(Object.keys(this.opts.channels).map((name) => this.lane(name)));
    this.maybePrune();
    return results.reduce((a, b) => ({ delivered: a.delivered + b.delivered, failed: a.failed + b.failed }), { delivered: 0, failed: 0 });
  }

  private lane(name: string): Promise<DrainResult> {
    let lane = this.lanes.get(name);
    if (!lane) this.lanes.set(name, (lane = {}));
    const l = lane;
    if (!l.running) {
      l.running = this.drainChannel(name).finally(() => (l.running = undefined));
      return l.running;
    }
    l.queued ??= l.running.then(
      () => ((l.queued = undefined), this.lane(name)),
      () => ((l.queued = undefined), this.lane(name)),
    );
    return l.queued;
  }

  private async drainChannel(name: string): Promise<DrainResult> {
    const channel = this.opts.channels[name]!;
    let delivered = 0;
    // New rows queued while the channel is down go to the fallback at once, not after the back-off.
    if (this.store.health(name).downNoticeAt !== undefined) this.fallBack(name, this.store.health(name));
    while (!this.stopping.signal.aborted && this.store.health(name).nextAttemptAt <= this.clock()) {
      const row = this.store.claimNext(name, this.id, this.clock(), this.leaseMs);
      if (!row) break;
      try {
        await channel.send(this.toDelivery(row), this.stopping.signal);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        if (this.stopping.signal.aborted) {
          this.store.unclaim(row.id, this.id);
          break;
        }
        if (err instanceof PermanentDeliveryError) {
          this.setAside(row, message);
          continue;
        }
        this.store.release(row.id, this.id, message);
        this.onFailure(channel, message);
        return { delivered, failed: 1 };
      }
      this.store.markDelivered(row.id, this.id, this.clock());
      delivered++;
      this.onSuccess(channel);
    }
    return { delivered, failed: 0 };
  }

  private toDelivery(row: OutboxRow): Delivery {
    const identity = `${row.project}/${row.channel}/${row.dedupKey}/${row.status}/${row.startsAt}/${row.seq}`;
    return {
      notification: JSON.parse(row.payload) as Notification,
      project: row.project,
      id: createHash('sha256').update(identity).digest('hex').slice(0, 32),
      repeat: row.seq,
      ...(row.reason === 'fallback' && row.origin ? { fallbackFor: row.origin } : {}),
    };
  }

  private onFailure(channel: Channel, error: string): void {
    const now = this.clock();
    const { next, delayMs, down, outageStarts } = afterFailure(this.store.health(channel.name), error, now, this.retry);
    this.store.saveHealth(next);
    this.opts.log?.('warn', 'notification channel failed', { channel: channel.name, failures: next.failures, retryInMs: delayMs, error });
    if (down) this.fallBack(channel.name, next, outageStarts);
  }

  /** Sends the channel's pending rows that have not fallen back yet to their fallbacks, with the failure notice. */
  private fallBack(name: string, h: ChannelHealth, outageStarts = false): void {
    const now = this.clock();
    const { copies, standIns } = fallbackCopies(this.store.takeForFallback(name, now), name, (c) => Object.hasOwn(this.opts.channels, c));
    // With no fallback configured the outage is still reported, on every other channel.
    if (outageStarts && standIns.length === 0) standIns.push(...Object.keys(this.opts.channels).filter((c) => c !== name));
    if (copies.length === 0 && standIns.length === 0) return;
    const notice = channelNotice({
      project: this.opts.project,
      channel: name,
      channelType: this.opts.channels[name]!.type,
      failingSince: h.downNoticeAt ?? h.failingSince ?? now,
      failures: h.failures,
      lastError: h.lastError ?? 'unknown',
      pending: this.store.pending(name).length,
      standIns,
    });
    // The notice first: whoever reads the stand-in channel learns why the copies arrive there.
    if (this.store.enqueue([...noticeRows(this.opts.project, notice, standIns), ...copies], now, 0) > 0) {
      this.opts.log?.('warn', 'channel down: using fallback channels', { channel: name, rows: copies.length, standIns });
      this.kick();
    }
  }

  /** A notification the receiver refuses for good: never retried, but still sent to the route's fallback. */
  private setAside(row: OutboxRow, error: string): void {
    this.store.markFailed(row.id, this.id, error);
    const { copies } = fallbackCopies([row], row.channel, (c) => Object.hasOwn(this.opts.channels, c));
    this.opts.log?.('warn', 'notification refused by its receiver; not retried', { channel: row.channel, dedupKey: row.dedupKey, fallbacks: copies.length, error });
    if (this.store.enqueue(copies, this.clock(), 0) > 0) this.kick();
  }

  private onSuccess(channel: Channel): void {
    const h = this.store.health(channel.name);
    if (h.failures === 0 && h.downNoticeAt === undefined && h.nextAttemptAt === 0) return;
    this.store.saveHealth({ channel: channel.name, failures: 0, nextAttemptAt: 0 });
    if (h.downNoticeAt === undefined) return;
    const now = this.clock();
    const notice = channelNotice({
      project: this.opts.project,
      channel: channel.name,
      channelType: channel.type,
      failingSince: h.downNoticeAt,
      failures: h.failures,
      lastError: h.lastError ?? 'unknown',
      pending: this.store.pending(channel.name).length,
      standIns: [],
      recoveredAt: now,
    });
    const targets = this.store.channelsOf(channelNoticeKey(channel.name), 'firing', h.downNoticeAt);
    this.opts.log?.('info', 'notification channel recovered', { channel: channel.name });
    if (this.store.enqueue(noticeRows(this.opts.project, notice, targets), now, 0) > 0) this.kick();
  }

  private maybePrune(): void {
    const now = this.clock();
    if (now - this.lastPrune < 3_600_000) return;
    this.lastPrune = now;
    this.store.prune(now - (this.opts.retentionMs ?? 30 * 86_400_000));
  }
}

interface Lane {
  running?: Promise<DrainResult>;
  queued?: Promise<DrainResult>;
}

/** `host:pid:nonce` of a worker on this host whose process no longer exists. */
function isDeadLocalWorker(worker: string): boolean {
  const [host, pidText] = worker.split(':');
  const pid = Number(pidText);
  if (host !== os.hostname() || !Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return false; // a stopped worker of this process already gave its rows back
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
