/**
 * The notification outbox: one row per (channel, incident episode, status, repeat), written in
 * the same moment a notification is raised and marked delivered only after the channel accepted
 * it, so a crash, an SMTP outage or a refused webhook loses nothing. Per-channel health (failures
 * in a row, back-off, outage notice) sits beside it. Payloads are opaque JSON here; the notify
 * layer gives them meaning.
 */
import type { Db } from './db.js';

/** Migration entry (notify area): the outbox and per-channel delivery health. */
export const notifySchemaSql = `
  CREATE TABLE notify_outbox (
    id            INTEGER PRIMARY KEY,
    project       TEXT NOT NULL,
    channel       TEXT NOT NULL,
    dedup_key     TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
    starts_at     INTEGER NOT NULL,
    seq           INTEGER NOT NULL DEFAULT 0, -- 0: first delivery; n: nth repeat of a still-firing incident
    reason        TEXT NOT NULL CHECK (reason IN ('route', 'fallback', 'channel-down')),
    origin        TEXT,                       -- for fallback rows: the channel that was down
    payload       TEXT NOT NULL,              -- JSON Notification
    fallback      TEXT NOT NULL DEFAULT '[]', -- JSON array of channel names
    state         TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')), -- failed: refused for good
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    created_at    INTEGER NOT NULL,
    delivered_at  INTEGER,
    fell_back_at  INTEGER,
    claimed_by    TEXT,
    claimed_until INTEGER
  );
  CREATE UNIQUE INDEX notify_outbox_once ON notify_outbox (channel, dedup_key, status, starts_at, seq);
  CREATE INDEX notify_outbox_by_state ON notify_outbox (state, channel, id);

  CREATE TABLE notify_channels (
    channel         TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL DEFAULT 0,
    failing_since   INTEGER,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    down_notice_at  INTEGER -- starts_at of the "channel is down" notice of the current outage
  );
`;

export type OutboxReason = 'route' | 'fallback' | 'channel-down';

export interface OutboxRow {
  readonly id: number;
  readonly project: string;
  readonly channel: string;
  readonly dedupKey: string;
  readonly status: 'firing' | 'resolved';
  readonly startsAt: number;
  readonly seq: number;
  readonly reason: OutboxReason;
  readonly origin?: string;
  readonly payload: string;
  readonly fallback: readonly string[];
  readonly state: 'pending' | 'delivered' | 'failed';
  readonly attempts: number;
  readonly lastError?: string;
  readonly createdAt: number;
  readonly deliveredAt?: number;
  readonly fellBackAt?: number;
}

export interface NewOutboxRow {
  readonly project: string;
  readonly channel: string;
  readonly dedupKey: string;
  readonly status: 'firing' | 'resolved';
  readonly startsAt: number;
  readonly reason: OutboxReason;
  readonly origin?: string;
  readonly payload: string;
  readonly fallback?: readonly string[];
}

export interface ChannelHealth {
  readonly channel: string;
  readonly failures: number;
  readonly failingSince?: number;
  readonly nextAttemptAt: number;
  readonly lastError?: string;
  readonly downNoticeAt?: number;
}

export interface OutboxStore {
  /**
   * Inserts the rows not already there, in one transaction; returns how many were new. A row whose
   * episode+status was already queued or delivered is skipped, except a firing one last delivered
   * `repeatMs` ago or more (0 = never), which is queued again with the next `seq`.
   */
  enqueue(rows: readonly NewOutboxRow[], now: number, repeatMs: number): number;
  /** Claims the oldest pending row of `channel` not claimed by a live worker; undefined when none. */
  claimNext(channel: string, worker: string, now: number, leaseMs: number): OutboxRow | undefined;
  markDelivered(id: number, worker: string, now: number): void;
  /** Sets a claimed row aside for good: the receiver refused this notification itself. */
  markFailed(id: number, worker: string, error: string): void;
  /** Gives a claimed row back untouched (an attempt cut short by shutdown is no attempt). */
  unclaim(id: number, worker: string): void;
  /** Gives a claimed row back after a failed attempt. */
  release(id: number, worker: string, error: string): void;
  /** Drops claims held by workers that are known to be gone (e.g. a SIGKILLed agent on this host). */
  releaseClaims(isGone: (worker: string) => boolean): number;
  pending(channel?: string): OutboxRow[];
  /** Pending rows of `channel` whose fallback has not been used yet; marks them as fallen back. */
  takeForFallback(channel: string, now: number): OutboxRow[];
  channelsOf(dedupKey: string, status: 'firing' | 'resolved', startsAt: number): string[];
  recent(limit: number): OutboxRow[];
  /** Deletes delivered rows delivered before `before`, and rows set aside (failed) queued before it; returns how many. */
  prune(before: number): number;
  health(channel: string): ChannelHealth;
  allHealth(): ChannelHealth[];
  saveHealth(h: ChannelHealth): void;
}

interface RawRow {
  id: number;
  project: string;
  channel: string;
  dedup_key: string;
  status: 'firing' | 'resolved';
  starts_at: number;
  seq: number;
  reason: OutboxReason;
  origin: string | null;
  payload: string;
  fallback: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
  fell_back_at: number | null;
}

interface RawHealth {
  channel: string;
  failures: number;
  failing_since: number | null;
  next_attempt_at: number;
  last_error: string | null;
  down_notice_at: number | null;
}

export function createOutboxStore(db: Db): OutboxStore {
  const latest = db.prepare(
    `SELECT seq, state, delivered_at FROM notify_outbox
     WHERE channel = ? AND dedup_key = ? AND status = ? AND starts_at = ? ORDER BY seq DESC LIMIT 1`,
  );
  const resolvedExists = db.prepare(
    `SELECT 1 FROM notify_outbox WHERE channel = ? AND dedup_key = ? AND status = 'resolved' AND starts_at = ? LIMIT 1`,
  );
  const insert = db.prepare(
    `INSERT OR IGNORE INTO notify_outbox
       (project, channel, dedup_key, status, starts_at, seq, reason, origin, payload, fallback, state, created_at)
     VALUES (@project, @channel, @dedupKey, @status, @startsAt, @seq, @reason, @origin, @payload, @fallback, 'pending', @now)`,
  );
  const claim = db.prepare(
    `UPDATE notify_outbox SET claimed_by = @worker, claimed_until = @until
     WHERE id = (SELECT id FROM notify_outbox
                 WHERE state = 'pending' AND channel = @channel AND (claimed_by IS NULL OR claimed_until < @now)
                 ORDER BY id LIMIT 1)
     RETURNING *`,
  );
  const delivered = db.prepare(
    `UPDATE notify_outbox SET state = 'delivered', delivered_at = ?, attempts = attempts + 1, last_error = NULL,
       claimed_by = NULL, claimed_until = NULL
     WHERE id = ? AND claimed_by = ?`,
  );
  const released = db.prepare(
    `UPDATE notify_outbox SET attempts = attempts + 1, last_error = ?, claimed_by = NULL, claimed_until = NULL
     WHERE id = ? AND claimed_by = ?`,
  );
  const getHealth = db.prepare('SELECT * FROM notify_channels WHERE channel = ?');
  const putHealth = db.prepare(
    `INSERT INTO notify_channels (channel, failures, failing_since, next_attempt_at, last_error, down_notice_at)
     VALUES (@channel, @failures, @failingSince, @nextAttemptAt, @lastError, @downNoticeAt)
     ON CONFLICT (channel) DO UPDATE SET failures = excluded.failures, failing_since = excluded.failing_since,
       next_attempt_at = excluded.next_attempt_at, last_error = excluded.last_error, down_notice_at = excluded.down_notice_at`,
  );
  const pendingAll = db.prepare(`SELECT * FROM notify_outbox WHERE state = 'pending' ORDER BY id`);
  const pendingOf = db.prepare(`SELECT * FROM notify_outbox WHERE state = 'pending' AND channel = ? ORDER BY id`);
  const prune = db.prepare(
    `DELETE FROM notify_outbox WHERE (state = 'delivered' AND delivered_at < @before) OR (state = 'failed' AND created_at < @before)`,
  );

  const enqueueAll = db.transaction((rows: readonly NewOutboxRow[], now: number, repeatMs: number): number => {
    let added = 0;
    for (const r of rows) {
      const last = latest.get(r.channel, r.dedupKey, r.status, r.startsAt) as
        | { seq: number; state: string; delivered_at: number | null }
        | undefined;
      let seq = 0;
      if (last) {
        const due = r.status === 'firing' && repeatMs > 0 && last.delivered_at !== null && now - last.delivered_at >= repeatMs;
        if (!due || resolvedExists.get(r.channel, r.dedupKey, r.startsAt)) continue;
        seq = last.seq + 1;
      }
      const params = { ...r, origin: r.origin ?? null, fallback: JSON.stringify(r.fallback ?? []), seq, now };
      added += insert.run(params).changes;
    }
    return added;
  });

  const takeForFallback = db.transaction((channel: string, now: number): OutboxRow[] => {
    const rows = (
      db
        .prepare(`SELECT * FROM notify_outbox WHERE state = 'pending' AND channel = ? AND fell_back_at IS NULL ORDER BY id`)
        .all(channel) as RawRow[]
    ).map(fromRaw);
    db.prepare(`UPDATE notify_outbox SET fell_back_at = ? WHERE state = 'pending' AND channel = ? AND fell_back_at IS NULL`).run(now, channel);
    return rows;
  });

  return {
    enqueue: (rows, now, repeatMs) => enqueueAll.immediate(rows, now, repeatMs),
    claimNext(channel, worker, now, leaseMs) {
      const row = claim.get({ worker, until: now + leaseMs, channel, now }) as RawRow | undefined;
      return row && fromRaw(row);
    },
    markDelivered(id, worker, now) {
      delivered.run(now, id, worker);
    },
    markFailed(id, worker, error) {
      db.prepare(
        `UPDATE notify_outbox SET state = 'failed', attempts = attempts + 1, last_error = ?, claimed_by = NULL, claimed_until = NULL
         WHERE id = ? AND claimed_by = ?`,
      ).run(error.slice(0, 2000), id, worker);
    },
    unclaim(id, worker) {
      db.prepare('UPDATE notify_outbox SET claimed_by = NULL, claimed_until = NULL WHERE id = ? AND claimed_by = ?').run(id, worker);
    },
    release(id, worker, error) {
      released.run(error.slice(0, 2000), id, worker);
    },
    releaseClaims(isGone) {
      const holders = db.prepare('SELECT DISTINCT claimed_by FROM notify_outbox WHERE claimed_by IS NOT NULL').pluck().all() as string[];
      let n = 0;
      for (const w of holders.filter(isGone)) {
        n += db.prepare('UPDATE notify_outbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ?').run(w).changes;
      }
      return n;
    },
    pending(channel) {
      return ((channel ? pendingOf.all(channel) : pendingAll.all()) as RawRow[]).map(fromRaw);
    },
    takeForFallback: (channel, now) => takeForFallback.immediate(channel, now),
    channelsOf(dedupKey, status, startsAt) {
      return db
        .prepare('SELECT DISTINCT channel FROM notify_outbox WHERE dedup_key = ? AND status = ? AND starts_at = ? ORDER BY channel')
        .pluck()
        .all(dedupKey, status, startsAt) as string[];
    },
    recent(limit) {
      return (db.prepare('SELECT * FROM notify_outbox ORDER BY id DESC LIMIT ?').all(limit) as RawRow[]).map(fromRaw);
    },
    prune(before) {
      return prune.run({ before }).changes;
    },
    health(channel) {
      const raw = getHealth.get(channel) as RawHealth | undefined;
      return raw ? healthFromRaw(raw) : { channel, failures: 0, nextAttemptAt: 0 };
    },
    allHealth() {
      return (db.prepare('SELECT * FROM notify_channels ORDER BY channel').all() as RawHealth[]).map(healthFromRaw);
    },
    saveHealth(h) {
      putHealth.run({
        channel: h.channel,
        failures: h.failures,
        failingSince: h.failingSince ?? null,
        nextAttemptAt: h.nextAttemptAt,
        lastError: h.lastError ?? null,
        downNoticeAt: h.downNoticeAt ?? null,
      });
    },
  };
}

function fromRaw(r: RawRow): OutboxRow {
  return {
    id: r.id,
    project: r.project,
    channel: r.channel,
    dedupKey: r.dedup_key,
    status: r.status,
    startsAt: r.starts_at,
    seq: r.seq,
    reason: r.reason,
    ...(r.origin !== null ? { origin: r.origin } : {}),
    payload: r.payload,
    fallback: JSON.parse(r.fallback) as string[],
    state: r.state,
    attempts: r.attempts,
    ...(r.last_error !== null ? { lastError: r.last_error } : {}),
    createdAt: r.created_at,
    ...(r.delivered_at !== null ? { deliveredAt: r.delivered_at } : {}),
    ...(r.fell_back_at !== null ? { fellBackAt: r.fell_back_at } : {}),
  };
}

function healthFromRaw(r: RawHealth): ChannelHealth {
  return {
    channel: r.channel,
    failures: r.failures,
    ...(r.failing_since !== null ? { failingSince: r.failing_since } : {}),
    nextAttemptAt: r.next_attempt_at,
    ...(r.last_error !== null ? { lastError: r.last_error } : {}),
    ...(r.down_notice_at !== null ? { downNoticeAt: r.down_notice_at } : {}),
  };
}
