/**
 * The disaster the off-site copy is for: the primary is lost with its own repository. The backup
 * host had pulled the primary's snapshots (`berth replicate pull`, over a real second sshd on
 * loopback); a new primary is rebuilt from that replica alone with `berth restore --all`: config,
 * the volume, MariaDB and PostgreSQL on the host, the running service, and the old audit trail.
 * Then `backup verify --repository` drills the replica on the new primary: the snapshots there are
 * copies (ids of their own), compared with the records the config snapshot carried by their originals.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createBackupProject, dbEnv, mariadb, psql, writeVolume, type BackupProject } from './backup-harness.js';
import { dockerPs, runBerth } from './harness.js';
import { createWorld, replicationUnavailable, snapshotsOf, type World } from './replicate-harness.js';

describe('the primary lost: restore --all from the backup host\'s replica', { skip: replicationUnavailable(), timeout: 240_000 }, () => {
  let w: World;
  let p: BackupProject;
  const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-dr-'));
  const berth = (args: string[]) => runBerth(fresh, ['-C', fresh, ...args], dbEnv);
  before(async () => {
    w = await createWorld();
    // The primary backs up into the repository the backup host pulls from (created by the world, with its password).
    p = await createBackupProject({ repo: w.primaryRepo, repository: 'berth' });
    fs.copyFileSync(w.primaryPass, p.passwordFile);
  });
  after(async () => {
    await berth(['down', '--volumes', '-q']);
    if (p) fs.mkdirSync(p.dir, { recursive: true }); // the test removed it; cleanup runs berth in it
    await p?.cleanup();
    await w?.cleanup();
    fs.rmSync(fresh, { recursive: true, force: true });
  });

  it('rebuilds the project from the replica alone, and its audit trail goes on from the old one', async () => {
    assert.equal((await p.run(['up'])).code, 0);
    const run = await p.run(['backup', 'run']);
    assert.equal(run.code, 0, run.stderr);
    const oldTrail = (await p.json<Array<{ seq: number; action: string; hash: string }>>(['audit', 'list', '--limit', '1000'])).value;
    const pulled = await w.berth(['--json', 'replicate', 'pull']);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal((JSON.parse(pulled.stdout) as { copied: unknown[] }).copied.length, 5, 'db, pg, cache, files and config');

    // The primary is gone: containers, volume, databases, project folder, and its repository.
    assert.equal((await p.run(['down', '--volumes'])).code, 0);
    mariadb(undefined, `DROP DATABASE ${p.mdb}`);
    psql('postgres', `DROP DATABASE ${p.pdb}`);
    fs.rmSync(p.dir, { recursive: true, force: true });
    fs.rmSync(w.primaryRepo, { recursive: true, force: true });

    const r = await berth(['--json', 'restore', '--all', '--yes', '--repository', w.replicaRepo, '--password-file', w.replicaPass]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { project: string; sources: Array<{ source: string }>; skipped: string[] };
    assert.equal(out.project, p.name);
    assert.deepEqual(out.sources.map((s) => s.source).sort(), ['db', 'files', 'pg']); // the config bootstrapped the folder before
    assert.deepEqual(out.skipped, ['cache']);
    assert.deepEqual(await dockerPs(p.name), [`${p.name}-web-blue running`]);
    assert.equal(writeVolume(p.volume, 'cat /d/a.txt /d/sub/b.txt'), 'hello\nworld');
    assert.equal(mariadb(p.mdb, 'SELECT COUNT(*) FROM t'), '300');
    assert.equal(psql(p.pdb, 'SELECT count(*) FROM items'), '500');

    // The old host's records up to its backup came with the config snapshot, through the replica.
    const carried = oldTrail.slice(0, -1); // the backup run's own record comes after its config snapshot
    const trail = JSON.parse((await berth(['--json', 'audit', 'list', '--limit', '1000'])).stdout) as typeof oldTrail;
    assert.deepEqual(trail.slice(0, carried.length), carried);
    assert.ok(trail.length > carried.length);
    assert.equal((await berth(['audit', 'verify'])).code, 0);
    // The replica was only read.
    assert.equal((await snapshotsOf(w.replicaRepo, w.replicaPass)).length, 5);
  });

  it("verify --repository drills the replica against the old primary's dump-time facts", async () => {
    const wrongSsh = await berth(['backup', 'verify', '--repository', w.replicaRepo, '--password-file', w.replicaPass, '--ssh-port', '22']);
    assert.equal(wrongSsh.code, 2);
    assert.match(wrongSsh.stderr, /--ssh-port applies to an sftp: --repository only/);
    const r = await berth(['--json', 'backup', 'verify', '--repository', w.replicaRepo, '--password-file', w.replicaPass]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { repository: string; ok: boolean; check: { ok: boolean }; drills: Array<{ source: string; snapshot: string; ok: boolean; summary: string }> };
    assert.equal(out.repository, w.replicaRepo);
    assert.deepEqual(out.drills.map((d) => [d.source, d.ok]), [['cache', true], ['config', true], ['db', true], ['files', true], ['pg', true]], JSON.stringify(out.drills));
    // The drilled snapshots are the replica's copies, not the primary's snapshots the records name.
    const copies = await snapshotsOf(w.replicaRepo, w.replicaPass);
    for (const d of out.drills) assert.ok(copies.some((c) => c.id.startsWith(d.snapshot)), `${d.source}: ${d.snapshot} is a replica snapshot`);
    assert.match(out.drills.find((d) => d.source === 'db')!.summary, /^2 tables, 303 rows, checksums equal$/);
    const text = await berth(['backup', 'verify', '--source', 'db', '--repository', w.replicaRepo, '--password-file', w.replicaPass]);
    assert.equal(text.code, 0, text.stderr);
    const escaped = w.replicaRepo.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    assert.match(text.stdout, new RegExp(`^verify \\S+ of ${escaped}: passed$`, 'm'));

    // The replica's verifies are shown apart: backup.repository (the lost primary's) was never verified here.
    const status = await berth(['--json', 'backup', 'status']);
    assert.equal(status.code, 0, status.stderr);
    const st = JSON.parse(status.stdout) as { lastVerify?: unknown; otherVerifies: Array<{ otherRepository: string; status: string; drills: Array<{ source: string }> }> };
    assert.equal(st.lastVerify, undefined);
    assert.deepEqual(st.otherVerifies.map((v) => [v.otherRepository, v.status, v.drills.map((d) => d.source)]), [[w.replicaRepo, 'passed', ['db']]], 'the newest verify of the replica');
    const statusText = await berth(['backup', 'status']);
    assert.match(statusText.stdout, /^last verify: never$/m);
    assert.match(statusText.stdout, new RegExp(`^last verify of ${escaped}: \\S+ passed \\(db passed [^)]+\\)$`, 'm'));
    const history = JSON.parse((await berth(['--json', 'backup', 'list', '--verifies'])).stdout) as Array<{ otherRepository?: string; drills: unknown[] }>;
    assert.deepEqual(history.map((v) => [v.otherRepository, v.drills.length]), [[w.replicaRepo, 1], [w.replicaRepo, 5]]);
  });
});
