/**
 * `berth backup run --agent`: the running agent takes the run over its control socket
 * (`<state dir>/agent.sock`, mode 0600). The run is recorded under the agent's pid, its progress
 * reaches the caller, a database source uses the agent's environment, and the snapshots are real.
 * A second request while one runs is refused; a malformed request is answered 400; an unknown
 * source is the same error as without --agent; once the agent stops, the socket is gone and
 * --agent says no agent answers.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createBackupStore } from '../../src/store/backups.js';
import { openStore } from '../../src/store/db.js';
import { createBackupProject, dbEnv, type BackupProject } from './backup-harness.js';
import { waitFor } from './harness.js';

type RunJson = { runId: string; status: string; results: Array<{ source: string; status: string; snapshotId?: string; bytes?: number }> };

/** One raw request on the control socket: status and the NDJSON lines of the answer. */
function control(socketPath: string, body: string): Promise<{ status: number; lines: Array<Record<string, unknown>>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method: 'POST', path: '/backup/run' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        const lines = res.headers['content-type'] === 'application/x-ndjson' ? text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) : [];
        resolve({ status: res.statusCode ?? 0, lines, text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('backup run --agent', { timeout: 180_000 }, () => {
  let p: BackupProject;
  let agent: ReturnType<BackupProject['spawnBerth']>;
  let socketPath: string;
  before(async () => {
    // The last source, then a backup probe watching it.
    p = await createBackupProject({ extraSources: '    host_files: { type: volume, path: hostdata }\nmonitor:\n  backup: { interval: 1s }\n  probes:\n    backups: { type: backup, source: host_files, interval: 1s }\n' });
    const data = path.join(p.dir, 'hostdata');
    fs.mkdirSync(data);
    fs.writeFileSync(path.join(data, 'a.bin'), randomBytes(2 * 1024 * 1024));
    // The database password exists only in the agent's environment, not in the callers'.
    agent = p.spawnBerth(['agent', '--listen', '127.0.0.1:0'], dbEnv);
    await waitFor('agent started with a control socket', () => /"msg":"agent started".*"control":/.test(agent.output()));
    socketPath = JSON.parse(agent.output().split('\n').find((l) => l.includes('"agent started"'))!).control as string;
  });
  after(async () => {
    agent?.kill('SIGKILL');
    await p?.cleanup();
  });

  it('the agent runs the backup: recorded under its pid, progress relayed, its environment used', async () => {
    assert.equal(socketPath, path.join(p.dir, '.berth', 'agent.sock'));
    assert.equal(fs.statSync(socketPath).mode & 0o777, 0o600, 'only the agent user may send commands');
    const r = await p.berth(['--json', 'backup', 'run', '--agent', '--source', 'host_files', '--source', 'db'], { BT_DB_PASSWORD: '' });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as RunJson;
    assert.equal(out.status, 'succeeded');
    assert.deepEqual(out.results.map((x) => [x.source, x.status]), [['host_files', 'succeeded'], ['db', 'succeeded']]);
    assert.match(r.stderr, /✓ host_files: snapshot [0-9a-f]{8}/, 'the agent\'s progress reaches the caller');
    assert.equal(p.snapshots('host_files').length, 1);
    assert.equal(p.snapshots('db').length, 1);
    const runs = await p.json<Array<{ id: string; pid: number; status: string }>>(['backup', 'list']);
    const run = runs.value.find((x) => x.id === out.runId)!;
    assert.equal(run.pid, agent.pid, 'the run was made by the agent process');
    assert.equal(run.status, 'succeeded');
    assert.match(agent.output(), /"msg":"control: backup run"/);
  });

  it('text output is the same summary table as a run made here', async () => {
    const r = await p.run(['backup', 'run', '--agent', '--source', 'host_files']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^backup run \S+: succeeded in .* → /);
    assert.match(r.stdout, /host_files\s+volume\s+succeeded\s+[0-9a-f]{8}/);
  });

  it('one run at a time: a second request while one runs is refused with LOCK_HELD', async () => {
    const body = JSON.stringify({ sources: ['host_files'] });
    const [a, b] = await Promise.all([control(socketPath, body), control(socketPath, body)]);
    const answers = [a, b].map((x) => x.lines.at(-1)!);
    const outcome = answers.find((l) => l.type === 'outcome');
    const refused = [a, b].find((x) => x.status === 409);
    assert.ok(outcome, JSON.stringify(answers));
    assert.ok(refused, `one of the two must be refused: ${a.status} ${b.status}`);
    assert.equal((refused.lines[0]!.error as { code: string }).code, 'LOCK_HELD');
  });

  it('a malformed request is answered 400 and changes nothing; an unknown source is the usual error', async () => {
    const before = p.snapshots().length;
    const bad = await control(socketPath, '{"sources": "host_files"}');
    assert.equal(bad.status, 400);
    assert.match(bad.text, /sources/);
    const unknown = await p.run(['backup', 'run', '--agent', '--source', 'nope']);
    assert.equal(unknown.code, 6, unknown.stderr);
    assert.match(unknown.stderr, /unknown backup source "nope"/);
    assert.match(unknown.stderr, /hint: sources of .*host_files/);
    assert.equal(p.snapshots().length, before);
  });

  it('berth.yaml edited after the agent started: a new source is backed up, a broken file is the loader\'s error, a new schedule is logged', async () => {
    const berthYaml = path.join(p.dir, 'berth.yaml');
    const original = fs.readFileSync(berthYaml, 'utf8');
    const more = path.join(p.dir, 'moredata');
    fs.mkdirSync(more);
    fs.writeFileSync(path.join(more, 'b.bin'), randomBytes(256 * 1024));
    try {
      fs.writeFileSync(berthYaml, original.replace('    host_files:', '    more_files: { type: volume, path: moredata }\n    host_files:'));
      const added = await p.json<RunJson>(['backup', 'run', '--agent', '--source', 'more_files']);
      assert.equal(added.code, 0, added.stderr);
      assert.deepEqual(added.value.results.map((x) => [x.source, x.status]), [['more_files', 'succeeded']]);
      assert.equal(p.snapshots('more_files').length, 1);

      // A typo: the run is refused with the loader's error and position; nothing is written.
      const before = p.snapshots().length;
      fs.writeFileSync(berthYaml, original.replace('password_file: backup.pass', 'password_file: backup.pass\n  retention: { daily: many }'));
      const broken = await p.run(['backup', 'run', '--agent', '--source', 'host_files']);
      assert.notEqual(broken.code, 0);
      assert.match(broken.stderr, /berth\.yaml:\d+:\d+/, broken.stderr);
      assert.match(broken.stderr, /daily/);
      assert.equal(p.snapshots().length, before);

      // The agent lives on; a changed schedule is said once in its log (it applies at restart).
      fs.writeFileSync(berthYaml, original.replace('password_file: backup.pass', 'password_file: backup.pass\n  schedule: "30 3 * * *"'));
      for (let i = 0; i < 2; i++) assert.equal((await p.run(['backup', 'run', '--agent', '--source', 'host_files'])).code, 0);
      const warnings = agent.output().split('\n').filter((l) => l.includes('a schedule changed in berth.yaml'));
      assert.equal(warnings.length, 1, agent.output());
      assert.match(warnings[0]!, /"configured":\{"backup.schedule":"30 3 \* \* \*"/);
    } finally {
      fs.writeFileSync(berthYaml, original);
    }
  });

  it("the agent's backup probe fails at once for a source a failed restore left partly restored, until its data is accepted", async () => {
    let last: { state: string; summary: string | null } | undefined;
    const until = async (what: string, check: (x: { state: string; summary: string | null }) => boolean) => {
      await waitFor(what, async () => {
        const r = await p.berth(['probes', '--json']);
        last = r.code === 0 ? (JSON.parse(r.stdout) as Array<{ id: string; state: string; summary: string | null }>).find((x) => x.id === 'backups') : undefined;
        return last !== undefined && check(last);
      }, 20_000).catch((err: Error) => assert.fail(`${err.message}; last: ${JSON.stringify(last)}`));
    };
    // host_files was backed up by the tests above.
    await until('the probe ok', (x) => x.state === 'ok');
    // As a restore of host_files killed after it began would leave it (restore.ts marks it so).
    const db = new Database(path.join(p.dir, '.berth', 'berth.db'));
    try {
      db.prepare('INSERT INTO partly_restored (project, source, since, by, snapshot) VALUES (?, ?, ?, ?, ?)').run(p.name, 'host_files', Date.now(), 'ops', 'a1b2c3d4');
    } finally {
      db.close();
    }
    await until('the probe failing', (x) => x.state === 'failing');
    assert.match(last!.summary ?? '', /^backup host_files: host_files PARTLY RESTORED since \S+ by ops \(a restore failed part-way; not backed up until a restore of it succeeds or `berth backup run --source host_files --accept-partial`\)$/);
    const refused = await p.run(['backup', 'run', '--agent', '--source', 'host_files']);
    assert.equal(refused.code, 13, 'the agent refuses to back it up too');
    assert.match(refused.stderr, /not backed up: a restore of host_files failed part-way/);
    const accepted = await p.run(['backup', 'run', '--agent', '--source', 'host_files', '--accept-partial']);
    assert.equal(accepted.code, 0, accepted.stderr);
    await until('the probe ok again', (x) => x.state === 'ok');
    assert.match(last!.summary ?? '', /^backup host_files: newest good one 0 h old/);
  });

  it('a backup that fails fails the probe at once, naming why; the next good one clears it', async () => {
    type ProbeRow = { id: string; kind: string; interval: string; state: string; summary: string | null };
    let rows: ProbeRow[] = [];
    const byId = (id: string) => rows.find((x) => x.id === id);
    const until = async (what: string, check: () => boolean) => {
      await waitFor(what, async () => {
        const r = await p.berth(['probes', '--json']);
        rows = r.code === 0 ? (JSON.parse(r.stdout) as ProbeRow[]) : [];
        return check();
      }, 20_000).catch((err: Error) => assert.fail(`${err.message}; last: ${JSON.stringify(rows.filter((x) => x.kind === 'backup'))}`));
    };
    // The default probe over every source: failing, since most sources were never backed up here
    // (its reason from the test before, host_files partly restored, is replaced within 5 s).
    await until('the host_files probe ok', () => byId('backups')?.state === 'ok' && /^backup: .*has no good backup yet/.test(byId('backup')?.summary ?? ''));
    assert.deepEqual([byId('backup')?.kind, byId('backup')?.interval, byId('backup')?.state], ['backup', '1s', 'failing']);
    const data = path.join(p.dir, 'hostdata');
    fs.renameSync(data, `${data}.away`);
    try {
      const failed = await p.run(['backup', 'run', '--agent', '--source', 'host_files']);
      assert.notEqual(failed.code, 0);
      assert.match(failed.stderr, /hostdata does not exist/);
      // The default probe was failing already: its new reason is written within 5 s.
      await until('both probes failing on it', () => byId('backups')?.state === 'failing' && /host_files's last backup FAILED at \S+: source host_files: /.test(byId('backup')?.summary ?? ''));
      assert.match(byId('backups')!.summary ?? '', /^backup host_files: last backup FAILED at \S+: source host_files: \S+hostdata does not exist \(newest good one 0 h old \(\S+\)\)$/);
      assert.match(byId('backup')!.summary ?? '', /; host_files's last backup FAILED at \S+: source host_files: \S+hostdata does not exist \(newest good one 0 h old/);
    } finally {
      fs.renameSync(`${data}.away`, data);
    }
    assert.equal((await p.run(['backup', 'run', '--agent', '--source', 'host_files'])).code, 0);
    await until('the probe ok again, and host_files out of the default one', () => byId('backups')?.state === 'ok' && !/host_files/.test(byId('backup')?.summary ?? 'host_files'));
    assert.match(byId('backups')!.summary ?? '', /^backup host_files: newest good one 0 h old/);
  });

  it("a failure whose nightly retry is due is said in the agent's probe, not failed, until that retry is 5 min overdue or its agent is gone", async () => {
    type ProbeRow = { id: string; state: string; summary: string | null };
    let row: ProbeRow | undefined;
    const until = (what: string, check: (r: ProbeRow) => boolean) =>
      waitFor(what, async () => {
        const r = await p.berth(['probes', '--json']);
        row = r.code === 0 ? (JSON.parse(r.stdout) as ProbeRow[]).find((x) => x.id === 'backups') : undefined;
        return row !== undefined && check(row);
      }, 20_000).catch((err: Error) => assert.fail(`${err.message}; last: ${JSON.stringify(row)}`));
    const data = path.join(p.dir, 'hostdata');
    fs.renameSync(data, `${data}.away`);
    try {
      const failed = await p.run(['--json', 'backup', 'run', '--agent', '--source', 'host_files']);
      assert.notEqual(failed.code, 0);
      const runId = (JSON.parse(failed.stdout) as RunJson).runId;
      // What the nightly job writes while it waits to back the source up again (backup-retry.test.ts).
      const setRetryAt = (id: string, at: number) => {
        const store = openStore(path.join(p.dir, '.berth'));
        try {
          createBackupStore(store.db, Date.now).setRetryAt(id, at);
        } finally {
          store.close();
        }
      };
      setRetryAt(runId, Date.now() + 10 * 60_000);
      await until('the probe ok, the retry due said', (r) => r.state === 'ok' && /last backup failed at \S+, retry due \S+$/.test(r.summary ?? ''));
      // The retry never came (the agent was down at its time): 5 min after it was due, the failure alerts.
      setRetryAt(runId, Date.now() - 6 * 60_000);
      await until('the probe failing on the failure', (r) => r.state === 'failing' && /last backup FAILED at \S+: source host_files: \S+hostdata does not exist/.test(r.summary ?? ''));
      // A retry due from a process that is gone (as an agent killed outright leaves it) never comes:
      // the failure alerts at once, and `backup status` says no retry.
      const gone = await p.run(['--json', 'backup', 'run', '--source', 'host_files']);
      assert.notEqual(gone.code, 0);
      setRetryAt((JSON.parse(gone.stdout) as RunJson).runId, Date.now() + 10 * 60_000);
      const status = await p.run(['--json', 'backup', 'status']);
      const hostFiles = (JSON.parse(status.stdout) as { sources: Array<{ source: string; failed?: { at: string; retryAt?: string } }> }).sources.find((x) => x.source === 'host_files');
      assert.ok(hostFiles?.failed, status.stdout);
      assert.equal(hostFiles.failed.retryAt, undefined, status.stdout);
      const newest = `last backup FAILED at ${hostFiles.failed.at}: source host_files: `;
      await until('the probe failing on the newest failure, no retry said', (r) => r.state === 'failing' && (r.summary ?? '').includes(newest) && !/retry due/.test(r.summary ?? ''));
    } finally {
      fs.renameSync(`${data}.away`, data);
    }
    assert.equal((await p.run(['backup', 'run', '--agent', '--source', 'host_files'])).code, 0);
    await until('the probe ok again', (r) => r.state === 'ok' && !/retry due|FAILED/.test(r.summary ?? ''));
  });

  it("the agent's /metrics: each source's newest good backup, and the drills and verifies of the last 90 days", async () => {
    const listen = (JSON.parse(agent.output().split('\n').find((l) => l.includes('"agent started"'))!) as { listen: string }).listen;
    const scrape = async () => (await (await fetch(`http://${listen}/metrics`)).text()).split('\n');
    const before = await scrape();
    const drillLine = /^berth_backup_drills\{source="host_files",result="passed",window="90d",project="[^"]+"\} (\d+)$/;
    const drilled = Number(before.map((l) => drillLine.exec(l)?.[1]).find(Boolean) ?? 0);
    const v = await p.run(['backup', 'verify', '--source', 'host_files']);
    assert.equal(v.code, 0, v.stderr);
    const lines = await scrape();
    const status = (await p.json<{ sources: Array<{ source: string; lastAt?: number }>; validation: { drills: number; drillsPassed: number; ratio: number } }>(['backup', 'status'])).value;
    const lastAt = status.sources.find((x) => x.source === 'host_files')!.lastAt!;
    assert.ok(lines.includes(`berth_backup_last_success_timestamp_seconds{source="host_files",project="${p.name}"} ${lastAt / 1000}`), lines.filter((l) => l.startsWith('berth_backup_last')).join('\n'));
    assert.equal(Number(lines.map((l) => drillLine.exec(l)?.[1]).find(Boolean)), drilled + 1, 'the verify made here is counted at the next scrape');
    const ratio = lines.find((l) => l.startsWith('berth_backup_drill_success_ratio{'));
    assert.equal(ratio, `berth_backup_drill_success_ratio{window="90d",project="${p.name}"} ${status.validation.drillsPassed / status.validation.drills}`);
    assert.equal(status.validation.ratio, status.validation.drillsPassed / status.validation.drills);
  });

  it('after the agent stops the socket is gone, and --agent says no agent answers', async () => {
    agent.kill('SIGTERM');
    assert.equal(await agent.done, 0, agent.output());
    assert.equal(fs.existsSync(socketPath), false);
    const r = await p.run(['backup', 'run', '--agent', '--source', 'host_files']);
    assert.equal(r.code, 6);
    assert.match(r.stderr, /no agent answers on .*agent\.sock/);
    assert.match(r.stderr, /hint: start it with `berth agent`/);
  });
});
