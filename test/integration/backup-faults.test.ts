/**
 * Backup faults with real databases and restic: a database down, a wrong repository password,
 * a full repository disk (tmpfs), SIGKILL mid-backup, a corrupted pack file. Each gives a clear
 * error and leaves the earlier snapshots intact and restorable.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertCheckClean, createBackupProject, db, dbEnv, docker, mariadb, restic, writeVolume, type BackupProject } from './backup-harness.js';
import { freePort, sleep, waitFor } from './harness.js';
import { lockFiles } from './restic-repo.js';

interface RunJson {
  runId: string;
  status: string;
  results: Array<{ source: string; status: string; snapshotId?: string; error?: string }>;
}
interface VerifyJson {
  ok: boolean;
  check: { ok: boolean; damagedPacks: string[] };
  drills: Array<{ source: string; ok: boolean }>;
}

describe('backup faults', { timeout: 240_000 }, () => {
  let p: BackupProject;
  const big = `bt-big-${randomBytes(3).toString('hex')}`;
  before(async () => {
    const closed = await freePort();
    p = await createBackupProject({
      extraSources: `    down: { type: postgres, database: gone, user: ${db.user}, password_env: BT_DB_PASSWORD, port: ${closed} }\n    big: { type: volume, volume: ${big} }\n`,
    });
  });
  after(async () => {
    spawnSync('sh', ['-c', `docker ps -aq --filter name=berth-helper-${p?.name} | xargs -r docker rm -f`]);
    spawnSync('docker', ['volume', 'rm', '-f', big]);
    await p?.cleanup();
  });

  it('one database down: the others are stored, the run is partial, exits non-zero naming the failure', async () => {
    const r = await p.json<RunJson>(['backup', 'run', '--source', 'db', '--source', 'down', '--source', 'files']);
    assert.equal(r.code, 13, r.stderr);
    assert.equal(r.value.status, 'partial');
    const byName = Object.fromEntries(r.value.results.map((x) => [x.source, x]));
    assert.equal(byName.db!.status, 'succeeded');
    assert.equal(byName.files!.status, 'succeeded');
    assert.equal(byName.down!.status, 'failed');
    assert.match(byName.down!.error!, /down: .*(connection refused|could not connect|Connection refused)/i);
    assert.match(r.stderr, /down: FAILED/);
    assert.deepEqual(p.snapshots().map((s) => s.tags.find((t) => t.startsWith('source='))).sort(), ['source=db', 'source=files']);
    // The failed source's restic was interrupted, maybe while it took its lock: no lock file is left.
    assert.deepEqual(lockFiles(p.repo), []);
    assertCheckClean(p.repo, p.passwordFile);

    const text = await p.run(['backup', 'run', '--source', 'down']);
    assert.equal(text.code, 13);
    assert.match(text.stderr, /berth: error: backup run \S+ failed: down failed \(.*\)/);

    // `backup status` says the failed attempt instead of the last good one's "ok"; the others are ok.
    const status = await p.run(['backup', 'status']);
    assert.match(status.stdout, /\ndown +postgres +- .* FAILED \d{4}-\d\d-\d\d \d\d:\d\d UTC: down: /, status.stdout);
    assert.match(status.stdout, /\ndb +\w+ +\d{4}.* ok\n/, status.stdout);
    const json = await p.json<{ sources: Array<{ source: string; failed?: { at: string; error: string } }> }>(['backup', 'status']);
    assert.match(json.value.sources.find((x) => x.source === 'down')?.failed?.error ?? '', /^down: .*(connection refused|could not connect|Connection refused)/i);
    assert.equal(json.value.sources.find((x) => x.source === 'db')?.failed, undefined);
  });

  it('restic (or a database tool) missing on this host: named, with the package to install', async () => {
    // A PATH that has node and docker, and nothing else.
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-path-'));
    for (const tool of ['node', 'docker']) fs.symlinkSync(execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim(), path.join(bin, tool));
    try {
      const r = await p.berth(['backup', 'run', '--source', 'db'], { ...dbEnv, PATH: bin });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /berth: error: restic is not installed on this host \(not found on PATH\)\n\s+hint: install it \(Debian: apt install restic\)/);
    } finally {
      fs.rmSync(bin, { recursive: true, force: true });
    }
    assert.equal(p.snapshots().length, 2, 'earlier snapshots untouched');
  });

  it('wrong repository password: a clear error, the run recorded failed, earlier snapshots untouched', async () => {
    const good = fs.readFileSync(p.passwordFile, 'utf8');
    fs.writeFileSync(p.passwordFile, 'not-the-password\n');
    try {
      const r = await p.run(['backup', 'run', '--source', 'db']);
      assert.equal(r.code, 14, r.stderr);
      assert.match(r.stderr, /wrong password for the restic repository .*repo\n\s+hint: check backup.password_file/);
      const v = await p.run(['backup', 'verify']);
      assert.equal(v.code, 14);
      assert.match(v.stderr, /wrong password/);
      // The status says why that verify failed (it drilled nothing).
      assert.match((await p.run(['backup', 'status'])).stdout, /last verify: \S+ failed \(wrong password for the restic repository/);
    } finally {
      fs.writeFileSync(p.passwordFile, good);
    }
    const list = await p.json<Array<{ status: string; error?: string }>>(['backup', 'list', '-n', '1']);
    assert.equal(list.value[0]!.status, 'failed');
    assert.match(list.value[0]!.error ?? '', /wrong password/);
    assert.equal(p.snapshots().length, 2);
    assertCheckClean(p.repo, p.passwordFile);
  });

  it('SIGKILL mid-backup: no truncated snapshot, the next run succeeds, earlier snapshots stay readable', async () => {
    docker('volume', 'create', big);
    // Large enough that restic (a second or so for 240 MB here) is still reading when the helper's watchdog (0.2 s) sees berth gone.
    docker('run', '--rm', '-v', `${big}:/d`, '--entrypoint', '/bin/sh', 'berth-test/app:v1', '-c', 'head -c 240000000 /dev/urandom > /d/big.bin');
    const child = p.spawnBerth(['backup', 'run', '--source', 'big']);
    await waitFor('the helper container', () => docker('ps', '-q', '--filter', `name=berth-helper-${p.name}-big`) !== '', 30_000);
    await sleep(200);
    child.kill('SIGKILL');
    assert.equal(await child.done, -1, `berth finished before it was killed:\n${child.output()}`);
    // restic died with berth (parent-death signal), so it cannot save the truncated stream.
    await waitFor('restic to exit', () => spawnSync('pgrep', ['-f', 'source=big']).status !== 0, 10_000);
    await sleep(500);
    assert.equal(p.snapshots('big').length, 0);
    // restic died by a catchable signal and removed its lock. One SIGKILLed itself cannot: forget
    // and prune need restic's exclusive lock, so prune clears such a stale lock first.
    const stale = spawn('restic', ['backup', '--stdin', '-q'], { env: { ...process.env, RESTIC_REPOSITORY: p.repo, RESTIC_PASSWORD_FILE: p.passwordFile }, stdio: ['pipe', 'ignore', 'ignore'] });
    await waitFor('the lock of a restic reading stdin', () => lockFiles(p.repo).length > 0, 20_000);
    stale.kill('SIGKILL');
    await once(stale, 'exit');
    assert.equal(lockFiles(p.repo).length, 1, 'a stale lock is left behind');
    const pruned = await p.run(['backup', 'prune']);
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.equal(lockFiles(p.repo).length, 0);

    const r = await p.json<RunJson>(['backup', 'run', '--source', 'big', '--source', 'db']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /marked 1 earlier run\(s\) interrupted/);
    assert.equal(p.snapshots('big').length, 1);
    // check needs an exclusive lock: the killed restic's stale lock is cleared first.
    const v = await p.json<VerifyJson>(['backup', 'verify', '--source', 'db', '--source', 'files', '--read-data-subset', '100%']);
    assert.equal(v.code, 0, v.stderr);
    assert.ok(v.value.ok && v.value.drills.length === 2 && v.value.drills.every((d) => d.ok));
  });

  it('a corrupted pack file: verify fails and names it', async () => {
    // The biggest pack the index refers to: the SIGKILLed run above may have left an unreferenced
    // pack behind, which `check` does not read (it only lists it), so damaging it proves nothing.
    const referenced = new Set<string>();
    for (const id of restic(p.repo, p.passwordFile, 'list', 'index', '--no-lock').out.split('\n').filter((l) => /^[0-9a-f]{64}$/.test(l))) {
      const index = JSON.parse(restic(p.repo, p.passwordFile, 'cat', 'index', id, '--no-lock').out) as { packs: Array<{ id: string }> };
      for (const pack of index.packs) referenced.add(pack.id);
    }
    const packs = fs.readdirSync(path.join(p.repo, 'data'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && referenced.has(e.name));
    assert.ok(packs.length > 0, 'no pack referenced by the index');
    const biggest = packs.map((e) => path.join(e.parentPath, e.name)).sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0]!;
    const fd = fs.openSync(biggest, 'r+');
    fs.writeSync(fd, Buffer.from('corrupted-by-the-test'), 0, 21, 4096);
    fs.closeSync(fd);
    const r = await p.run(['backup', 'verify', '--source', 'db', '--read-data-subset', '100%']);
    assert.equal(r.code, 15, r.stderr);
    assert.match(r.stderr, new RegExp(`restic check found damage in pack\\(s\\) [0-9a-f, ]*${path.basename(biggest)}`));
  });
});

describe('repository disk full', { timeout: 120_000 }, () => {
  let p: BackupProject;
  const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-full-'));
  const fill = `bt-fill-${randomBytes(3).toString('hex')}`;
  const bigdb = `bt_big_${randomBytes(3).toString('hex')}`;
  before(async () => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt]);
    mariadb(undefined, `CREATE DATABASE ${bigdb}`);
    mariadb(bigdb, 'CREATE TABLE blobs (id INT PRIMARY KEY, b BLOB); INSERT INTO blobs SELECT seq, RANDOM_BYTES(1024) FROM seq_1_to_12000');
    p = await createBackupProject({
      repo: path.join(mnt, 'repo'),
      extraSources: `    fill: { type: volume, volume: ${fill} }\n    bigdb: { type: mariadb, database: ${bigdb}, user: ${db.user}, password_env: BT_DB_PASSWORD }\n`,
    });
    docker('volume', 'create', fill);
    docker('run', '--rm', '-v', `${fill}:/d`, '--entrypoint', '/bin/sh', 'berth-test/app:v1', '-c', 'head -c 12000000 /dev/urandom > /d/random.bin');
  });
  after(async () => {
    await p?.cleanup();
    spawnSync('umount', [mnt]);
    fs.rmSync(mnt, { recursive: true, force: true });
    spawnSync('docker', ['volume', 'rm', '-f', fill]);
    mariadb(undefined, `DROP DATABASE IF EXISTS ${bigdb}`);
  });

  it('fails with a clear error and keeps the earlier snapshot restorable', async () => {
    const ok = await p.json<RunJson>(['backup', 'run', '--source', 'db']);
    assert.equal(ok.code, 0, ok.stderr);
    const r = await p.run(['backup', 'run', '--source', 'fill']);
    assert.equal(r.code, 13, r.stderr);
    assert.match(r.stderr, /fill failed \(the repository \S+ is full \(no space left on device\)/);
    assert.match(r.stderr, /hint: free space on the repository disk or run `berth backup prune`/);
    assert.equal(p.snapshots('fill').length, 0);
    // A streamed dump (24 MB of hex, ~12 MB after restic's compression) hits the same wall: restic's error wins over the dump's broken pipe.
    const s2 = await p.run(['backup', 'run', '--source', 'bigdb']);
    assert.equal(s2.code, 13, s2.stderr);
    assert.match(s2.stderr, /bigdb failed \(the repository \S+ is full \(no space left on device\)/);
    assert.equal(p.snapshots('bigdb').length, 0);
    const v = await p.json<VerifyJson>(['backup', 'verify', '--source', 'db', '--read-data-subset', '100%']);
    assert.equal(v.code, 0, v.stderr);
    assert.ok(v.value.ok && v.value.check.ok && v.value.drills[0]!.ok);
  });
});

describe('repository disk not mounted', { timeout: 120_000 }, () => {
  let p: BackupProject;
  const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-unmounted-'));
  const repo = path.join(mnt, 'repo');
  before(async () => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mnt]);
    p = await createBackupProject({ repo, repository: 'berth' });
  });
  after(async () => {
    await p?.cleanup();
    spawnSync('umount', [mnt]);
    fs.rmSync(mnt, { recursive: true, force: true });
  });

  it('is not created anew on the disk beneath: a clear error until --init says a new repository is wanted', async () => {
    const first = await p.json<RunJson>(['backup', 'run', '--source', 'db']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /created restic repository/);
    execFileSync('umount', [mnt]);

    const r = await p.run(['backup', 'run', '--source', 'db']);
    assert.equal(r.code, 14, r.stderr);
    assert.match(r.stderr, new RegExp(`the repository ${repo} is missing, but this host stored snapshots there until \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC\\n\\s+hint: is its disk mounted.*\`berth backup run --init\``));
    assert.equal(fs.existsSync(repo), false, 'nothing was written to the disk beneath');
    const list = await p.json<Array<{ status: string; error?: string }>>(['backup', 'list', '-n', '1']);
    assert.equal(list.value[0]!.status, 'failed');
    assert.match(list.value[0]!.error ?? '', /is missing/);
    const withAgent = await p.run(['backup', 'run', '--init', '--agent']);
    assert.equal(withAgent.code, 2, withAgent.stderr);
    assert.match(withAgent.stderr, /--init and --agent do not go together/);

    // A new, empty disk mounted there: --init creates the repository on it.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mnt]);
    const fresh = await p.json<RunJson>(['backup', 'run', '--source', 'db', '--init']);
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.match(fresh.stderr, /created restic repository/);
    assert.equal(p.snapshots('db').length, 1);
  });
});

describe('a volume source whose volume does not exist', { timeout: 120_000 }, () => {
  let p: BackupProject;
  const volumeExists = (name: string) => spawnSync('docker', ['volume', 'inspect', name]).status === 0;
  before(async () => {
    p = await createBackupProject();
  });
  after(async () => p?.cleanup());

  it('is a failed source, not an empty volume created and stored as an empty snapshot', async () => {
    docker('volume', 'rm', p.volume);
    const r = await p.json<RunJson>(['backup', 'run', '--source', 'files']);
    assert.equal(r.code, 13, r.stderr);
    assert.equal(r.value.results[0]!.status, 'failed');
    assert.match(r.value.results[0]!.error!, new RegExp(`source files: volume ${p.volume} does not exist`));
    const text = await p.run(['backup', 'run', '--source', 'files']);
    assert.match(text.stderr, /hint: it is created when the project starts \(`berth up`\)/);
    assert.equal(volumeExists(p.volume), false, 'the backup did not create it');
    assert.equal(p.snapshots('files').length, 0);
  });

  it('restoring it on a host without it: no safety snapshot (nothing to keep), created with the project labels, data back', async () => {
    docker('volume', 'create', p.volume);
    writeVolume(p.volume, 'echo kept > /d/a.txt');
    assert.equal((await p.run(['backup', 'run', '--source', 'files'])).code, 0);
    docker('volume', 'rm', p.volume);
    const r = await p.json<Array<{ safetySnapshot?: string }>>(['restore', 'latest', '--source', 'files', '--yes']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.value[0]!.safetySnapshot, undefined);
    assert.match(r.stderr, new RegExp(`files: no safety snapshot \\(volume ${p.volume} does not exist: nothing to keep\\)`));
    assert.equal(docker('volume', 'inspect', '-f', '{{index .Labels "berth.project"}}', p.volume), p.name);
    assert.equal(writeVolume(p.volume, 'cat /d/a.txt'), 'kept');
  });
});
