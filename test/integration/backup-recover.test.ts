/**
 * `berth restore --all` on a "fresh host": the project folder, its containers, volume and
 * databases are gone; only the repository and its password remain. The new host's audit trail
 * goes on from the old one's, as the config snapshot carried it, and so do its newest backup
 * records (verify compares with the old host's dump-time facts). Then a volume restore with
 * the service that writes to it running (stopped and started again around the restore).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createBackupProject, dbEnv, holdLock, mariadb, psql, writeVolume, type BackupProject } from './backup-harness.js';
import { dockerPs, runBerth } from './harness.js';

describe('restore --all on a fresh host', { timeout: 180_000 }, () => {
  let p: BackupProject;
  /** A snapshot of `files` older than the newest: the config snapshot carries no record of it. */
  let olderFiles = '';
  const keep = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-keep-'));
  const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-fresh-'));
  const berth = (args: string[]) => runBerth(fresh, ['-C', fresh, ...args], dbEnv);
  before(async () => {
    // web mounts the volume of `files` and writes to db: those two are restored one after the other.
    p = await createBackupProject({ repo: path.join(keep, 'repo'), dbWriters: ['web'] });
  });
  after(async () => {
    await berth(['down', '--volumes', '-q']);
    if (p) fs.mkdirSync(p.dir, { recursive: true }); // the test removed it; cleanup runs berth in it
    await p?.cleanup();
    fs.rmSync(keep, { recursive: true, force: true });
    fs.rmSync(fresh, { recursive: true, force: true });
  });

  it('rebuilds config, volumes, databases and the running services from the repository alone', async () => {
    const first = await p.json<{ results: Array<{ snapshotId: string }> }>(['backup', 'run', '--source', 'files']);
    olderFiles = first.value.results[0]!.snapshotId;
    // A verify on the old host: its history travels with the next config snapshot.
    const oldVerify = await p.json<{ verifyId: string; ok: boolean }>(['backup', 'verify', '--source', 'files']);
    assert.equal(oldVerify.value.ok, true, oldVerify.stderr);
    assert.equal((await p.run(['up'])).code, 0);
    const run = await p.run(['backup', 'run']);
    assert.equal(run.code, 0, run.stderr);
    const password = path.join(keep, 'backup.pass');
    fs.copyFileSync(p.passwordFile, password);
    type Status = { sources: Array<{ source: string; lastSnapshot?: string; lastAt?: number }> };
    const oldStatus = (await p.json<Status>(['backup', 'status'])).value.sources;
    // The old host's audit trail as the backup saw it (its own record comes after the config snapshot).
    const oldTrail = (await p.json<Array<{ seq: number; action: string; hash: string }>>(['audit', 'list', '--limit', '1000'])).value;
    assert.equal(oldTrail.at(-1)!.action, 'backup.run');
    const carried = oldTrail.slice(0, -1);
    const ups = carried.filter((x) => x.action === 'up');
    assert.ok(ups.length > 0 && carried.every((x) => ['up', 'backup.run', 'backup.verify'].includes(x.action)), JSON.stringify(oldTrail));
    // The host is lost: containers, volume, databases and the project folder.
    assert.equal((await p.run(['down', '--volumes'])).code, 0);
    mariadb(undefined, `DROP DATABASE ${p.mdb}`);
    psql('postgres', `DROP DATABASE ${p.pdb}`);
    fs.rmSync(p.dir, { recursive: true, force: true });

    const noRepo = await berth(['restore', '--all', '--yes']);
    assert.equal(noRepo.code, 2);
    assert.match(noRepo.stderr, /holds no project yet\n\s+hint: on a fresh host pass --repository/);
    const noPassword = await berth(['restore', '--all', '--yes', '--repository', p.repo, '--password-file', `${password}.missing`]);
    assert.equal(noPassword.code, 2);
    assert.match(noPassword.stderr, /--password-file .*backup\.pass\.missing: no such file\n\s+hint: give the file holding the repository password/);
    assert.deepEqual(fs.readdirSync(fresh), [], 'nothing written');

    // A prune or check on the backup host holds the repository for a few seconds: the bootstrap waits for it.
    const holder = await holdLock(p.repo, password, 'exclusive');
    const released = sleep(4_000).then(() => holder.release());
    const r = await berth(['--json', 'restore', '--all', '--yes', '--repository', p.repo, '--password-file', password]);
    await released;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /config: the repository is locked by PID \d+ .*; waiting for it, at most 30m0s \(backup\.lock_wait\)/);
    const out = JSON.parse(r.stdout) as { sources: Array<{ source: string }>; skipped: string[]; bytes: number; totalMs: number; bytesPerSecond: number; projected500GbHours: number };
    assert.deepEqual(out.sources.map((s) => s.source).sort(), ['db', 'files', 'pg']);
    assert.deepEqual(out.skipped, ['cache']);
    // The databases on the host are back before `berth up` starts their clients (alongside the volume, not after it).
    const lines = r.stderr.split('\n');
    const up = lines.findIndex((l) => /→ berth up$/.test(l));
    assert.ok(up > 0, r.stderr);
    for (const source of ['db', 'pg', 'files']) assert.ok(lines.findIndex((l) => l.includes(`✓ ${source}: `)) < up, `${source} restored before berth up:\n${r.stderr}`);
    // db and files share their writer web: each stops and starts it around its restore, so they are not restored side by side.
    const at = (what: string) => lines.findIndex((l) => l.includes(what));
    assert.ok(at('✓ files: ') < at('→ db: restoring') || at('✓ db: ') < at('→ files: restoring'), `db and files one after the other:\n${r.stderr}`);
    assert.ok(out.bytes > 0 && out.totalMs > 0 && out.bytesPerSecond > 0 && out.projected500GbHours > 0);
    assert.ok(fs.existsSync(path.join(fresh, 'compose.yaml')) && fs.existsSync(path.join(fresh, 'berth.yaml')));
    assert.deepEqual(await dockerPs(p.name), [`${p.name}-web-blue running`]);
    assert.equal(writeVolume(p.volume, 'cat /d/a.txt /d/sub/b.txt'), 'hello\nworld');
    assert.equal(mariadb(p.mdb, 'SELECT COUNT(*) FROM t'), '300');
    assert.equal(psql(p.pdb, 'SELECT count(*) FROM items'), '500');
    // The new host's audit trail goes on from the old one's: its `up`, as the config snapshot carried it, then the restores.
    const n = carried.length;
    assert.match(r.stderr, new RegExp(`config: audit trail: ${n} record\\(s\\) taken up from the snapshot's copy, chain checked; new records go on from record ${n}`));
    assert.equal(fs.existsSync(path.join(fresh, '.berth-audit.jsonl')), false, 'the copy is not left in the project folder');
    const trail = JSON.parse((await berth(['--json', 'audit', 'list', '--limit', '1000'])).stdout) as Array<{ seq: number; action: string; hash: string; prevHash: string }>;
    assert.deepEqual(trail.slice(0, n), carried, 'the old records, as they were');
    assert.deepEqual(trail.slice(n).map((x) => x.action), ['backup.restore', 'backup.restore', 'backup.restore', ...ups.map((x) => x.action), 'backup.recover']);
    assert.equal(trail[n]!.prevHash, carried.at(-1)!.hash);
    const verified = await berth(['--json', 'audit', 'verify']);
    assert.equal(verified.code, 0, verified.stdout);
    assert.deepEqual(JSON.parse(verified.stdout), { ok: true, count: n + ups.length + 4, problems: [], warnings: [] });
    // And so do the old host's newest backup records: how old each source's backup is, and what its dump held.
    assert.match(r.stderr, /config: took up the backup records of 5 snapshot\(s\) made on \S+, and 1 verify\(ies\) of the last 90 days/);
    const verifies = JSON.parse((await berth(['--json', 'backup', 'list', '--verifies'])).stdout) as Array<{ id: string; status: string; drills: Array<{ source: string; status: string }> }>;
    assert.deepEqual(verifies.map((v) => [v.id, v.status, v.drills.map((d) => [d.source, d.status])]), [[oldVerify.value.verifyId, 'passed', [['files', 'passed']]]], "the old host's verify");
    assert.equal(fs.existsSync(path.join(fresh, '.berth-backups.json')), false, 'the copy is not left in the project folder');
    const newStatus = (JSON.parse((await berth(['--json', 'backup', 'status'])).stdout) as Status).sources;
    assert.deepEqual(newStatus.map((s) => s.source), oldStatus.map((s) => s.source));
    for (const was of oldStatus) {
      const now = newStatus.find((s) => s.source === was.source)!;
      if (was.source === 'config') assert.equal(now.lastSnapshot?.slice(0, 8), was.lastSnapshot?.slice(0, 8), 'the config snapshot restored from');
      else assert.deepEqual([now.source, now.lastSnapshot, now.lastAt], [was.source, was.lastSnapshot, was.lastAt]);
    }
  });

  it("verify on the new host compares with the old host's dump-time facts; of an older snapshot it has none, and says so", async () => {
    fs.copyFileSync(path.join(keep, 'backup.pass'), path.join(fresh, 'backup.pass'));
    const r = await berth(['--json', 'backup', 'verify', '--source', 'files', '--source', 'db', '--source', 'pg', '--source', 'config']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { ok: boolean; drills: Array<{ source: string; ok: boolean; unrecorded?: boolean; summary: string; mismatches: string[] }> };
    assert.deepEqual(out.drills.map((d) => [d.source, d.ok, d.unrecorded]), [['config', true, undefined], ['db', true, undefined], ['files', true, undefined], ['pg', true, undefined]], JSON.stringify(out.drills));
    assert.match(out.drills.find((d) => d.source === 'db')!.summary, /^2 tables, 303 rows, checksums equal$/);
    const older = await berth(['--json', 'backup', 'verify', '--snapshot', olderFiles]);
    assert.equal(older.code, 15, older.stderr);
    const o = JSON.parse(older.stdout) as { drills: Array<{ source: string; ok: boolean; unrecorded?: boolean; mismatches: string[] }> };
    assert.deepEqual(o.drills.map((d) => [d.source, d.ok, d.unrecorded]), [['files', false, true]]);
    assert.match(o.drills[0]!.mismatches[0]!, /^no facts were recorded on this host for snapshot \w+ \(made by another host, or before this state folder existed\)/);
    const text = await berth(['backup', 'verify', '--snapshot', olderFiles]);
    assert.match(text.stderr, /hint: this host has nothing recorded of those snapshots \(made by another host, or older than the newest ones a restored config snapshot carried\): take a `berth backup run` here, then verify again/);
  });

  it('restoring a volume stops the service writing to it and starts it again', async () => {
    writeVolume(p.volume, 'echo changed > /d/a.txt');
    const r = await berth(['--json', 'restore', 'latest', '--source', 'files', '--yes', '--password-file', path.join(keep, 'backup.pass'), '--repository', p.repo]);
    assert.equal(r.code, 0, r.stderr);
    const [res] = JSON.parse(r.stdout) as Array<{ stopped: string[]; safetySnapshot?: string }>;
    assert.deepEqual(res!.stopped, ['web']);
    assert.ok(res!.safetySnapshot);
    assert.equal(writeVolume(p.volume, 'cat /d/a.txt'), 'hello');
    assert.deepEqual(await dockerPs(p.name), [`${p.name}-web-blue running`]);
    assert.equal(spawnSync('docker', ['inspect', '-f', '{{.State.Running}}', `${p.name}-web-blue`], { encoding: 'utf8' }).stdout.trim(), 'true');
  });
});
