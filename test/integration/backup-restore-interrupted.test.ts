/**
 * Restores interrupted part-way, with real restic, dockerd, MariaDB and a running service writing
 * to the data. An in-place volume restore whose helper container is killed (dockerd restarted,
 * OOM, someone's `docker kill`):
 * - before restic began, the volume's files are put back as they were and the service is started again;
 * - once restic had begun, the volume is partly restored: the service is left stopped (and
 *   reconcile does not start it) until a restore succeeds, or `berth up` starts it.
 * A database restore whose client dies after the database was dropped holds its writers the same way.
 * A source left partly restored, whether or not a service writes to it, is not backed up until a
 * restore of it succeeds or `backup run --accept-partial` accepts its data as it is.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createBackupProject, db, dbEnv, docker, holdLock, mariadb, pidOf, restic, resticRestoring, writeVolume, type BackupProject } from './backup-harness.js';
import { lockFiles } from './restic-repo.js';

interface StatusJson {
  services: Array<{ service: string; state: string; stoppedOnPurpose?: { reason: string; by: string } }>;
}

/** The `mariadb` client that loads a dump into `database` (its last argument, no -e). */
const restoringClient = (database: string) => pidOf((argv) => path.basename(argv[0] ?? '') === 'mariadb' && argv.at(-1) === database && !argv.includes('-e'));

describe('restores interrupted part-way', { timeout: 300_000 }, () => {
  let p: BackupProject;
  const big = `bt_big_${process.pid}`;
  let mountpoint: string;
  /** The first snapshot of the volume: all 200 MB (a later one may hold what `berth up` accepted as it was). */
  let whole: string;
  /** Every path in the volume with its size, and the marker's content (set aside or not). */
  const listing = () => writeVolume(p.volume, 'cd /d && find . | sort && cat marker 2>/dev/null; true');
  const webRunning = () => docker('inspect', '-f', '{{.State.Running}}', `${p.name}-web-blue`) === 'true';
  const aside = () => fs.readdirSync(mountpoint).filter((f) => /^\.berth-(replaced|removing)-/.test(f));
  const status = async () => {
    const r = await p.json<StatusJson>(['status']);
    assert.equal(r.code, 0, r.stderr);
    return r.value.services.find((s) => s.service === 'web')!;
  };

  /** True once the files set aside have been moved on to be deleted: restic said "restoring" and writes. */
  const onceRestoring = () => {
    let setAside = false;
    return () => {
      const replaced = aside().some((f) => f.startsWith('.berth-replaced-'));
      if (replaced) setAside = true;
      return setAside && !replaced;
    };
  };
  /**
   * Until no lock is left in the repository. A restic killed with its helper or with berth leaves a
   * stale lock, and this sandbox's init reaps the orphan late (restic counts a zombie's lock as
   * live): a refused first attempt (files set aside, then moved back) would look like restic
   * beginning to the watch of `onceRestoring`.
   */
  const noLockLeft = async () => {
    const deadline = Date.now() + 20_000;
    while (lockFiles(p.repo).length > 0) {
      assert.ok(Date.now() < deadline, 'a lock stayed in the repository');
      restic(p.repo, p.passwordFile, 'unlock');
      await sleep(500);
    }
  };
  /** Starts `berth restore` of the volume and kills its helper container once `when()` holds. */
  const restoreKilled = async (when: () => boolean, snapshot = 'latest') => {
    const child = p.spawnBerth(['restore', snapshot, '--source', 'files', '--no-safety', '--yes'], dbEnv);
    const deadline = Date.now() + 60_000;
    let killed = '';
    const helper = `berth-helper-${p.name}-files-${child.pid}`;
    while (!killed && Date.now() < deadline && child.exitCode === null) {
      // restic is frozen first (at once, from here), so the kill lands where it was seen, however long docker takes.
      const running = when() ? resticRestoring() : undefined;
      if (running) {
        process.kill(running, 'SIGSTOP');
        killed = docker('kill', helper);
      }
      await sleep(5);
    }
    const code = await child.done;
    assert.ok(killed, `the helper was never caught at the right moment (exit ${code}): ${child.output()}`);
    return { code, output: child.output() };
  };

  /** Starts `berth restore` of a source of database `big` and kills the client that loads the dump into it. */
  const restoreClientKilled = async (source: string) => {
    const child = p.spawnBerth(['restore', 'latest', '--source', source, '--no-safety', '--yes'], dbEnv);
    let killed: number | undefined;
    const deadline = Date.now() + 60_000;
    while (killed === undefined && Date.now() < deadline && child.exitCode === null) {
      const pid = restoringClient(big);
      if (pid) {
        process.kill(pid, 'SIGKILL');
        killed = pid;
      }
      await sleep(5);
    }
    const code = await child.done;
    assert.ok(killed, `the client was never caught loading the dump (exit ${code}): ${child.output()}`);
    return { code, output: child.output() };
  };

  before(async () => {
    p = await createBackupProject({
      extraBackup: '  lock_wait: 2m\n',
      extraSources:
        `    big: { type: mariadb, database: ${big}, user: ${db.user}, password_env: BT_DB_PASSWORD, port: ${db.mariadbPort}, writers: [web] }\n` +
        // The same database, as a source no service writes to.
        `    solo: { type: mariadb, database: ${big}, user: ${db.user}, password_env: BT_DB_PASSWORD, port: ${db.mariadbPort} }\n`,
    });
    assert.equal((await p.run(['up'])).code, 0);
    // ~200 MB in 200 files: restic takes a while to write them back, long enough to be caught at it.
    writeVolume(p.volume, 'mkdir -p /d/big && for i in $(seq 1 200); do head -c 1048576 /dev/urandom > /d/big/f$i; done');
    mountpoint = docker('volume', 'inspect', '-f', '{{.Mountpoint}}', p.volume);
    const r = await p.run(['backup', 'run', '--source', 'files']);
    assert.equal(r.code, 0, r.stderr);
    whole = p.snapshots('files')[0]!.short_id;
  });
  after(async () => {
    await p?.cleanup();
    mariadb(undefined, `DROP DATABASE IF EXISTS ${big}`);
  });

  it('killed before restic began: every file is put back, the service started again', async () => {
    writeVolume(p.volume, 'echo written-after-the-backup > /d/marker');
    const current = listing();
    // Another restic holds the lock, so restic in the helper cannot begin while the files are aside.
    const holder = await holdLock(p.repo, p.passwordFile, 'exclusive');
    let r: { code: number; output: string };
    try {
      r = await restoreKilled(() => aside().some((f) => f.startsWith('.berth-replaced-')));
    } finally {
      await holder.release();
    }
    assert.equal(listing(), current, 'every file is where it was, the marker too');
    assert.deepEqual(aside(), []);
    assert.ok(webRunning(), 'nothing changed: the service was started again');
    assert.equal(r.code, 13, r.output);
    assert.match(r.output, /files: the restore's helper container ended before restic began \(.*\); the volume's files are as they were/);
    assert.match(r.output, /hint: nothing was restored: run the restore again/);
    assert.equal((await status()).stoppedOnPurpose, undefined);
  });

  it('killed while restic restores: the service stays stopped until a restore succeeds', async () => {
    await noLockLeft();
    const r = await restoreKilled(onceRestoring());
    assert.equal(webRunning(), false, 'left stopped on partly restored data');
    assert.equal(r.code, 13, r.output);
    assert.match(r.output, /files: the restore's helper container ended while restic was restoring \(.*\)\nfiles: the restore had begun, so files may be partly restored: web is left stopped, so nothing writes to it/);
    assert.match(r.output, /hint: restore again \(`berth restore [0-9a-f]{8} --source files`\); either starts web again once it succeeds\. `berth up` starts it as it is/);
    assert.deepEqual(aside(), [], 'what was set aside is removed');
    // `berth status` reconciles (it would start a stopped live container), and shows why it is stopped.
    const held = await status();
    assert.equal(held.state, 'exited');
    assert.match(held.stoppedOnPurpose?.reason ?? '', /^berth restore: the restore of files failed part-way/);
    const text = await p.run(['status']);
    assert.match(text.stdout, /note: web is stopped on purpose since \d{4}-\d\d-\d\d \d\d:\d\d UTC by \S+ \(berth restore: the restore of files failed part-way/);
    assert.equal(webRunning(), false, 'reconcile left it stopped');
    // No backup of partly restored data: it would become the source's latest snapshot.
    const snapshots = p.snapshots('files').length;
    const refusedRun = await p.json<{ status: string; results: Array<{ error?: string; hint?: string }> }>(['backup', 'run', '--source', 'files']);
    assert.equal(refusedRun.code, 13, refusedRun.stderr);
    assert.equal(refusedRun.value.status, 'failed');
    assert.match(refusedRun.value.results[0]!.error!, /^not backed up: a restore of files failed part-way \(\d{4}-\d\d-\d\d \d\d:\d\d UTC, by \S+\), so its data may be partial \(web held stopped\)/);
    assert.match(refusedRun.value.results[0]!.hint!, /^restore it again \(`berth restore [0-9a-f]{8} --source files`.*`berth backup run --source files --accept-partial` backs it up as it is/);
    assert.equal(p.snapshots('files').length, snapshots, 'nothing stored');
    const backupStatus = await p.run(['backup', 'status']);
    assert.match(backupStatus.stdout, /files +volume .* PARTLY RESTORED since \d{4}-\d\d-\d\d \d\d:\d\d UTC \(web held stopped; not backed up\)/);

    // Another attempt that changes nothing (its lock refused) leaves it held. (The killed restic's
    // lock is stale: cleared first, else the exclusive holder below could not take its own.)
    restic(p.repo, p.passwordFile, 'unlock');
    p.write('berth.yaml', fs.readFileSync(path.join(p.dir, 'berth.yaml'), 'utf8').replace('lock_wait: 2m', 'lock_wait: 0s'));
    const holder = await holdLock(p.repo, p.passwordFile, 'exclusive');
    try {
      const refused = await p.run(['restore', 'latest', '--source', 'files', '--no-safety', '--yes']);
      assert.equal(refused.code, 14, refused.stderr);
      assert.match(refused.stderr, /is locked by PID \d+/);
    } finally {
      await holder.release();
      p.write('berth.yaml', fs.readFileSync(path.join(p.dir, 'berth.yaml'), 'utf8').replace('lock_wait: 0s', 'lock_wait: 2m'));
    }
    assert.equal(webRunning(), false, 'still held: the data is still partly restored');

    const again = await p.json<Array<{ stopped: string[] }>>(['restore', 'latest', '--source', 'files', '--no-safety', '--yes']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(again.value[0]!.stopped, ['web']);
    assert.ok(webRunning(), 'the restore succeeded: the service is started again');
    assert.equal((await status()).stoppedOnPurpose, undefined);
    assert.doesNotMatch(listing(), /marker/, 'the snapshot is back whole');
    assert.equal(writeVolume(p.volume, 'cd /d/big && ls | wc -l'), '200');
    const digest = (dir: string) => execFileSync('sh', ['-c', `cd ${dir} && find . -type f | sort | xargs sha256sum | sha256sum`], { encoding: 'utf8' });
    const restored = digest(path.join(mountpoint, 'big'));
    const scratch = fs.mkdtempSync(path.join(p.dir, 'snap-'));
    const dumped = await p.run(['restore', 'latest', '--source', 'files', '--to', scratch, '--yes']);
    assert.equal(dumped.code, 0, dumped.stderr);
    assert.equal(restored, digest(path.join(scratch, 'volume', 'files', 'big')), 'every file equals the snapshot');
  });

  it('`berth up` starts a service a failed restore left stopped', async () => {
    await noLockLeft();
    const r = await restoreKilled(onceRestoring());
    assert.equal(webRunning(), false);
    assert.equal(r.code, 13, r.output);
    const up = await p.run(['up']);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, /✓ web: started again \(it was stopped on purpose\)/);
    assert.match(up.stderr, /web: starts on files as a failed restore left it; files is not backed up until a restore of it succeeds, or `berth backup run --source files --accept-partial` accepts it as it is/);
    assert.ok(webRunning(), 'the same container, started as it is (not replaced)');
    assert.equal((await status()).stoppedOnPurpose, undefined);
    // Running the service does not say its data is whole.
    const refused = await p.run(['backup', 'run', '--source', 'files']);
    assert.equal(refused.code, 13, refused.stderr);
    assert.match(refused.stderr, /not backed up: a restore of files failed part-way \(.*\), so its data may be partial; a snapshot/);
    const resumed = await p.run(['backup', 'run', '--source', 'files', '--accept-partial']);
    assert.equal(resumed.code, 0, `data accepted as it is: backups resume\n${resumed.stderr}`);
    assert.match(resumed.stderr, /files: its data, partly restored since \d{4}-\d\d-\d\d \d\d:\d\d UTC, is accepted as it is; backed up again from now on/);
    assert.equal((await p.run(['backup', 'run', '--source', 'files'])).code, 0, 'and from then on');
  });

  it('a database restore whose client dies after the drop leaves its writers stopped; one that succeeds starts them', async () => {
    mariadb(undefined, `CREATE DATABASE ${big}`);
    // ~12 MB of SQL: loading it takes long enough to be caught at it.
    mariadb(big, "CREATE TABLE r (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(80)); INSERT INTO r (v) SELECT CONCAT('row-', seq, '-', REPEAT('x', 40)) FROM seq_1_to_200000");
    const backup = await p.run(['backup', 'run', '--source', 'big']);
    assert.equal(backup.code, 0, backup.stderr);
    assert.ok(webRunning());
    const staleBefore = lockFiles(p.repo); // left by the restic killed with berth in the tests above
    const { code, output } = await restoreClientKilled('big');
    assert.equal(webRunning(), false, 'left stopped on a partly restored database');
    const rows = (() => {
      try {
        return mariadb(big, 'SELECT COUNT(*) FROM r');
      } catch {
        return 'no table r';
      }
    })();
    assert.notEqual(rows, '200000', 'the database is indeed partly restored');
    assert.equal(code, 13, output);
    // The restic dump that fed the dead client was interrupted so that it removed its lock (SIGTERM would leave it).
    assert.deepEqual(lockFiles(p.repo), staleBefore);
    assert.match(output, /big: the restore had begun, so big may be partly restored: web is left stopped, so nothing writes to it/);
    assert.equal((await status()).stoppedOnPurpose?.reason, 'berth restore: the restore of big failed part-way; left stopped until it is restored');

    const again = await p.json<Array<{ stopped: string[] }>>(['restore', 'latest', '--source', 'big', '--no-safety', '--yes']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(again.value[0]!.stopped, ['web']);
    assert.equal(mariadb(big, 'SELECT COUNT(*) FROM r'), '200000');
    assert.ok(webRunning(), 'restored whole: the writer is started again');
    assert.equal((await status()).stoppedOnPurpose, undefined);
  });

  it('berth SIGKILLed during a database restore: its writer stays stopped (reconcile leaves it) until a restore succeeds', async () => {
    assert.ok(webRunning());
    const child = p.spawnBerth(['restore', 'latest', '--source', 'big', '--no-safety', '--yes'], dbEnv);
    const deadline = Date.now() + 60_000;
    while (!restoringClient(big) && Date.now() < deadline && child.exitCode === null) await sleep(5);
    assert.ok(restoringClient(big), `the client was never caught loading the dump: ${child.output()}`);
    child.kill('SIGKILL');
    await child.done;
    const held = await status();
    assert.equal(held.state, 'exited', 'reconcile (run by `berth status`) did not start it');
    assert.match(held.stoppedOnPurpose?.reason ?? '', /^berth restore: the restore of big failed part-way/);
    const again = await p.run(['restore', 'latest', '--source', 'big', '--no-safety', '--yes']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(mariadb(big, 'SELECT COUNT(*) FROM r'), '200000');
    assert.ok(webRunning());
  });

  it('a source no service writes to is not backed up either once left partly restored, until its data is accepted', async () => {
    const backup = await p.run(['backup', 'run', '--source', 'solo']);
    assert.equal(backup.code, 0, backup.stderr);
    const { code, output } = await restoreClientKilled('solo');
    assert.equal(code, 13, output);
    assert.match(output, /solo: the restore had begun, so solo may be partly restored\n/);
    assert.match(output, /hint: restore again \(`berth restore [0-9a-f]{8} --source solo`\)\n/);
    assert.ok(webRunning(), 'nothing was stopped');
    const refused = await p.json<{ results: Array<{ error?: string; hint?: string }> }>(['backup', 'run', '--source', 'solo']);
    assert.equal(refused.code, 13, refused.stderr);
    assert.match(refused.value.results[0]!.error!, /^not backed up: a restore of solo failed part-way \(\d{4}-\d\d-\d\d \d\d:\d\d UTC, by \S+\), so its data may be partial; a snapshot of it now would take a good one's place$/);
    assert.match(refused.value.results[0]!.hint!, /`berth backup run --source solo --accept-partial`/);
    const backupStatus = await p.run(['backup', 'status']);
    assert.match(backupStatus.stdout, /solo +mariadb .* PARTLY RESTORED since \d{4}-\d\d-\d\d \d\d:\d\d UTC \(not backed up\)/);
    // A copy restored elsewhere leaves the source as it is.
    const copy = `${big}_copy`;
    try {
      const elsewhere = await p.run(['restore', 'latest', '--source', 'solo', '--to', copy, '--yes']);
      assert.equal(elsewhere.code, 0, elsewhere.stderr);
      assert.equal(mariadb(copy, 'SELECT COUNT(*) FROM r'), '200000');
    } finally {
      mariadb(undefined, `DROP DATABASE IF EXISTS ${copy}`);
    }
    assert.equal((await p.run(['backup', 'run', '--source', 'solo'])).code, 13, 'still partly restored');

    const accepted = await p.run(['backup', 'run', '--source', 'solo', '--accept-partial']);
    assert.equal(accepted.code, 0, accepted.stderr);
    assert.match(accepted.stderr, /solo: its data, partly restored since .* is accepted as it is/);
    const audit = await p.json<Array<{ action: string; target: string; user: string }>>(['audit', 'list']);
    assert.ok(audit.value.some((a) => a.action === 'backup.accept-partial' && a.target === 'solo'), 'the acceptance is in the audit trail');
  });

  it('`berth down` keeps the hold: no backup until a restore succeeds, after which the service stays down as `berth down` left it', async () => {
    await noLockLeft();
    const r = await restoreKilled(onceRestoring(), whole);
    assert.equal(webRunning(), false);
    assert.equal(r.code, 13, r.output);
    const down = await p.run(['down']);
    assert.equal(down.code, 0, down.stderr);
    assert.match((await status()).stoppedOnPurpose?.reason ?? '', /^berth restore: the restore of files failed part-way/, 'the hold outlives `berth down`');
    const refused = await p.run(['backup', 'run', '--source', 'files']);
    assert.equal(refused.code, 13, refused.stderr);
    assert.match(refused.stderr, /not backed up: a restore of files failed part-way/);

    const restored = await p.json<Array<{ stopped: string[] }>>(['restore', whole, '--source', 'files', '--no-safety', '--yes']);
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(restored.value[0]!.stopped, [], 'no container to stop or start');
    assert.equal((await status()).stoppedOnPurpose?.reason, 'berth down', 'still down on purpose, no longer held');
    const resumed = await p.run(['backup', 'run', '--source', 'files']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const up = await p.run(['up']);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(docker('ps', '--filter', `label=berth.project=${p.name}`, '--filter', 'label=berth.service=web', '--format', '{{.State}}'), 'running');
    assert.equal((await status()).stoppedOnPurpose, undefined);
  });
});
