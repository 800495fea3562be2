/**
 * Pull replication against real restic and a real second sshd on loopback: copy, idempotence,
 * id mapping, status, faults (wrong password, primary down), and who can touch what.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { loadProject } from '../../src/project/load.js';
import { replicateJobs, replicationStatus } from '../../src/replicate/index.js';
import { openStore } from '../../src/store/db.js';
import { runBerth } from './harness.js';
import { createWorld, replicationUnavailable, restic, snapshotsOf, type World } from './replicate-harness.js';

const execFileP = promisify(execFile);
const skip = replicationUnavailable();

interface PullJson {
  attempts: number;
  initialized: boolean;
  primarySnapshots: number;
  replicaSnapshots: number;
  copied: Array<{ originalId: string; copyId: string; tags: string[] }>;
}

describe('berth replicate', { skip }, () => {
  let w: World;
  const primaryIds: string[] = [];

  before(async () => {
    w = await createWorld();
    primaryIds.push(await w.backup('db', 3, 200_000, ['kind=dump']));
    primaryIds.push(await w.backup('files', 5, 100_000));
  });
  after(async () => w?.cleanup());

  it('rejects a replicate section without a local repository, naming the file and line', async () => {
    const file = path.join(w.projectDir, 'berth.yaml');
    const good = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, good.replace(/^  repository: .*\n/m, ''));
    const r = await w.berth(['replicate', 'status']);
    fs.writeFileSync(file, good.replace('  max_lag: "1h"', '  max_lag: "soon"').replace(/^ *from_password_file: .*\n/m, ''));
    const r2 = await w.berth(['replicate', 'pull']);
    fs.writeFileSync(file, good);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /berth\.yaml:\d+:\d+ backup\.repository: is required/);
    assert.equal(r2.code, 2, r2.stderr);
    assert.match(r2.stderr, /berth\.yaml:\d+:\d+ backup\.replicate\.max_lag: should be a duration/);
    assert.match(r2.stderr, /berth\.yaml:\d+:\d+ backup\.replicate\.from: needs from_password_file or from_password_env/);
  });

  it('pull copies every primary snapshot, keeps tags, and maps original id → copy id', async () => {
    const r = await w.berth(['--json', 'replicate', 'pull']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as PullJson;
    assert.equal(out.initialized, true);
    assert.equal(out.attempts, 1);
    assert.equal(out.copied.length, 2);
    assert.deepEqual(out.copied.map((c) => c.originalId).sort(), [...primaryIds].sort());
    assert.match(r.stderr, /copying 2 snapshot\(s\)/);

    const primary = await snapshotsOf(w.primaryRepo, w.primaryPass);
    const replica = await snapshotsOf(w.replicaRepo, w.replicaPass);
    assert.equal(replica.length, 2);
    for (const c of out.copied) {
      const copy = replica.find((s) => s.id === c.copyId);
      const orig = primary.find((s) => s.id === c.originalId);
      assert.ok(copy && orig, `copy ${c.copyId} of ${c.originalId} exists`);
      assert.equal(copy.original, orig.id);
      assert.equal(copy.tree, orig.tree, 'same content tree');
      assert.deepEqual(copy.tags, orig.tags);
      assert.deepEqual(c.tags, orig.tags);
    }
    // The replica has its own key: the primary's password does not open it.
    const foreign = await restic(['-r', w.replicaRepo, 'snapshots'], w.primaryPass);
    assert.notEqual(foreign.code, 0);
    assert.match(foreign.stderr, /wrong password/);

    const audit = await w.berth(['--json', 'audit', 'list']);
    const records = JSON.parse(audit.stdout) as Array<{ action: string; outcome: string; details: { copied: unknown[] } }>;
    const pulls = records.filter((a) => a.action === 'replicate.pull');
    assert.equal(pulls.length, 1);
    assert.equal(pulls[0]!.outcome, 'succeeded');
    assert.equal(pulls[0]!.details.copied.length, 2);
  });

  it('a second pull copies nothing; a new primary snapshot is copied on the next one', async () => {
    const again = await w.berth(['--json', 'replicate', 'pull']);
    assert.equal(again.code, 0, again.stderr);
    const out = JSON.parse(again.stdout) as PullJson;
    assert.equal(out.copied.length, 0);
    assert.equal(out.replicaSnapshots, 2);
    assert.match(again.stderr, /up to date/);
    assert.equal((await snapshotsOf(w.replicaRepo, w.replicaPass)).length, 2);

    const third = await w.backup('db', 2, 50_000, ['kind=dump']);
    const next = await w.berth(['--json', 'replicate', 'pull', '--check']);
    assert.equal(next.code, 0, next.stderr);
    const n = JSON.parse(next.stdout) as PullJson & { check: { ok: boolean } };
    assert.deepEqual(n.copied.map((c) => c.originalId), [third]);
    assert.equal(n.check.ok, true);
    assert.equal((await snapshotsOf(w.replicaRepo, w.replicaPass)).length, 3);
  });

  it('a replica repository gone missing (disk not mounted) is not created anew unless --init says so', async () => {
    const away = `${w.replicaRepo}.unmounted`;
    fs.renameSync(w.replicaRepo, away);
    try {
      const r = await w.berth(['replicate', 'pull']);
      assert.equal(r.code, 16, r.stderr);
      assert.match(r.stderr, /there is no restic repository at this host's repository .* \(it is missing, but 3 snapshot\(s\) were there after the pull of .* UTC: is its disk mounted\? `berth replicate pull --init` creates a new, empty one\)/);
      assert.match(r.stderr, /hint: check backup.repository, and that the disk holding it is mounted/);
      assert.equal(fs.existsSync(w.replicaRepo), false, 'nothing was created in its place');

      const fresh = await w.berth(['--json', 'replicate', 'pull', '--init']);
      assert.equal(fresh.code, 0, fresh.stderr);
      const out = JSON.parse(fresh.stdout) as PullJson;
      assert.equal(out.initialized, true);
      assert.equal(out.replicaSnapshots, 3);
    } finally {
      fs.rmSync(w.replicaRepo, { recursive: true, force: true });
      fs.renameSync(away, w.replicaRepo);
    }
    const back = await w.berth(['--json', 'replicate', 'pull']);
    assert.equal(back.code, 0, back.stderr);
    assert.equal((JSON.parse(back.stdout) as PullJson).copied.length, 0, 'the remounted repository is the one it was');
  });

  it('status is ok after a pull, behind past max_lag', async () => {
    const ok = await w.berth(['--json', 'replicate', 'status']);
    assert.equal(ok.code, 0, ok.stderr);
    const s = JSON.parse(ok.stdout) as { state: string; lastSuccessAt: number; lagMs: number; primaryNewestAt: number; replicaNewestAt: number; replicaSnapshots: number };
    assert.equal(s.state, 'ok');
    assert.equal(s.lagMs, 0);
    assert.equal(s.primaryNewestAt, s.replicaNewestAt);
    assert.equal(s.replicaSnapshots, 3);
    assert.ok(Date.now() - s.lastSuccessAt < 60_000);

    w.writeBerth({ max_lag: '1s' });
    await new Promise((r) => setTimeout(r, 1100));
    const behind = await w.berth(['--json', 'replicate', 'status']);
    w.writeBerth();
    assert.equal(behind.code, 1);
    const b = JSON.parse(behind.stdout) as { state: string; reason: string };
    assert.equal(b.state, 'behind');
    assert.match(b.reason, /more than max_lag/);
    const text = await w.berth(['replicate', 'status']);
    assert.match(text.stdout, /last successful pull/);
  });

  it('the agent job pulls in process and replicationStatus reads the same state', async () => {
    const project = await loadProject(w.projectDir, { env: {} });
    const jobs = replicateJobs(project);
    assert.deepEqual(jobs.map((j) => j.cron), ['30 3 * * *']);
    await jobs[0]!.run(new AbortController().signal);
    const store = openStore(project.stateDir);
    try {
      const s = replicationStatus(store.db, project);
      assert.equal(s.state, 'ok');
      assert.equal(s.replicaSnapshots, 3);
      const runs = store.db.prepare("SELECT status, copied FROM replication_runs ORDER BY started_at DESC LIMIT 1").get() as { status: string; copied: number };
      assert.deepEqual(runs, { status: 'succeeded', copied: 0 });
      const map = store.db.prepare('SELECT original_id, copy_id FROM replicated_snapshots').all();
      assert.equal(map.length, 3);
    } finally {
      store.close();
    }
  });

  it('the backup host’s key cannot write to or delete from the primary (read-only sftp, no shell)', async () => {
    const snapFile = fs.readdirSync(path.join(w.primaryRepo, 'snapshots'))[0]!;
    const target = `${w.sshd.user}@127.0.0.1`;
    const tryBatch = async (batch: string) => {
      const file = path.join(w.root, 'batch');
      fs.writeFileSync(file, `${batch}\n`);
      return execFileP('sftp', [...w.sshd.sftpArgs(), '-b', file, target]).then(
        (r) => ({ code: 0, out: r.stdout + r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
      );
    };
    const read = await tryBatch(`ls ${w.primaryRepo}/snapshots`);
    assert.equal(read.code, 0, `reading works: ${read.out}`);
    const del = await tryBatch(`rm ${w.primaryRepo}/snapshots/${snapFile}`);
    assert.notEqual(del.code, 0);
    assert.match(del.out, /Permission denied/i);
    const put = await tryBatch(`put ${w.replicaPass} ${w.primaryRepo}/data/evil`);
    assert.notEqual(put.code, 0);
    const ren = await tryBatch(`rename ${w.primaryRepo}/config ${w.primaryRepo}/config.x`);
    assert.notEqual(ren.code, 0);
    // A shell command is replaced by the forced read-only sftp server.
    const marker = path.join(w.root, 'should-not-exist');
    await execFileP('ssh', ['-p', String(w.sshd.port), '-i', w.sshd.clientKey, '-o', `UserKnownHostsFile=${w.sshd.knownHosts}`, '-o', 'BatchMode=yes', target, `touch ${marker}`], { timeout: 15_000 }).catch(() => undefined);
    assert.equal(fs.existsSync(marker), false);
    assert.ok(fs.existsSync(path.join(w.primaryRepo, 'snapshots', snapFile)));
    assert.ok(fs.existsSync(path.join(w.primaryRepo, 'config')));
    assert.equal(fs.existsSync(path.join(w.primaryRepo, 'data', 'evil')), false);
    assert.equal((await snapshotsOf(w.primaryRepo, w.primaryPass)).length, 3);
  });

  it('nothing on the primary can reach or delete the replica’s snapshots', async () => {
    const replicaSecret = fs.readFileSync(w.replicaPass, 'utf8').trim();
    const primarySide = path.dirname(w.primaryRepo);
    const leaks: string[] = [];
    const scan = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) scan(p);
        else if (fs.readFileSync(p).includes(replicaSecret)) leaks.push(p);
      }
    };
    scan(primarySide);
    assert.deepEqual(leaks, [], 'the replica password is nowhere on the primary');
    // The only key the primary's sshd knows is the backup host's public key; the primary holds no private key to log in anywhere.
    const sshFiles = fs.readdirSync(path.join(primarySide, 'sshd')).filter((f) => !f.startsWith('host_') && !f.startsWith('backup_host_'));
    assert.ok(sshFiles.includes('authorized_keys'));
    // With every credential the primary has, the replica's snapshots cannot be removed.
    const replicaBefore = await snapshotsOf(w.replicaRepo, w.replicaPass);
    const forget = await restic(['-r', w.replicaRepo, 'forget', replicaBefore[0]!.id], w.primaryPass);
    assert.notEqual(forget.code, 0);
    assert.match(forget.stderr, /wrong password/);
    assert.deepEqual(await snapshotsOf(w.replicaRepo, w.replicaPass), replicaBefore);
  });

  it('a wrong primary password fails at once with a clear error and status failing', async () => {
    const file = path.join(w.projectDir, 'wrong.pass');
    fs.writeFileSync(file, 'not-the-password\n');
    w.writeBerth({ from_password_file: 'wrong.pass', retries: 3 });
    const r = await w.berth(['--json', 'replicate', 'pull']);
    w.writeBerth();
    assert.equal(r.code, 16, r.stderr);
    assert.match(r.stderr, /wrong password for the primary's repository/);
    assert.match(r.stderr, /hint: .*from_password_file/);
    assert.doesNotMatch(r.stderr, /retrying/, 'a wrong password is not retried');
    const err = JSON.parse(r.stdout) as { error: { code: string } };
    assert.equal(err.error.code, 'REPLICATION');
    const s = JSON.parse((await w.berth(['--json', 'replicate', 'status'])).stdout) as { state: string; lastError: string };
    assert.equal(s.state, 'failing');
    assert.match(s.lastError, /wrong password/);
  });

  it('an unknown primary host key is refused, not retried', async () => {
    const empty = path.join(w.projectDir, 'empty_known_hosts');
    fs.writeFileSync(empty, '');
    w.writeBerth({ ssh: { port: w.sshd.port, identity_file: w.sshd.clientKey, known_hosts: empty } });
    const r = await w.berth(['replicate', 'pull']);
    w.writeBerth();
    assert.equal(r.code, 16, r.stderr);
    assert.match(r.stderr, /SSH login to the primary was refused \(.*(Host key verification failed|No ED25519 host key is known)/);
    assert.match(r.stderr, /hint: .*known_hosts/);
    assert.doesNotMatch(r.stderr, /retrying/);
  });

  it('an unreachable primary is retried with backoff, then fails clearly; the next pull recovers', async () => {
    await w.sshd.stop();
    const r = await w.berth(['replicate', 'pull']);
    assert.equal(r.code, 16, r.stderr);
    assert.match(r.stderr, /after 3 attempt\(s\): the primary is unreachable/);
    assert.match(r.stderr, /Connection refused|unable to start the sftp session/);
    assert.equal((r.stderr.match(/retrying in/g) ?? []).length, 2);
    assert.match(r.stderr, /retrying in 0\.3s[\s\S]*retrying in 0\.6s/);
    const s = JSON.parse((await w.berth(['--json', 'replicate', 'status'])).stdout) as { state: string; consecutiveFailures: number };
    assert.equal(s.state, 'failing');
    assert.equal(s.consecutiveFailures, 3, 'wrong password, unknown host key, unreachable');

    await w.sshd.start();
    const ok = await w.berth(['--json', 'replicate', 'pull']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as PullJson).copied.length, 0);
    const again = JSON.parse((await w.berth(['--json', 'replicate', 'status'])).stdout) as { state: string };
    assert.equal(again.state, 'ok');
    const runs = (await snapshotsOf(w.replicaRepo, w.replicaPass)).length;
    assert.equal(runs, 3);
  });

  it("the backup host's agent fails its replication probe while pulls fail, and clears it once one succeeds", async () => {
    const file = path.join(w.projectDir, 'berth.yaml');
    fs.appendFileSync(file, 'monitor:\n  host: false\n  replication: { interval: 1s }\n');
    const agent = w.spawnBerth(['agent', '--listen', '127.0.0.1:0']);
    let last: { state: string; summary: string | null } | undefined;
    const until = async (what: string, check: (p: { state: string; summary: string | null }) => boolean) => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const r = await w.berth(['--json', 'probes']);
        last = r.code === 0 ? (JSON.parse(r.stdout) as Array<{ id: string; state: string; summary: string | null }>).find((x) => x.id === 'replication') : undefined;
        if (last && check(last)) return;
        assert.ok(Date.now() < deadline, `${what}; last: ${JSON.stringify(last)}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    };
    try {
      // The pull above recovered.
      await until('the probe ok', (x) => x.state === 'ok');
      assert.match(last!.summary!, /^replication ok: newest replicated snapshot is \d+m old \(max_lag 1\.0h\)$/);
      fs.writeFileSync(path.join(w.projectDir, 'wrong.pass'), 'not-the-password\n');
      w.writeBerth({ from_password_file: 'wrong.pass' });
      assert.equal((await w.berth(['replicate', 'pull'])).code, 16);
      await until('the probe failing after a failed pull', (x) => x.state === 'failing');
      assert.match(last!.summary!, /^replication failing: last pull failed \(1 in a row\): .*wrong password/);
      w.writeBerth();
      const pull = await w.berth(['replicate', 'pull']);
      assert.equal(pull.code, 0, pull.stderr);
      await until('the probe ok again after a good pull', (x) => x.state === 'ok');
      const alerts = await w.berth(['--json', 'alerts']);
      assert.equal(alerts.code, 0, alerts.stderr);
      assert.match(alerts.stdout, /replication failing: last pull failed/, 'the failure went through the alert log');
    } finally {
      agent.child.kill('SIGTERM');
      await agent.done;
      w.writeBerth();
    }
  });

  it("a backup host named like the primary's project refuses its own backup run, prune, verify and restore, and leaves the replica as it is", async () => {
    const ids = async () => (await snapshotsOf(w.replicaRepo, w.replicaPass)).map((x) => x.id).sort();
    // A snapshot as berth makes them (tagged berth), copied here under the primary's project name.
    await w.backup('db', 1, 10_000, ['berth', 'kind=dump']);
    const pulled = await w.berth(['replicate', 'pull']);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.match(pulled.stderr, new RegExp(`1 of the primary's snapshots are of project ${w.project}, this host's own project name: its own backup run, prune, verify and restore refuse`));
    const before = await ids();
    for (const args of [['backup', 'run'], ['backup', 'prune'], ['backup', 'verify'], ['restore', 'latest', '--yes']]) {
      const r = await w.berth(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`holds 1 snapshot\\(s\\) pulled from the primary as project ${w.project}, this project's own name: its backups, prune and verify would take the primary's copies`));
      assert.match(r.stderr, /hint: give this host's project a name of its own \(`name:` in berth\.yaml, e\.g\. \S+-offsite\)/);
    }
    assert.deepEqual(await ids(), before, 'nothing forgotten, nothing added');

    // Named apart, its own backups sit beside the copies, and its prune leaves them alone.
    const berthYaml = path.join(w.projectDir, 'berth.yaml');
    const original = fs.readFileSync(berthYaml, 'utf8');
    fs.writeFileSync(berthYaml, original.replace(`name: ${w.project}`, `name: ${w.project}-offsite`));
    try {
      const run = await w.berth(['--json', 'backup', 'run']);
      assert.equal(run.code, 0, run.stderr);
      assert.equal((await ids()).length, before.length + 1);
      const pruned = await w.berth(['--json', 'backup', 'prune']);
      assert.equal(pruned.code, 0, pruned.stderr);
      assert.deepEqual((JSON.parse(pruned.stdout) as { removed: unknown[] }).removed, []);
      const after = await ids();
      for (const id of before) assert.ok(after.includes(id), `copy ${id} kept`);

      // Its verify drills its own config snapshot, not the copies, and lists the replica once:
      // the listing that looked for copies under its name is the one it drills from.
      const log = path.join(w.root, 'restic-calls.log');
      const bin = fs.mkdtempSync(path.join(w.root, 'bin-'));
      const real = execFileSync('sh', ['-c', 'command -v restic'], { encoding: 'utf8' }).trim();
      fs.writeFileSync(path.join(bin, 'restic'), `#!/bin/sh\necho "$*" >> '${log}'\nexec '${real}' "$@"\n`, { mode: 0o755 });
      const verified = await runBerth(w.projectDir, ['-C', w.projectDir, '--json', 'backup', 'verify'], { PATH: `${bin}:${process.env.PATH}` });
      assert.equal(verified.code, 0, verified.stderr);
      assert.deepEqual((JSON.parse(verified.stdout) as { drills: Array<{ source: string; ok: boolean }> }).drills.map((d) => [d.source, d.ok]), [['config', true]]);
      const listings = fs.readFileSync(log, 'utf8').split('\n').filter((l) => /(^| )snapshots( |$)/.test(l));
      assert.equal(listings.length, 1, `restic snapshots run once, not:\n${listings.join('\n')}`);
    } finally {
      fs.writeFileSync(berthYaml, original);
    }
  });
});
