import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createDeployLock, type DeployLockDeps, type LockHolder } from '../../../src/deploy/lock.js';
import { BerthError } from '../../../src/lib/errors.js';
import { realSleep } from '../../../src/lib/time.js';
import { openStore, type Store } from '../../../src/store/db.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const host = os.hostname();

let dir: string;
let store: Store;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-lock-'));
  store = openStore(dir);
});
afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A lock as another (live, unless told otherwise) berth process on this host would hold it. */
function lockFor(pid: number, user: string, over: Partial<DeployLockDeps> = {}) {
  return createDeployLock(store.db, { clock: Date.now, sleep: realSleep, pid, host, user, isAlive: () => true, ...over });
}

const isLockHeld = (pattern: RegExp) => (err: unknown) => err instanceof BerthError && err.code === 'LOCK_HELD' && pattern.test(err.message);

describe('deploy lock', () => {
  it('acquires, reports the holder, and releases once', async () => {
    const lock = lockFor(4242, 'alice');
    const handle = await lock.acquire('shop', 'berth deploy web', { wait: false });
    assert.deepEqual(lock.holder('shop'), handle.holder);
    assert.equal(handle.holder.pid, 4242);
    assert.equal(handle.holder.command, 'berth deploy web');
    assert.equal(lock.holder('other'), undefined);
    assert.equal(handle.release(), true);
    assert.equal(lock.holder('shop'), undefined);
    assert.equal(handle.release(), false, 'release is idempotent');
  });

  it('locks per project', async () => {
    const lock = lockFor(1, 'alice');
    const a = await lock.acquire('shop', 'berth up', { wait: false });
    const b = await lockFor(2, 'bob').acquire('blog', 'berth up', { wait: false });
    assert.equal(lock.holder('shop')?.pid, 1);
    assert.equal(lock.holder('blog')?.pid, 2);
    a.release();
    b.release();
  });

  it('fails at once with LOCK_HELD naming the holder when not waiting', async () => {
    const held = await lockFor(123, 'bob').acquire('shop', 'berth deploy web', { wait: false });
    await assert.rejects(
      lockFor(456, 'alice').acquire('shop', 'berth deploy api', { wait: false }),
      (err: unknown) => {
        assert.ok(err instanceof BerthError && err.code === 'LOCK_HELD');
        assert.match(err.message, /^deploy lock for project "shop" is held by pid 123 \(user bob, "berth deploy web", since \d\d:\d\d:\d\d\)$/);
        assert.match(err.hint ?? '', /cleared automatically/);
        return true;
      },
    );
    assert.equal(held.release(), true);
  });

  it('waits for the holder to release, telling onWait once', async () => {
    const held = await lockFor(123, 'bob').acquire('shop', 'berth deploy web', { wait: false });
    setTimeout(() => held.release(), 300);
    const waits: LockHolder[] = [];
    const t0 = Date.now();
    const handle = await lockFor(456, 'alice').acquire('shop', 'berth deploy api', { wait: true, onWait: (h) => waits.push(h) });
    const waited = Date.now() - t0;
    assert.ok(waited >= 250 && waited < 2000, `waited ${waited} ms`);
    assert.deepEqual(waits.map((h) => h.pid), [123]);
    assert.equal(handle.holder.pid, 456);
    handle.release();
  });

  it('gives up after timeoutMs, polling every 200 ms', async () => {
    let now = Date.UTC(2026, 10, 23, 9, 15, 2);
    const sleeps: number[] = [];
    const sleep = async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    };
    await lockFor(123, 'bob', { clock: () => now }).acquire('shop', 'berth deploy web', { wait: false });
    const waits: number[] = [];
    await assert.rejects(
      lockFor(456, 'alice', { clock: () => now, sleep }).acquire('shop', 'berth up', { wait: true, timeoutMs: 1100, onWait: (h) => waits.push(h.pid) }),
      isLockHeld(/^gave up after 1\.1 s waiting for the deploy lock for project "shop": still held by pid 123 \(user bob/),
    );
    assert.deepEqual(sleeps, [200, 200, 200, 200, 200, 100]);
    assert.deepEqual(waits, [123]);
  });

  it('never treats a lock from another host as stale, and says so', async () => {
    await lockFor(123, 'bob', { host: 'build-box' }).acquire('shop', 'berth deploy web', { wait: false });
    const stale: LockHolder[] = [];
    await assert.rejects(lockFor(456, 'alice', { isAlive: () => false }).acquire('shop', 'berth up', { wait: false, onStale: (h) => stale.push(h) }), (err: unknown) => {
      assert.ok(err instanceof BerthError && err.code === 'LOCK_HELD');
      assert.match(err.message, /held by pid 123 on build-box \(/);
      assert.match(err.hint ?? '', /taken on host build-box/);
      return true;
    });
    assert.deepEqual(stale, []);
  });

  it('clears a lock left by an earlier process that had our pid', async () => {
    let now = 1_000;
    await lockFor(77, 'bob', { clock: () => now }).acquire('shop', 'berth deploy web', { wait: false });
    now = 5_000;
    const stale: LockHolder[] = [];
    const handle = await lockFor(77, 'alice', { clock: () => now, processStartedAt: 4_000 }).acquire('shop', 'berth up', { wait: false, onStale: (h) => stale.push(h) });
    assert.deepEqual(stale.map((h) => [h.pid, h.user]), [[77, 'bob']]);
    assert.equal(handle.holder.user, 'alice');
  });

  it('release removes only its own row', async () => {
    const first = await lockFor(123, 'bob').acquire('shop', 'berth deploy web', { wait: false });
    store.db.prepare('DELETE FROM locks').run();
    const second = await lockFor(456, 'alice').acquire('shop', 'berth up', { wait: false });
    assert.equal(first.release(), false);
    assert.equal(lockFor(1, 'x').holder('shop')?.pid, 456);
    assert.equal(second.release(), true);
  });

  it('clears the lock of a process that was killed (SIGKILL), reporting it', async () => {
    const childPid = await lockInChildThenKill();
    const lock = createDeployLock(store.db, { clock: Date.now, sleep: realSleep, pid: process.pid, host, user: 'alice' });
    assert.equal(lock.holder('shop')?.pid, childPid, 'the killed process left its row behind');
    const stale: LockHolder[] = [];
    const handle = await lock.acquire('shop', 'berth up', { wait: false, onStale: (h) => stale.push(h) });
    assert.deepEqual(stale.map((h) => [h.pid, h.command]), [[childPid, 'berth deploy web']]);
    assert.equal(lock.holder('shop')?.pid, process.pid);
    handle.release();
  });
});

/** Start a node process that takes the lock for "shop", then SIGKILL it; resolves to its pid. */
async function lockInChildThenKill(): Promise<number> {
  const url = (rel: string) => pathToFileURL(path.join(repoRoot, rel)).href;
  const script = `
    import os from 'node:os';
    const { openStore } = await import(${JSON.stringify(url('src/store/db.ts'))});
    const { createDeployLock } = await import(${JSON.stringify(url('src/deploy/lock.ts'))});
    const store = openStore(${JSON.stringify(dir)});
    const lock = createDeployLock(store.db, { clock: Date.now, sleep: async () => {}, pid: process.pid, host: os.hostname(), user: 'bob' });
    await lock.acquire('shop', 'berth deploy web', { wait: false });
    process.stdout.write('locked\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => b.toString().includes('locked') && resolve());
    child.on('exit', (code) => reject(new Error(`lock holder exited early (${code}): ${stderr}`)));
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  return child.pid!;
}
