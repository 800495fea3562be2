/**
 * The primary repository over sftp (`backup.repository: sftp:user@127.0.0.1:/path`, with
 * `backup.ssh` naming port, key and known_hosts) against a private read-write sshd on loopback.
 * restic cannot run inside the helper container against sftp, so volumes go the tar-stream way:
 * read by the helper container, streamed into restic on the host. Run, verify, restore of a volume
 * and a database, all through the real sshd. A lock another restic holds is watched over sftp.
 * The project's repository is prepared with a cheap key (restic-repo.ts); a small project of its
 * own has berth create one over sftp with restic's real key derivation.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createBackupProject, db, dbEnv, holdLock, mariadb, restic, writeVolume, type BackupProject } from './backup-harness.js';
import { createTestProject, runBerth, waitFor } from './harness.js';
import { replicationUnavailable, startSshd, type Sshd } from './replicate-harness.js';

interface RunJson {
  status: string;
  repository: string;
  results: Array<{ source: string; type: string; status: string; snapshotId?: string; error?: string }>;
}

const unavailable = replicationUnavailable();

describe('an sftp repository', { timeout: 240_000, skip: unavailable }, () => {
  let root: string;
  let sshd: Sshd;
  let p: BackupProject;
  let repoDir: string;
  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-sftp-'));
    sshd = await startSshd(path.join(root, 'sshd'), { writable: true });
    repoDir = path.join(root, 'remote', 'repo');
    fs.mkdirSync(path.dirname(repoDir));
    p = await createBackupProject({
      repo: repoDir,
      repoUrl: `sftp:${sshd.user}@127.0.0.1:${repoDir}`,
      extraBackup: `  ssh: { port: ${sshd.port}, identity_file: ${sshd.clientKey}, known_hosts: ${sshd.knownHosts} }\n`,
    });
  });
  after(async () => {
    await p?.cleanup();
    await sshd?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('backup run stores every source over sftp, the volume as a tar stream', async () => {
    const r = await p.json<RunJson>(['backup', 'run']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.value.status, 'succeeded');
    assert.equal(r.value.repository, `sftp:${sshd.user}@127.0.0.1:${repoDir}`);
    assert.deepEqual(r.value.results.map((x) => `${x.source}:${x.status}`), ['db:succeeded', 'pg:succeeded', 'cache:succeeded', 'files:succeeded', 'config:succeeded']);
    // Read back with restic on the folder itself: the snapshots are really there.
    const snaps = p.snapshots();
    assert.equal(snaps.length, 5);
    assert.deepEqual(snaps.find((s) => s.tags.includes('source=files'))!.paths, ['/volume/files.tar']);
  });

  it('verify checks the repository and drills every source over sftp', async () => {
    const v = await p.json<{ ok: boolean; check: { ok: boolean }; drills: Array<{ source: string; ok: boolean; summary: string; error?: string }> }>(['backup', 'verify', '--read-data-subset', '100%']);
    assert.equal(v.code, 0, v.stderr);
    assert.ok(v.value.ok && v.value.check.ok);
    assert.deepEqual(v.value.drills.map((d) => `${d.source}:${d.ok}`), ['cache:true', 'config:true', 'db:true', 'files:true', 'pg:true']);
    assert.equal(v.value.drills.find((d) => d.source === 'db')!.summary, '2 tables, 303 rows, checksums equal');
    assert.match(v.value.drills.find((d) => d.source === 'files')!.summary, /^2 files, \d+ bytes, digests equal$/);
  });

  it('restores a volume and a database from the sftp repository, each after a safety snapshot', async () => {
    writeVolume(p.volume, 'rm -rf /d/sub; echo changed > /d/a.txt; echo new > /d/new.txt');
    mariadb(p.mdb, 'DELETE FROM t WHERE id > 10; DROP TABLE u');
    const r = await p.json<Array<{ source: string; safetySnapshot?: string; summary: string }>>(['restore', 'latest', '--source', 'files', '--source', 'db', '--yes']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.value.map((x) => x.source).sort(), ['db', 'files']);
    for (const x of r.value) assert.ok(x.safetySnapshot, `${x.source}: safety snapshot taken`);
    assert.equal(writeVolume(p.volume, 'cat /d/a.txt /d/sub/b.txt; ls /d'), 'hello\nworld\na.txt\nsub');
    assert.equal(mariadb(p.mdb, 'SELECT COUNT(*) FROM t'), '300');
    assert.equal(mariadb(p.mdb, 'SELECT SUM(k) FROM u'), '6');
    // The safety snapshots went to the sftp repository too.
    assert.equal(p.snapshots().filter((s) => s.tags.includes('kind=safety')).length, 2);
  });

  it('while another restic holds the lock, berth looks at the lock files over sftp and makes no attempt until they change', async () => {
    // Explicit BGSAVE commands only: one per attempt at backing up the Redis source.
    const bgsaves = () => Number(/cmdstat_bgsave:calls=(\d+)/.exec(execFileSync('redis-cli', ['-p', String(db.redisPort), 'INFO', 'commandstats'], { encoding: 'utf8' }))?.[1] ?? 0);
    const before = bgsaves();
    const holder = await holdLock(repoDir, p.passwordFile, 'exclusive');
    const child = p.spawnBerth(['backup', 'run', '--source', 'cache'], dbEnv);
    try {
      await waitFor('berth to wait for the lock', () => /waiting for it/.test(child.output()) || child.exitCode !== null, 60_000);
      // Retrying blindly, berth would have tried (and saved) again after 2 s; looking, it sees the same lock then.
      await sleep(3_500);
      assert.equal(bgsaves() - before, 1, `one BGSAVE, the first attempt: none while the lock files stayed the same\n${child.output()}`);
    } finally {
      await holder.release();
    }
    assert.equal(await child.done, 0, child.output());
    assert.match(child.output(), /✓ cache: snapshot [0-9a-f]{8}/);
    assert.equal(bgsaves() - before, 2, 'one more once the lock was released');
  });

  it('backup run creates a missing repository over sftp (restic init through the sshd)', async () => {
    const newRepo = path.join(root, 'remote', 'created');
    const q = await createTestProject({
      'compose.yaml': 'services:\n  web:\n    image: berth-test/app:v1\n',
      'berth.yaml': `name: {{NAME}}\nbackup:\n  repository: sftp:${sshd.user}@127.0.0.1:${newRepo}\n  password_file: ${p.passwordFile}\n  ssh: { port: ${sshd.port}, identity_file: ${sshd.clientKey}, known_hosts: ${sshd.knownHosts} }\n`,
    });
    try {
      const r = await q.berth(['--json', 'backup', 'run']);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as RunJson;
      assert.equal(out.status, 'succeeded');
      assert.deepEqual(out.results.map((x) => `${x.source}:${x.status}`), ['config:succeeded']);
      assert.ok(fs.existsSync(path.join(newRepo, 'config')), 'the repository was created in the remote folder');
      // Read back with restic on the folder itself: a real repository, with the snapshot in it.
      const snaps = JSON.parse(restic(newRepo, p.passwordFile, 'snapshots', '--json').out) as Array<{ tags: string[] }>;
      assert.deepEqual(snaps.map((x) => x.tags.includes('source=config')), [true]);
    } finally {
      await q.cleanup();
    }
  });

  it('a repository host with another host key is refused, naming ssh', async () => {
    const other = path.join(root, 'other_known_hosts');
    fs.writeFileSync(other, `[127.0.0.1]:${sshd.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHm2kJd3aXb8Vv3rP0oZ6k8JzZkQd3q2vM4YVw8i3Q0b\n`);
    const berth = fs.readFileSync(path.join(p.dir, 'berth.yaml'), 'utf8');
    fs.writeFileSync(path.join(p.dir, 'berth.yaml'), berth.replace(sshd.knownHosts, other));
    try {
      const r = await p.run(['backup', 'run', '--source', 'config']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /host key|ssh/i);
    } finally {
      fs.writeFileSync(path.join(p.dir, 'berth.yaml'), berth);
    }
  });

  it('restore --all on a fresh host reaches the sftp repository with --ssh-* (no berth.yaml yet to say how)', async (t) => {
    const fresh = fs.mkdtempSync(path.join(root, 'fresh-'));
    const berth = (args: string[]) => runBerth(fresh, ['-C', fresh, ...args], dbEnv);
    const from = ['restore', '--all', '--yes', '--repository', `sftp:${sshd.user}@127.0.0.1:${repoDir}`, '--password-file', p.passwordFile];
    try {
      const badPort = await berth([...from, '--ssh-port', '0']);
      assert.equal(badPort.code, 2);
      assert.match(badPort.stderr, /--ssh-port 0: should be a port number/);
      const notSftp = await berth(['restore', '--all', '--yes', '--repository', p.repo, '--password-file', p.passwordFile, '--ssh-port', String(sshd.port)]);
      assert.equal(notSftp.code, 2);
      assert.match(notSftp.stderr, /--ssh-port applies to an sftp: --repository only\n\s+hint: pass --repository sftp:user@host:\/path, or drop it$/m);
      // Without them ssh uses its defaults (port 22, no key for this host): refused, nothing written.
      const plain = await berth(from);
      assert.notEqual(plain.code, 0);
      assert.match(plain.stderr, /ssh/i);
      assert.equal(fs.existsSync(path.join(fresh, 'berth.yaml')), false);

      mariadb(p.mdb, 'DELETE FROM t WHERE id > 5');
      const started = Date.now();
      const r = await berth(['--json', ...from, '--ssh-port', String(sshd.port), '--ssh-identity', sshd.clientKey, '--ssh-known-hosts', sshd.knownHosts]);
      // It usually takes 6–7 s; in two CI runs of many this test took ~50 s, not reproduced alone: say where, when it happens.
      if (Date.now() - started > 20_000) t.diagnostic(`restore --all took ${Date.now() - started} ms; its output:\n${r.stderr}`);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { sources: Array<{ source: string }> };
      assert.deepEqual(out.sources.map((x) => x.source).sort(), ['db', 'files', 'pg']);
      assert.ok(fs.existsSync(path.join(fresh, 'berth.yaml')) && fs.existsSync(path.join(fresh, 'compose.yaml')));
      assert.equal(mariadb(p.mdb, 'SELECT COUNT(*) FROM t'), '300');
    } finally {
      await berth(['down', '-q']);
    }
  });
});
