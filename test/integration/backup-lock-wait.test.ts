/**
 * Waiting for another restic's lock (backup.lock_wait), with real restic, MariaDB and a volume:
 * a live restic holds the repository's lock, berth waits for it and then does its work; a restore
 * touches nothing while it waits; past lock_wait it fails clearly and stores nothing.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createBackupProject, db, dbEnv, holdLock, mariadb, writeVolume, type BackupProject } from './backup-harness.js';
import { waitFor } from './harness.js';

interface RunJson {
  status: string;
  results: Array<{ source: string; status: string; snapshotId?: string; error?: string; hint?: string }>;
}

describe('waiting for the repository lock', { timeout: 240_000 }, () => {
  let p: BackupProject;
  const setLockWait = (value: string) => {
    const file = path.join(p.dir, 'berth.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/lock_wait: \S+/, `lock_wait: ${value}`));
  };
  /**
   * Runs berth while a live restic holds the repository's lock; once berth says it waits (so it was
   * refused, and did not fail), `meanwhile` looks at the world, then the lock is released.
   */
  const whileLocked = async (kind: 'shared' | 'exclusive', args: readonly string[], meanwhile: () => void | Promise<void> = () => undefined) => {
    const holder = await holdLock(p.repo, p.passwordFile, kind);
    const child = p.spawnBerth(args, dbEnv);
    try {
      await waitFor('berth to wait for the lock', () => /waiting for it/.test(child.output()) || child.exitCode !== null, 60_000);
      await meanwhile();
    } finally {
      await holder.release();
    }
    return { code: await child.done, output: child.output() };
  };
  before(async () => {
    p = await createBackupProject({ extraBackup: '  lock_wait: 2m\n' });
    const first = await p.json<RunJson>(['backup', 'run', '--source', 'db', '--source', 'files']);
    assert.equal(first.value.status, 'succeeded', first.stderr);
  });
  after(async () => {
    await p?.cleanup();
  });

  it('a backup run waits while another restic holds the lock alone, then stores its snapshot', async () => {
    const before = p.snapshots('db').length;
    const r = await whileLocked('exclusive', ['backup', 'run', '--source', 'db']);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /db: the repository is locked by PID \d+ on \S+ by \S+; waiting for it, at most 2m0s \(backup\.lock_wait\)/);
    assert.match(r.output, /✓ db: snapshot [0-9a-f]{8}/);
    assert.equal(p.snapshots('db').length, before + 1, 'the snapshot is in the repository');
  });

  it('a restore waits without touching the database, then restores it', async () => {
    mariadb(p.mdb, "INSERT INTO t (v) VALUES ('after-the-backup')");
    const r = await whileLocked('exclusive', ['restore', 'latest', '--source', 'db', '--no-safety', '--yes'], () => {
      // restic refused its dump: the database was neither dropped nor emptied meanwhile.
      assert.equal(mariadb(p.mdb, 'SELECT COUNT(*) FROM t'), '301');
    });
    assert.equal(r.code, 0, r.output);
    assert.equal(mariadb(p.mdb, 'SELECT COUNT(*) FROM t'), '300', 'the row added after the backup is gone: the snapshot was restored');
  });

  it('while the lock stays, no attempt is made: a Redis source is saved once, not at every retry', async () => {
    // Explicit BGSAVE commands only (Redis's own background saves do not count here).
    const bgsaves = () => Number(/cmdstat_bgsave:calls=(\d+)/.exec(execFileSync('redis-cli', ['-p', String(db.redisPort), 'INFO', 'commandstats'], { encoding: 'utf8' }))?.[1] ?? 0);
    const before = bgsaves();
    const r = await whileLocked('exclusive', ['backup', 'run', '--source', 'cache'], async () => {
      // Retrying blindly, berth would have tried (and saved) again after 2 s and after 5 more.
      await sleep(9_000);
      assert.equal(bgsaves() - before, 1, 'one BGSAVE: the first attempt; none while the lock files stayed the same');
    });
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /✓ cache: snapshot [0-9a-f]{8}/);
    assert.equal(bgsaves() - before, 2, 'one more once the lock was released');
  });

  it('prune and verify wait for a backup still holding its shared lock', async () => {
    const prune = await whileLocked('shared', ['backup', 'prune']);
    assert.equal(prune.code, 0, prune.output);
    assert.match(prune.output, /✓ kept \d+ snapshot\(s\)/);
    const verify = await whileLocked('shared', ['backup', 'verify', '--source', 'files']);
    assert.equal(verify.code, 0, verify.output);
    assert.match(verify.output, /restic check: the repository is locked .* waiting for it/);
    assert.match(verify.output, /repository structure and the read data are intact/);
  });

  it('past lock_wait a backup run fails naming the holder and the wait, and stores nothing', async () => {
    setLockWait('3s');
    const before = p.snapshots('db').length;
    const holder = await holdLock(p.repo, p.passwordFile, 'exclusive');
    try {
      const r = await p.json<RunJson>(['backup', 'run', '--source', 'db']);
      assert.equal(r.code, 13, r.stderr);
      assert.equal(r.value.status, 'failed');
      assert.match(r.value.results[0]!.error!, /^the repository \S+ is locked by PID \d+ on \S+ by \S+, still, after waiting \d+\.\d s \(backup\.lock_wait\)$/);
      assert.match(r.value.results[0]!.hint!, /raise backup\.lock_wait/);
      setLockWait('0s');
      const atOnce = await p.json<RunJson>(['backup', 'run', '--source', 'db']);
      assert.equal(atOnce.code, 13);
      assert.doesNotMatch(atOnce.stderr, /waiting for it/);
      assert.match(atOnce.value.results[0]!.hint!, /backup\.lock_wait is 0, so berth did not wait/);
    } finally {
      await holder.release();
      setLockWait('2m');
    }
    assert.equal(p.snapshots('db').length, before, 'no snapshot was stored');
  });

  it('an in-place volume restore refused its lock leaves the volume as it was; once the lock is gone it restores', async () => {
    const listing = () => writeVolume(p.volume, 'cd /d && find . | sort && cat marker 2>/dev/null; true');
    writeVolume(p.volume, 'echo written-after-the-backup > /d/marker');
    const current = listing();
    assert.match(current, /\.\/marker\n[^]*\nwritten-after-the-backup$/);
    setLockWait('0s');
    const holder = await holdLock(p.repo, p.passwordFile, 'exclusive');
    try {
      const r = await p.run(['restore', 'latest', '--source', 'files', '--no-safety', '--yes']);
      assert.notEqual(r.code, 0, r.stderr);
      assert.match(r.stderr, /is locked by PID \d+/);
      assert.equal(listing(), current, 'every file is where it was: the data was moved back, nothing restored');
    } finally {
      await holder.release();
      setLockWait('2m');
    }
    const r = await p.run(['restore', 'latest', '--source', 'files', '--no-safety', '--yes']);
    assert.equal(r.code, 0, r.stderr);
    const restored = listing();
    assert.doesNotMatch(restored, /marker|berth-replaced/, 'the snapshot replaced the data, and the set-aside copy is gone');
    assert.equal(restored, current.replace(/\.\/marker\n/, '').replace(/\nwritten-after-the-backup$/, ''));
  });
});
