/** Waiting for another restic's lock: the loop around an attempt, with short pauses and a counting clock. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitingForLock, type LockWait } from '../../../src/backup/lock-wait.js';
import { classifyResticFailure, RepositoryLockedError } from '../../../src/backup/restic-errors.js';
import { BerthError } from '../../../src/lib/errors.js';

const lockedStderr = 'Fatal: unable to create lock in backend: repository is already locked exclusively by PID 42 on nas by root (UID 0, GID 0)\nlock was created at 2026-12-05 17:48:55 (3.49s ago)';

function harness(maxMs: number, signal?: AbortSignal) {
  const said: string[] = [];
  let unlocks = 0;
  const w: LockWait = {
    maxMs,
    clock: () => performance.now(),
    report: { step: () => undefined, done: () => undefined, warn: (m) => said.push(m), info: (m) => said.push(m) },
    unlockStale: async () => void unlocks++,
    delaysMs: [5, 10],
    ...(signal && { signal }),
  };
  return { w, said, unlocks: () => unlocks };
}

/** An attempt refused by the lock while `locked()`, then returning "stored". */
function refusedWhile(locked: () => boolean) {
  let calls = 0;
  return {
    calls: () => calls,
    reset: () => void (calls = 0),
    attempt: async () => {
      calls++;
      if (locked()) throw classifyResticFailure(lockedStderr, 1, '/srv/repo', 'backup');
      return 'stored';
    },
  };
}

/** An attempt refused `refusals` times by the lock, then returning "stored". */
function refusedTimes(refusals: number) {
  let calls = 0;
  return {
    calls: () => calls,
    attempt: async () => {
      calls++;
      if (calls <= refusals) throw classifyResticFailure(lockedStderr, 1, '/srv/repo', 'backup');
      return 'stored';
    },
  };
}

describe('waiting for the repository lock', () => {
  it("classifies restic's refusal as a lock error that names the holder", () => {
    const e = classifyResticFailure(lockedStderr, 1, '/srv/repo', 'backup');
    assert.ok(e instanceof RepositoryLockedError);
    assert.equal(e.code, 'REPOSITORY');
    assert.equal(e.holder, 'PID 42 on nas by root');
  });

  it('clears stale locks at the first refusal and goes on at once when that was all', async () => {
    const h = harness(60_000);
    const a = refusedTimes(1);
    assert.equal(await waitingForLock('db', h.w, a.attempt), 'stored');
    assert.equal(a.calls(), 2);
    assert.equal(h.unlocks(), 1);
    assert.deepEqual(h.said, [], 'no wait, nothing to say');
  });

  it('waits while the lock stays, says so once with the holder, and returns what the attempt made', async () => {
    const h = harness(60_000);
    const a = refusedTimes(4);
    assert.equal(await waitingForLock('db', h.w, a.attempt), 'stored');
    assert.equal(a.calls(), 5);
    assert.equal(h.unlocks(), 1, 'stale locks are cleared once, not at every attempt');
    assert.equal(h.said.length, 1);
    assert.match(h.said[0]!, /^db: the repository is locked by PID 42 on nas by root; waiting for it, at most 1m0s \(backup\.lock_wait\)$/);
  });

  it('while waiting, clears stale locks again once a minute (a holder that died without cleaning up)', async () => {
    const h = harness(10 * 60_000);
    let now = 0;
    let calls = 0;
    // Each refused attempt takes 25 s of the clock: refusals at 25, 50, 75, 100, 125, 150 s.
    const attempt = async () => {
      calls++;
      now += 25_000;
      if (calls <= 6) throw classifyResticFailure(lockedStderr, 1, '/srv/repo', 'backup');
      return 'stored';
    };
    assert.equal(await waitingForLock('db', { ...h.w, clock: () => now, delaysMs: [1] }, attempt), 'stored');
    assert.equal(h.unlocks(), 2, 'at the first refusal (25 s), then at the first one a minute later (100 s)');
  });

  it('gives up after lock_wait, saying how long it waited and what to do', async () => {
    const h = harness(40);
    const a = refusedTimes(Number.POSITIVE_INFINITY);
    const err = await waitingForLock('db', h.w, a.attempt).then(() => assert.fail('resolved'), (e: unknown) => e);
    assert.ok(err instanceof RepositoryLockedError);
    assert.match(err.message, /^the repository \/srv\/repo is locked by PID 42 on nas by root, still, after waiting \d+ ms \(backup\.lock_wait\)$/);
    assert.match(err.hint!, /raise backup\.lock_wait/);
    assert.ok(a.calls() >= 3, `attempts: ${a.calls()}`);
  });

  it('with lock_wait 0 fails after clearing stale locks, without waiting', async () => {
    const h = harness(0);
    const a = refusedTimes(Number.POSITIVE_INFINITY);
    const err = await waitingForLock('db', h.w, a.attempt).then(() => assert.fail('resolved'), (e: unknown) => e);
    assert.ok(err instanceof RepositoryLockedError);
    assert.equal(a.calls(), 2);
    assert.match(err.hint!, /backup\.lock_wait is 0, so berth did not wait/);
  });

  it('stops waiting when its signal aborts (the agent stopping)', async () => {
    const ac = new AbortController();
    const h = harness(60_000, ac.signal);
    const a = refusedTimes(Number.POSITIVE_INFINITY);
    const { w } = h;
    const pending = waitingForLock('db', { ...w, delaysMs: [60_000] }, a.attempt);
    setTimeout(() => ac.abort(), 30);
    const t0 = performance.now();
    const err = await pending.then(() => assert.fail('resolved'), (e: unknown) => e);
    assert.ok(err instanceof RepositoryLockedError);
    assert.ok(performance.now() - t0 < 5_000, 'the 60 s pause was cut short');
  });

  it('with the lock files in view, tries again only once they change (no key derivation, no dump for nothing)', async () => {
    const h = harness(60_000);
    let locks = 'a1b2-prune';
    const a = refusedWhile(() => locks !== '');
    setTimeout(() => (locks = ''), 80);
    assert.equal(await waitingForLock('db', { ...h.w, locksNow: () => locks }, a.attempt), 'stored');
    assert.equal(a.calls(), 2, 'refused once; tried again only when the prune had released its lock');
    assert.equal(h.unlocks(), 1);
    assert.equal(h.said.length, 1, 'it says that it waits');
    // The same wait without the lock files in view tries again after every pause.
    locks = 'a1b2-prune';
    a.reset();
    setTimeout(() => (locks = ''), 80);
    assert.equal(await waitingForLock('db', harness(60_000).w, a.attempt), 'stored');
    assert.ok(a.calls() > 4, `attempts without the look: ${a.calls()}`);
  });

  it('an sftp repository: each look at the lock files costs a login, so they are spaced like attempts; still no attempt until they change', async () => {
    const pauses = [5, 50, 200];
    const waitUntilLook = async (remoteLocks: boolean) => {
      const h = harness(60_000);
      let looks = 0;
      // Released when seen the 5th time: 2 looks at the refusal (before and after unlock), then one after each of 3 pauses.
      const locksNow = async () => (++looks >= 5 ? '' : 'a1b2-prune');
      const a = refusedWhile(() => looks < 5);
      const t0 = performance.now();
      const stored = await waitingForLock('db', { ...h.w, delaysMs: pauses, remoteLocks, locksNow }, a.attempt);
      return { stored, attempts: a.calls(), looks, ms: performance.now() - t0 };
    };
    const remote = await waitUntilLook(true);
    assert.deepEqual([remote.stored, remote.attempts, remote.looks], ['stored', 2, 5]);
    assert.ok(remote.ms >= 5 + 50 + 200, `looks spaced 5, 50, 200 ms: ${remote.ms} ms`);
    // In a local repository a look is a readdir, made after every shortest pause: the same looks and attempts.
    const local = await waitUntilLook(false);
    assert.deepEqual([local.stored, local.attempts, local.looks], ['stored', 2, 5]);
  });

  it('tries again at once when the first refusal was a stale lock that unlock removed', async () => {
    const h = harness(60_000);
    let locks = 'dead-holder';
    const a = refusedWhile(() => locks !== '');
    const unlockStale = async () => void (locks = '');
    assert.equal(await waitingForLock('db', { ...h.w, unlockStale, locksNow: () => locks }, a.attempt), 'stored');
    assert.equal(a.calls(), 2);
    assert.deepEqual(h.said, [], 'no wait');
  });

  it('with the lock files unchanged, still clears stale locks once a minute, then tries again', async () => {
    const h = harness(10 * 60_000);
    let now = 0;
    let unlocks = 0;
    let locks = 'holder-died-later';
    const a = refusedWhile(() => locks !== '');
    // The holder's lock is live at the first unlock; it has died (its lock stale) by the next one.
    const unlockStale = async () => {
      if (++unlocks === 2) locks = '';
    };
    const w = { ...h.w, clock: () => (now += 5_000), delaysMs: [1], unlockStale, locksNow: () => locks };
    assert.equal(await waitingForLock('db', w, a.attempt), 'stored');
    assert.equal(unlocks, 2);
    assert.equal(a.calls(), 2, 'no attempt while the lock files stayed the same');
  });

  it('with lock_wait 0 and the lock files in view, one attempt and no wait', async () => {
    const h = harness(0);
    const a = refusedTimes(Number.POSITIVE_INFINITY);
    const err = await waitingForLock('db', { ...h.w, locksNow: () => 'live' }, a.attempt).then(() => assert.fail('resolved'), (e: unknown) => e);
    assert.ok(err instanceof RepositoryLockedError);
    assert.equal(a.calls(), 1, 'unlock removed nothing: the lock is live, no second attempt');
    assert.equal(h.unlocks(), 1);
  });

  it('passes any other failure through untouched, without retrying', async () => {
    const h = harness(60_000);
    let calls = 0;
    const full = new BerthError('REPOSITORY', 'the repository /srv/repo is full');
    await assert.rejects(
      waitingForLock('db', h.w, async () => {
        calls++;
        throw full;
      }),
      (e) => e === full,
    );
    assert.equal(calls, 1);
    assert.equal(h.unlocks(), 0);
  });
});
