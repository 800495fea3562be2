/**
 * Waiting for another restic's lock. restic 0.14 (Debian 12) fails at once when the repository
 * holds a lock it cannot share — a prune, forget or check holds one alone; backups, restores and
 * the backup host's pulls share theirs, but not with those — and has no `--retry-lock`. An
 * attempt that meets such a lock is repeated here until the lock is gone or `backup.lock_wait` has
 * passed. A lock left by a killed restic is cleared at the first meeting (`restic unlock` removes
 * only provably dead holders' locks), so it costs no wait; while waiting, that is tried again once a
 * minute, for a holder that dies without cleaning up (an OOM-killed prune). Where the lock files
 * can be seen (a local repository), an attempt is made only once they changed: an attempt costs a
 * key derivation and, for a streamed source, a dump (a Redis BGSAVE) thrown away when refused.
 *
 * Wrap only attempts that leave nothing half-done when restic refuses its lock: restic takes it
 * before it reads or writes anything.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Reporter } from '../lib/reporter.js';
import { formatMs } from '../lib/time.js';
import { RepositoryLockedError } from './restic-errors.js';

export interface LockWait {
  /** backup.lock_wait: 0 fails at the first refusal (after clearing a stale lock). */
  readonly maxMs: number;
  readonly clock: () => number;
  readonly report: Reporter;
  /** Ends the wait (the agent stopping): the lock error is thrown then. */
  readonly signal?: AbortSignal;
  unlockStale(): Promise<void>;
  /**
   * The repository's lock files as they are now (a look at `locks/`: locally, or through one sftp
   * login), or undefined where they cannot be looked at. While they stay as they were at a
   * refusal the lock is still held: no attempt is made (no key derivation, no dump started for
   * nothing); they are looked at again after each pause, the shortest one.
   */
  locksNow?(): Promise<string | undefined> | string | undefined;
  /**
   * Each look at the lock files costs an ssh login (an sftp repository): looks are spaced like
   * attempts (delaysMs), not made every shortest pause.
   */
  readonly remoteLocks?: boolean;
  /** Pauses between attempts (default lockRetryDelaysMs; the last one repeats). */
  readonly delaysMs?: readonly number[];
  /** While waiting, how often stale locks are cleared again (default staleRecheckMs). */
  readonly staleRecheckMs?: number;
}

/** Pauses between attempts: each attempt pays restic's key derivation (~0.7 s of CPU here). */
export const lockRetryDelaysMs: readonly number[] = [2_000, 5_000, 10_000, 20_000, 30_000];
/** While waiting, how often `restic unlock` runs again: each run pays the key derivation too. */
export const staleRecheckMs = 60_000;
/** While waiting, how often "still waiting" is said. */
const remindEveryMs = 5 * 60_000;

export async function waitingForLock<T>(what: string, w: LockWait, attempt: () => Promise<T>): Promise<T> {
  const started = w.clock();
  const delays = w.delaysMs ?? lockRetryDelaysMs;
  let refusals = 0;
  /** Pauses made so far: each one is longer (delaysMs), except between cheap looks at the lock files. */
  let pauses = 0;
  let saidAt: number | undefined;
  let unlockedAt = started;
  for (;;) {
    let err: RepositoryLockedError;
    try {
      return await attempt();
    } catch (e) {
      if (!(e instanceof RepositoryLockedError)) throw e;
      err = e;
    }
    refusals++;
    const seen = await w.locksNow?.();
    if (refusals === 1) {
      // Most often a killed run's leftover: gone after this, and the next attempt passes.
      await w.unlockStale();
      unlockedAt = w.clock();
      // Gone or not in view: try again at once. Unchanged: nothing was stale, the holder is alive.
      if (seen === undefined || (await w.locksNow?.()) !== seen) continue;
    }
    // Wait, then try again; with the lock files in view, only once they changed (released, refreshed, cleared).
    for (;;) {
      if (w.clock() - unlockedAt >= (w.staleRecheckMs ?? staleRecheckMs)) {
        // The holder may have died since, without removing its lock.
        await w.unlockStale();
        unlockedAt = w.clock();
      }
      const waited = w.clock() - started;
      if (waited >= w.maxMs || w.signal?.aborted) throw gaveUp(err, waited, w.maxMs);
      const now = w.clock();
      if (saidAt === undefined || now - saidAt >= remindEveryMs) {
        w.report.info(
          saidAt === undefined
            ? `${what}: the repository is locked${err.holder ? ` by ${err.holder}` : ''}; waiting for it, at most ${formatMs(w.maxMs)} (backup.lock_wait)`
            : `${what}: still waiting for the repository lock (${formatMs(waited)} so far)`,
        );
        saidAt = now;
      }
      const delay = Math.min(seen === undefined || w.remoteLocks ? delays[Math.min(pauses, delays.length - 1)]! : delays[0]!, w.maxMs - waited);
      pauses++;
      await sleep(delay, undefined, w.signal ? { signal: w.signal } : {}).catch(() => undefined);
      if (w.signal?.aborted) throw gaveUp(err, w.clock() - started, w.maxMs);
      if (seen === undefined || (await w.locksNow?.()) !== seen) break;
    }
  }
}

function gaveUp(err: RepositoryLockedError, waitedMs: number, maxMs: number): RepositoryLockedError {
  if (maxMs === 0) {
    return new RepositoryLockedError(err.repository, err.holder, { hint: `${err.hint ?? ''}; backup.lock_wait is 0, so berth did not wait (set it, e.g. "30m", to wait for such locks)` });
  }
  return new RepositoryLockedError(err.repository, err.holder, {
    waited: formatMs(waitedMs),
    hint: 'a prune, forget or check held it all this time: see what runs (`restic list locks`, then `restic cat lock ID`), or raise backup.lock_wait; this attempt changed nothing',
  });
}
