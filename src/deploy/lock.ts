/**
 * One deploy at a time per project: a row in the `locks` table, taken in an IMMEDIATE
 * transaction so two processes can't both see it free. A lock whose process died on this host
 * (SIGKILL, OOM, power loss) is stale and is cleared by the next acquire.
 */
import { BerthError } from '../lib/errors.js';
import { formatMs, type Clock, type Sleep } from '../lib/time.js';
import type { Db } from '../store/db.js';

export interface LockHolder {
  readonly project: string;
  readonly pid: number;
  readonly host: string;
  readonly user: string;
  readonly command: string;
  readonly acquiredAt: number;
}

export interface LockHandle {
  readonly holder: LockHolder;
  /** Remove this lock's row if it is still ours; true if it was. Safe to call more than once. */
  release(): boolean;
}

export interface AcquireOptions {
  /** Queue behind the current holder (true) or fail at once with LOCK_HELD (false). */
  readonly wait: boolean;
  /** Give up waiting after this long; without it, wait as long as it takes. */
  readonly timeoutMs?: number;
  /** Called once, when the lock is found held and we start waiting. */
  readonly onWait?: (holder: LockHolder) => void;
  /** Called when a lock left by a dead process on this host was cleared. */
  readonly onStale?: (holder: LockHolder) => void;
}

export interface DeployLock {
  acquire(project: string, command: string, opts: AcquireOptions): Promise<LockHandle>;
  holder(project: string): LockHolder | undefined;
}

export interface DeployLockDeps {
  readonly clock: Clock;
  readonly sleep: Sleep;
  readonly pid: number;
  readonly host: string;
  readonly user: string;
  /** Default: `process.kill(pid, 0)` succeeds or fails with EPERM. */
  readonly isAlive?: (pid: number) => boolean;
  /** When this process started (ms, same clock); a lock with our pid taken earlier is a reused pid. */
  readonly processStartedAt?: number;
  readonly pollMs?: number;
}

interface LockRow {
  project: string;
  pid: number;
  host: string;
  user: string;
  command: string;
  acquired_at: number;
}

type Attempt = { readonly taken: LockHolder; readonly stale?: LockHolder } | { readonly held: LockHolder };

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

export function createDeployLock(db: Db, deps: DeployLockDeps): DeployLock {
  const isAlive = deps.isAlive ?? isProcessAlive;
  const startedAt = deps.processStartedAt ?? Math.floor(performance.timeOrigin);
  const pollMs = deps.pollMs ?? 200;
  const q = {
    get: db.prepare('SELECT * FROM locks WHERE project = ?'),
    insert: db.prepare('INSERT INTO locks (project, pid, host, user, command, acquired_at) VALUES (?, ?, ?, ?, ?, ?)'),
    remove: db.prepare('DELETE FROM locks WHERE project = ? AND pid = ? AND host = ? AND acquired_at = ?'),
  };
  const remove = (h: LockHolder): boolean => q.remove.run(h.project, h.pid, h.host, h.acquiredAt).changes > 0;
  const holder = (project: string): LockHolder | undefined => {
    const row = q.get.get(project) as LockRow | undefined;
    return row ? toHolder(row) : undefined;
  };

  const isStale = (h: LockHolder): boolean => {
    if (h.host !== deps.host) return false; // another machine's pid says nothing here
    if (h.pid === deps.pid) return h.acquiredAt < startedAt;
    return !isAlive(h.pid);
  };

  const attempt = db.transaction((project: string, command: string): Attempt => {
    const current = holder(project);
    if (current && !isStale(current)) return { held: current };
    if (current) remove(current);
    const taken: LockHolder = { project, pid: deps.pid, host: deps.host, user: deps.user, command, acquiredAt: deps.clock() };
    q.insert.run(taken.project, taken.pid, taken.host, taken.user, taken.command, taken.acquiredAt);
    return current ? { taken, stale: current } : { taken };
  });

  const tryOnce = (project: string, command: string): Attempt => {
    try {
      return attempt.immediate(project, command);
    } catch (err) {
      throw new BerthError('STATE', `cannot take the deploy lock for project "${project}": ${(err as Error).message}`, 'check that the state directory is writable', { cause: err });
    }
  };

  return {
    acquire: (project, command, opts) => acquireLoop(() => tryOnce(project, command), remove, { ...deps, pollMs }, opts),
    holder,
  };
}

/** Try, then (if asked to) poll until the lock is free or the timeout passes. */
async function acquireLoop(
  tryOnce: () => Attempt,
  remove: (h: LockHolder) => boolean,
  deps: Pick<DeployLockDeps, 'clock' | 'sleep' | 'host'> & { readonly pollMs: number },
  opts: AcquireOptions,
): Promise<LockHandle> {
  const start = deps.clock();
  let waiting = false;
  for (;;) {
    const r = tryOnce();
    if ('taken' in r) {
      if (r.stale) opts.onStale?.(r.stale);
      return handle(r.taken, remove);
    }
    if (!opts.wait) throw heldError(r.held, deps.clock(), deps.host);
    if (!waiting) opts.onWait?.(r.held);
    waiting = true;
    const elapsed = deps.clock() - start;
    if (opts.timeoutMs !== undefined && elapsed >= opts.timeoutMs) throw timeoutError(r.held, opts.timeoutMs, deps.clock(), deps.host);
    await deps.sleep(opts.timeoutMs === undefined ? deps.pollMs : Math.max(0, Math.min(deps.pollMs, opts.timeoutMs - elapsed)));
  }
}

function handle(holder: LockHolder, remove: (h: LockHolder) => boolean): LockHandle {
  let released = false;
  return {
    holder,
    release() {
      if (released) return false;
      released = true;
      return remove(holder);
    },
  };
}

function toHolder(r: LockRow): LockHolder {
  return { project: r.project, pid: r.pid, host: r.host, user: r.user, command: r.command, acquiredAt: r.acquired_at };
}

/** `pid 123 (user bob, "berth deploy web", since 09:15:02)`, naming the host when it is another. */
export function describeHolder(h: LockHolder, now: number, localHost?: string): string {
  const on = localHost !== undefined && h.host !== localHost ? ` on ${h.host}` : '';
  return `pid ${h.pid}${on} (user ${h.user}, "${h.command}", since ${formatSince(h.acquiredAt, now)})`;
}

/** Local wall-clock time; with the date when the lock was taken on another day. */
export function formatSince(at: number, now: number): string {
  const d = new Date(at);
  const pad = (n: number): string => String(n).padStart(2, '0');
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const sameDay = new Date(now).toDateString() === d.toDateString();
  return sameDay ? time : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

const heldHint = 'wait for it to finish, or run without --no-wait to queue; a lock left by a killed process is cleared automatically';

function otherHostHint(h: LockHolder): string {
  return `it was taken on host ${h.host}: only a berth on that host can tell whether pid ${h.pid} is still running; if that host is gone, delete the row for "${h.project}" from the locks table`;
}

function heldError(h: LockHolder, now: number, localHost: string): BerthError {
  const hint = h.host === localHost ? heldHint : otherHostHint(h);
  return new BerthError('LOCK_HELD', `deploy lock for project "${h.project}" is held by ${describeHolder(h, now, localHost)}`, hint);
}

function timeoutError(h: LockHolder, timeoutMs: number, now: number, localHost: string): BerthError {
  const hint = h.host === localHost ? 'try again once that command has finished; a lock left by a killed process is cleared automatically' : otherHostHint(h);
  return new BerthError(
    'LOCK_HELD',
    `gave up after ${formatMs(timeoutMs)} waiting for the deploy lock for project "${h.project}": still held by ${describeHolder(h, now, localHost)}`,
    hint,
  );
}
