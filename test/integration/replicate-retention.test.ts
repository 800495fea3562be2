/**
 * The backup host's own retention (`backup.replicate.retention`) against real restic and a real
 * sshd on loopback: what a pull removes, that removed copies are not pulled again, that a new
 * repository gets everything again, and that snapshots berth did not make are left alone.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { running } from '../fixtures/processes.js';
import { holdLock } from './backup-harness.js';
import { createWorld, descendants, replicationUnavailable, snapshotsOf, type World } from './replicate-harness.js';
import { lockFiles } from './restic-repo.js';

const skip = replicationUnavailable();

interface PullJson {
  initialized: boolean;
  primarySnapshots: number;
  replicaSnapshots: number;
  leftOut: number;
  copied: Array<{ originalId: string }>;
  check?: { ok: boolean };
  retention?: {
    policy: { daily: number; weekly: number; monthly: number };
    kept: number;
    pruned: boolean;
    removed: Array<{ snapshot: string; original: string; time: string; project: string; source: string; kind: string }>;
  };
}

describe('berth replicate: this host’s retention', { skip }, () => {
  let w: World;
  /** Primary snapshot ids by label and day of November. */
  const ids = new Map<string, string>();
  const day = (d: number) => `2026-11-${String(d).padStart(2, '0')} 12:00:00`;
  const take = async (label: string, d: number, tags: string[], noSourceTag = false) => {
    ids.set(`${label}@${d}`, await w.backup(label, 1, 20_000, tags, { time: day(d), noSourceTag }));
  };
  const originalsHere = async () => new Set((await snapshotsOf(w.replicaRepo, w.replicaPass)).map((s) => s.original));
  const pull = async (...args: string[]) => {
    const r = await w.berth(['--json', 'replicate', 'pull', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return { out: JSON.parse(r.stdout) as PullJson, stderr: r.stderr };
  };

  before(async () => {
    w = await createWorld({ replica: 'prepared' });
    for (const d of [1, 2, 3, 4, 5]) await take('db', d, ['berth']);
    for (const d of [1, 2, 3]) await take('files', d, ['berth']);
    // A restore's safety snapshots: a group of their own, as on the primary.
    for (const d of [1, 2, 3]) await take('safety', d, ['berth', 'safety-of=db', 'kind=safety'], true);
    // Made by hand on the primary, without berth's tag: never removed by berth.
    for (const d of [1, 2]) await take('manual', d, []);
    w.writeBerth({ retention: { daily: 2, weekly: 0, monthly: 0 } });
  });
  after(async () => w?.cleanup());

  it('a pull copies everything, then keeps the newest 2 days per source; the removed data is pruned', async () => {
    const { out, stderr } = await pull('--check');
    assert.equal(out.copied.length, 13);
    assert.equal(out.leftOut, 0);
    assert.deepEqual(out.retention?.policy, { daily: 2, weekly: 0, monthly: 0 });
    const removed = out.retention!.removed.map((r) => `${r.source}/${r.kind}@${new Date(r.time).getUTCDate()}`).sort();
    assert.deepEqual(removed, ['db/backup@1', 'db/backup@2', 'db/backup@3', 'db/safety@1', 'files/backup@1']);
    assert.ok(out.retention!.removed.every((r) => r.project === w.project));
    assert.equal(out.retention!.kept, 6);
    assert.equal(out.retention!.pruned, true);
    assert.equal(out.check?.ok, true, 'the replica passes restic check after the prune');
    assert.match(stderr, /applying this host's retention \(keep-daily 2, weekly 0, monthly 0\) to 3 group\(s\)/);

    const here = await originalsHere();
    const expected = ['db@4', 'db@5', 'files@2', 'files@3', 'safety@2', 'safety@3', 'manual@1', 'manual@2'].map((k) => ids.get(k));
    assert.deepEqual([...here].sort(), [...expected].sort());
    assert.equal(out.replicaSnapshots, 8);
    assert.equal(out.primarySnapshots, 13);

    // The removed copies' own ids are gone; the primary still has all of its snapshots.
    assert.equal((await snapshotsOf(w.primaryRepo, w.primaryPass)).length, 13);
    const audit = JSON.parse((await w.berth(['--json', 'audit', 'list'])).stdout) as Array<{ action: string; details: { removedHere?: unknown[] } }>;
    assert.equal(audit.filter((e) => e.action === 'replicate.pull').at(-1)?.details.removedHere?.length, 5);
  });

  it('the next pull does not copy the removed ones again, and removes nothing more', async () => {
    const { out, stderr } = await pull();
    assert.equal(out.copied.length, 0);
    assert.equal(out.leftOut, 5);
    assert.equal(out.retention?.removed.length, 0);
    assert.equal(out.retention?.pruned, false);
    assert.match(stderr, /up to date: 13 snapshot\(s\) on the primary, 8 present here; 5 more, removed here by this host's retention, are not copied again/);
    assert.equal((await snapshotsOf(w.replicaRepo, w.replicaPass)).length, 8);
  });

  it('a new snapshot on the primary is copied and the oldest kept day of its source makes way', async () => {
    await take('db', 6, ['berth']);
    const { out } = await pull();
    assert.deepEqual(out.copied.map((c) => c.originalId), [ids.get('db@6')]);
    assert.deepEqual(out.retention?.removed.map((r) => r.original), [ids.get('db@4')]);
    const here = await originalsHere();
    assert.ok(here.has(ids.get('db@5')) && here.has(ids.get('db@6')) && !here.has(ids.get('db@4')));
    assert.equal(out.leftOut, 5, 'db@4 was copied before and is present on the primary, but not counted until the next pull');
    const status = await w.berth(['replicate', 'status']);
    assert.match(status.stdout, /retention here\s+keep-daily 2, weekly 0, monthly 0/);
    assert.match(status.stdout, /snapshots\s+8\/14 of the primary's \(5 removed here by this host's retention\)/);
    const json = JSON.parse((await w.berth(['--json', 'replicate', 'status'])).stdout) as { state: string; replicaSnapshots: number; primarySnapshots: number; leftOut: number };
    assert.deepEqual([json.state, json.replicaSnapshots, json.primarySnapshots, json.leftOut], ['behind', 8, 14, 5]);
  });

  it('a new, empty repository (--init) gets every snapshot again, then the same retention', async () => {
    const away = `${w.replicaRepo}.old`;
    fs.renameSync(w.replicaRepo, away);
    try {
      const { out } = await pull('--init');
      assert.equal(out.initialized, true);
      assert.equal(out.leftOut, 0);
      assert.equal(out.retention?.removed.length, 6);
      const here = await originalsHere();
      const expected = ['db@5', 'db@6', 'files@2', 'files@3', 'safety@2', 'safety@3', 'manual@1', 'manual@2'].map((k) => ids.get(k));
      assert.deepEqual([...here].sort(), [...expected].sort());
    } finally {
      fs.rmSync(w.replicaRepo, { recursive: true, force: true });
      fs.renameSync(away, w.replicaRepo);
    }
  });

  it('a retention that cannot run (the replica locked) fails the pull clearly, after its retries, and the next pull applies it', async () => {
    await take('files', 7, ['berth']);
    w.writeBerth({ retention: { daily: 2, weekly: 0, monthly: 0 }, retries: 0 });
    const holder = await holdLock(w.replicaRepo, w.replicaPass, 'shared');
    let r;
    try {
      r = await w.berth(['replicate', 'pull']);
    } finally {
      await holder.release();
    }
    assert.equal(r.code, 16, r.stderr);
    assert.match(r.stderr, /the copy succeeded, but this host's retention could not be applied after 1 attempt\(s\): this host's repository .* is locked by another restic process/);
    assert.match(r.stderr, /hint: .*the next pull applies the retention/);
    const status = await w.berth(['--json', 'replicate', 'status']);
    assert.equal((JSON.parse(status.stdout) as { state: string }).state, 'failing');
    w.writeBerth({ retention: { daily: 2, weekly: 0, monthly: 0 } });
    const { out } = await pull();
    assert.equal(out.copied.length, 0, 'the copy was made by the failed pull');
    assert.deepEqual(out.retention?.removed.map((x) => x.original), [ids.get('files@2')]);
  });

  it('a pull killed during its prune takes its restic with it; the next pull clears the stale lock and runs the prune it owed', async () => {
    await take('db', 8, ['berth']);
    const { child, done } = w.spawnBerth(['replicate', 'pull']);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    // The forgets are done and recorded; restic prune has taken its lock.
    const deadline = Date.now() + 30_000;
    while (!(/pruning the data only they used/.test(stderr) && lockFiles(w.replicaRepo).length > 0)) {
      assert.ok(Date.now() < deadline && child.exitCode === null, `the prune never took its lock: ${stderr}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    // Only berth is killed: its restic dies with it (parent-death signal, tested in unit/lib/child; a write
    // to the closed pipe would end it here too), as on a power loss.
    const restics = descendants(child.pid!).map((d) => d.pid);
    assert.ok(restics.length > 0, 'restic prune runs under the pull');
    child.kill('SIGKILL');
    await done;
    const killedAt = Date.now();
    while (restics.some(running)) {
      assert.ok(Date.now() - killedAt < 5_000, 'the pull’s restic outlived it');
      await new Promise((r) => setTimeout(r, 20));
    }
    // Until an orphan is reaped it still counts as alive for restic (a zombie has a PID): wait for that.
    while (restics.some((pid) => fs.existsSync(`/proc/${pid}`))) {
      assert.ok(Date.now() - killedAt < 30_000, 'the killed restic was never reaped');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(lockFiles(w.replicaRepo).length, 1, "the killed prune's lock is left behind");

    const next = await pull('--check');
    assert.match(next.stderr, /pruning the data of snapshots removed here since .* UTC \(that pull's prune did not finish\)/);
    assert.equal(next.out.retention?.removed.length, 0, 'db@5 was removed by the killed pull');
    assert.equal(next.out.retention?.pruned, true);
    assert.equal(next.out.check?.ok, true);
    assert.equal(lockFiles(w.replicaRepo).length, 0);
    assert.ok(!(await originalsHere()).has(ids.get('db@5')));

    const after = await pull();
    assert.equal(after.out.retention?.pruned, false, 'the owed prune was paid');
  });
});

