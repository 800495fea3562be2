/**
 * Verified backups end to end with real MariaDB, PostgreSQL, Redis, a Docker volume and restic:
 * run → verify (check + restore drills) → restore into changed data (safety snapshot first) →
 * suspect detection → prune → schedule.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { currentProject } from '../../src/agent/current-project.js';
import { backupJobs, retryComing } from '../../src/backup/schedule.js';
import { createBackupProbe } from '../../src/monitor/probes/backup.js';
import { openStore } from '../../src/store/db.js';
import { backupRecords, createBackupStore, lastVerify } from '../../src/store/backups.js';
import { loadProject } from '../../src/project/load.js';
import { assertCheckClean, createBackupProject, db, dbEnv, mariadb, psql, restic, writeVolume, type BackupProject } from './backup-harness.js';
import { waitFor } from './harness.js';

interface RunJson {
  runId: string;
  status: string;
  results: Array<{ source: string; status: string; snapshotId?: string; bytes?: number; suspect?: string; error?: string }>;
}
interface VerifyJson {
  ok: boolean;
  check: { ok: boolean; damagedPacks: string[] };
  drills: Array<{ source: string; ok: boolean; restoreMs: number; summary: string; mismatches: string[] }>;
}

describe('backup run, verify, restore', { timeout: 180_000 }, () => {
  let p: BackupProject;
  let first: RunJson;
  before(async () => {
    p = await createBackupProject();
  });
  after(async () => {
    await p?.cleanup();
  });

  it('backs up every source into its own tagged snapshot and records the results', async () => {
    const r = await p.json<RunJson>(['backup', 'run']);
    assert.equal(r.code, 0, r.stderr);
    first = r.value;
    assert.equal(first.status, 'succeeded');
    assert.deepEqual(first.results.map((x) => [x.source, x.status]), [['db', 'succeeded'], ['pg', 'succeeded'], ['cache', 'succeeded'], ['files', 'succeeded'], ['config', 'succeeded']]);
    for (const x of first.results) assert.ok((x.bytes ?? 0) > 0 && !x.suspect, `${x.source}: ${JSON.stringify(x)}`);
    const snaps = p.snapshots();
    assert.equal(snaps.length, 5);
    const db = snaps.find((s) => s.tags.includes('source=db'))!;
    assert.ok(db.tags.includes(`project=${p.name}`) && db.tags.some((t) => t.startsWith('berth-version=')), db.tags.join(','));
    assert.deepEqual(db.paths, [`/mariadb/${p.mdb}.sql`]);
    // The dump in the repository is a real consistent mariadb-dump of the data.
    const sql = restic(p.repo, p.passwordFile, 'dump', db.short_id, `/mariadb/${p.mdb}.sql`).out;
    assert.match(sql, /INSERT INTO `t` VALUES\s*\(1,'row-1'\)/);
    assert.match(sql, /Dump completed/);
    const status = await p.json<{ sources: Array<{ source: string; lastSnapshot?: string }> }>(['backup', 'status']);
    assert.equal(status.value.sources.find((s) => s.source === 'db')?.lastSnapshot, first.results[0]!.snapshotId);
  });

  it('verify: restic check passes and every dump restores into a scratch place matching the recorded facts', async () => {
    const r = await p.json<VerifyJson>(['backup', 'verify', '--read-data-subset', '100%']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.value.ok && r.value.check.ok);
    const drills = Object.fromEntries(r.value.drills.map((d) => [d.source, d]));
    assert.deepEqual(Object.keys(drills).sort(), ['cache', 'config', 'db', 'files', 'pg']);
    for (const d of r.value.drills) assert.ok(d.ok && d.restoreMs > 0, JSON.stringify(d));
    assert.match(drills.db!.summary, /2 tables, 303 rows, checksums equal/);
    assert.match(drills.pg!.summary, /1 table, 500 rows/);
    assert.match(drills.files!.summary, /2 files/);
    // Scratch databases are dropped after the drill.
    assert.equal(mariadb(undefined, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE 'berth_drill%'"), '0');
    assert.equal(psql('postgres', "SELECT count(*) FROM pg_database WHERE datname LIKE 'berth_drill%'"), '0');
  });

  it('verify with a --read-data-subset restic would refuse: a usage error before anything runs, not a "damaged" repository', async () => {
    const before = await p.json<{ lastVerify?: { id: string } }>(['backup', 'status']);
    for (const bad of ['ten', '0/5', '150%']) {
      const r = await p.run(['backup', 'verify', '--read-data-subset', bad]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`option '--read-data-subset <subset>' argument '${bad.replace('/', '\\/')}' is invalid`));
      assert.doesNotMatch(r.stderr, /damage/);
    }
    const after = await p.json<{ lastVerify?: { id: string } }>(['backup', 'status']);
    assert.deepEqual(after.value.lastVerify, before.value.lastVerify, 'no verify was started');
  });

  it('a snapshot id that names nothing, several, or another source: a clear error before anything runs, no verify recorded', async () => {
    const before = await p.json<{ lastVerify?: { id: string } }>(['backup', 'status']);
    const typo = await p.run(['backup', 'verify', '--snapshot', 'zzzz']);
    assert.equal(typo.code, 6, typo.stderr);
    assert.match(typo.stderr, /no snapshot zzzz of project/);
    assert.doesNotMatch(typo.stderr, /restic check/, 'the check did not start');
    const after = await p.json<{ lastVerify?: { id: string } }>(['backup', 'status']);
    assert.deepEqual(after.value.lastVerify, before.value.lastVerify, 'no verify was recorded');

    const pg = p.snapshots('pg')[0]!.short_id;
    const wrong = await p.run(['restore', pg, '--source', 'db', '--yes']);
    assert.equal(wrong.code, 2, wrong.stderr);
    assert.match(wrong.stderr, new RegExp(`snapshot ${pg} is of source pg, not db`));
  });

  it('restore into a database changed since: safety snapshot first, then the data is back as dumped', async () => {
    mariadb(p.mdb, 'DELETE FROM t WHERE id > 10; CREATE TABLE added_later (x INT); INSERT INTO u VALUES (99)');
    psql(p.pdb, "UPDATE items SET name = 'changed'; DELETE FROM items WHERE id > 100");
    const refused = await p.run(['restore', 'latest', '--source', 'db']);
    assert.equal(refused.code, 7);
    assert.match(refused.stderr, /without confirmation.*\n.*--yes/);
    assert.equal(mariadb(p.mdb, 'SELECT COUNT(*) FROM t'), '10');

    // A client berth does not manage, in the middle of a transaction on that database: its metadata
    // lock would hold DROP DATABASE for lock_wait_timeout (a day) unless the restore ends it.
    const client = spawn('mariadb', ['-h127.0.0.1', `-P${db.mariadbPort}`, `-u${db.user}`, p.mdb, '-e', 'BEGIN; SELECT COUNT(*) FROM t; SELECT SLEEP(170); COMMIT'], { env: { ...process.env, MYSQL_PWD: db.password }, stdio: 'ignore' });
    const clientExit = once(client, 'exit');
    await waitFor('the client to hold its transaction', () => mariadb(undefined, `SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = '${p.mdb}' AND INFO LIKE 'SELECT SLEEP%'`) === '1', 10_000);

    const r = await p.json<Array<{ source: string; snapshot: string; safetySnapshot?: string }>>(['restore', 'latest', '--source', 'db', '--source', 'pg', '--yes']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /db: ending 1 other connection\(s\) to \S+: #\d+ berth \(Query, \d+ s\)/);
    await clientExit;
    assert.deepEqual(r.value.map((x) => [x.source, x.snapshot]), [['db', first.results[0]!.snapshotId], ['pg', first.results[1]!.snapshotId]]);
    assert.equal(mariadb(p.mdb, 'SELECT COUNT(*), MAX(v) FROM t'), '300\trow-99');
    assert.equal(mariadb(p.mdb, "SHOW TABLES LIKE 'added_later'"), '');
    assert.equal(mariadb(p.mdb, 'SELECT GROUP_CONCAT(k ORDER BY k) FROM u'), '1,2,3');
    assert.equal(psql(p.pdb, "SELECT count(*), count(*) FILTER (WHERE name = 'changed') FROM items"), '500|0');

    // The safety snapshot holds the state just before the restore, and is itself restorable.
    const safety = r.value[0]!.safetySnapshot!;
    assert.ok(p.snapshots().some((s) => s.short_id === safety && s.tags.includes('kind=safety') && s.tags.includes('safety-of=db')));
    assert.ok(!p.snapshots('db').some((s) => s.short_id === safety), 'a safety snapshot is not one of the source\'s regular snapshots');
    const scratch = `${p.mdb}_safety`;
    const back = await p.run(['restore', safety, '--to', scratch, '--yes']);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(mariadb(scratch, 'SELECT COUNT(*) FROM t'), '10');
    assert.equal(mariadb(scratch, "SHOW TABLES LIKE 'added_later'"), 'added_later');
    const again = await p.run(['restore', safety, '--to', scratch, '--yes']);
    assert.equal(again.code, 7);
    assert.match(again.stderr, /database \S+_safety already exists/);
    mariadb(undefined, `DROP DATABASE ${scratch}`);
  });

  it('a source named twice is backed up once (it used to crash on the result row after a second snapshot)', async () => {
    const before = p.snapshots('files').length;
    const r = await p.json<RunJson>(['backup', 'run', '--source', 'files', '--source', 'files']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.value.results.map((x) => [x.source, x.status]), [['files', 'succeeded']]);
    assert.equal(p.snapshots('files').length, before + 1);
  });

  it('restores a volume through a helper container', async () => {
    writeVolume(p.volume, 'echo tampered > /d/a.txt; rm /d/sub/b.txt; echo new > /d/new.txt');
    const r = await p.run(['restore', 'latest', '--source', 'files', '--yes']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(writeVolume(p.volume, 'cat /d/a.txt /d/sub/b.txt; ls /d'), 'hello\nworld\na.txt\nsub');
  });

  it('flags a dump far smaller than the previous one as suspect, in the result and the status', async () => {
    mariadb(p.mdb, 'DELETE FROM t');
    const r = await p.json<RunJson>(['backup', 'run', '--source', 'db']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.value.results[0]!.suspect ?? '', /% of the previous dump/);
    assert.match(r.stderr, /SUSPECT/);
    const status = await p.json<{ sources: Array<{ source: string; suspect?: string }> }>(['backup', 'status']);
    assert.match(status.value.sources.find((s) => s.source === 'db')!.suspect ?? '', /previous dump/);
  });

  it('prune applies the retention per source; list and schedule answer', async () => {
    const before = p.snapshots('db').length;
    assert.ok(before >= 2, `db snapshots: ${before}`);
    // A restore's safety snapshot is the newest of today for files: it must not take the place of today's regular backup.
    assert.equal((await p.run(['backup', 'run', '--source', 'files'])).code, 0);
    const newestFiles = p.snapshots('files').sort((a, b) => (a.time < b.time ? 1 : -1))[0]!.short_id;
    const restored = await p.json<Array<{ safetySnapshot?: string }>>(['restore', 'latest', '--source', 'files', '--yes']);
    assert.equal(restored.code, 0, restored.stderr);
    const filesSafety = restored.value[0]!.safetySnapshot!;
    // pg keeps a retention of its own: every snapshot of the last hour, over keep-daily.
    assert.equal((await p.run(['backup', 'run', '--source', 'pg'])).code, 0);
    const pgBefore = p.snapshots('pg').map((s) => s.short_id).sort();
    assert.ok(pgBefore.length >= 2, `pg snapshots: ${pgBefore.length}`);
    const berthYaml = path.join(p.dir, 'berth.yaml');
    const original = fs.readFileSync(berthYaml, 'utf8');
    p.write('berth.yaml', original.replace(/^( {4}pg: \{.*) \}$/m, '$1, retention: { within: 1h } }'));
    const r = await p.json<{ kept: number; removed: Array<{ source: string; kind: string }>; ownRetention: Record<string, unknown> }>(['backup', 'prune']);
    p.write('berth.yaml', original);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /pg: applying keep-daily 7, weekly 4, monthly 12, all within 1h \(its own\)/);
    assert.deepEqual(r.value.ownRetention, { pg: { daily: 7, weekly: 4, monthly: 12, withinMs: 3_600_000 } });
    assert.deepEqual(p.snapshots('pg').map((s) => s.short_id).sort(), pgBefore, 'all within the hour: every one kept');
    // All snapshots are from today: keep-daily keeps one per source.
    assert.equal(p.snapshots('db').length, 1);
    assert.equal(r.value.removed.filter((x) => x.source === 'db' && x.kind === 'backup').length, before - 1);
    assert.deepEqual(p.snapshots('files').map((s) => s.short_id), [newestFiles], 'the regular backup of today is kept');
    assert.ok(p.snapshots().some((s) => s.short_id === filesSafety), 'the safety snapshot is kept in its own group');
    assertCheckClean(p.repo, p.passwordFile);

    const list = await p.json<Array<{ status: string; results: unknown[] }>>(['backup', 'list']);
    assert.ok(list.value.length >= 3);
    const sched = await p.json<{ schedule: string; next: string[]; verify: { schedule: string; next: string[] }; jobs: string[] }>(['backup', 'schedule', '-n', '3']);
    assert.equal(sched.value.schedule, '0 2 * * *');
    assert.equal(sched.value.next.length, 3);
    assert.equal(sched.value.verify.schedule, '0 3 * * 0');
    for (const n of sched.value.verify.next) assert.equal(new Date(n).getDay(), 0, 'Sundays');
    assert.deepEqual(sched.value.jobs, [`backup:${p.name}`, `verify:${p.name}`]);
    for (const n of sched.value.next) assert.match(n, /T0[0-9]:00:00.000Z|T02:00:00.000Z/);

    // Every backup operation is in the hash-chained audit trail, which still verifies.
    const audit = await p.json<Array<{ action: string; outcome: string }>>(['audit', 'list', '-n', '50']);
    const actions = new Set(audit.value.map((a) => a.action));
    for (const a of ['backup.run', 'backup.verify', 'backup.safety', 'backup.restore', 'backup.prune']) assert.ok(actions.has(a), `${a} missing from ${[...actions].join(', ')}`);
    assert.equal((await p.run(['audit', 'verify'])).code, 0);
  });

  it('the agent job (backupJobs) runs a backup and applies the retention', async () => {
    Object.assign(process.env, dbEnv);
    const project = await loadProject(p.dir);
    const [job] = backupJobs(project);
    assert.equal(job!.name, `backup:${p.name}`);
    assert.equal(job!.cron, '0 2 * * *');
    await job!.run(new AbortController().signal);
    // One run more, then pruned back to one snapshot per source (all taken today).
    assert.equal(p.snapshots('db').length, 1);
    const list = await p.json<Array<{ status: string; user: string }>>(['backup', 'list', '-n', '1']);
    assert.equal(list.value[0]!.status, 'succeeded');
  });

  it('the scheduled verify job drills every source; the backup probe reports a failed drill until a verify passes again', async () => {
    Object.assign(process.env, dbEnv);
    const project = await loadProject(p.dir);
    const job = backupJobs(project).find((j) => j.name === `verify:${p.name}`);
    assert.equal(job?.cron, '0 3 * * 0');
    await job!.run(new AbortController().signal);
    const store = openStore(project.stateDir);
    try {
      const passed = lastVerify(store.db, p.name);
      assert.equal(passed?.ok, true);
      assert.equal(lastVerify(store.db, p.name, 'db')?.ok, true);
      const probe = createBackupProbe(
        { id: 'backup', kind: 'backup', intervalMs: 60_000, timeoutMs: 5_000, maxAgeMs: 26 * 3_600_000 } as Parameters<typeof createBackupProbe>[0],
        { clock: Date.now, backups: backupRecords(store.db, p.name, retryComing) },
      );
      const ok = await probe.run(new AbortController().signal);
      assert.equal(ok.ok, true, ok.summary);
      assert.match(ok.summary, /last verify .* passed/);

      // A drill that does not match what was recorded at dump time (here: the recorded row count of
      // the newest db snapshot is changed) fails the job and the probe.
      const newest = `SELECT rowid FROM backup_results WHERE source = 'db' AND status = 'succeeded' ORDER BY finished_at DESC LIMIT 1`;
      const facts = store.db.prepare(`SELECT facts FROM backup_results WHERE rowid = (${newest})`).pluck().get() as string;
      store.db.prepare(`UPDATE backup_results SET facts = json_set(facts, '$.tables[0].rows', 999999) WHERE rowid = (${newest})`).run();
      try {
        await assert.rejects(job!.run(new AbortController().signal), /backup verify \S+ failed: db drill/);
      } finally {
        store.db.prepare(`UPDATE backup_results SET facts = ? WHERE rowid = (${newest})`).run(facts);
      }
      assert.equal(lastVerify(store.db, p.name, 'db')?.ok, false);
      assert.equal(lastVerify(store.db, p.name, 'files')?.ok, true, 'another source drilled fine');
      const failed = await probe.run(new AbortController().signal);
      assert.equal(failed.ok, false);
      assert.match(failed.summary, /last verify .* FAILED: drill of db failed/);

      // A backup run still going on this host (a live process): the verify waits for it to end, then passes.
      const backups = createBackupStore(store.db, Date.now);
      backups.startRun({ id: 'still-running', project: p.name, kind: 'backup', user: 'test', pid: process.pid, host: os.hostname(), repository: p.repo });
      const waiting = backupJobs(project, undefined, undefined, { pollMs: 100, maxMs: 60_000 }).find((j) => j.name === `verify:${p.name}`)!;
      const started = waiting.run(new AbortController().signal);
      await new Promise((r) => setTimeout(r, 1500));
      const endedAt = Date.now();
      backups.finishRun('still-running', 'succeeded');
      await started;
      const [latest] = backups.verifies(p.name, 1);
      assert.equal(latest?.status, 'passed');
      assert.ok(latest!.startedAt >= endedAt, `the verify started after the backup run ended (${latest!.startedAt} >= ${endedAt})`);
      assert.equal(lastVerify(store.db, p.name)?.ok, true, 'a passing verify clears the probe');

      // The agent's nightly job holds restic's lock through its prune, after its run is recorded as ended:
      // a verify due meanwhile waits for the whole job, not only the run.
      const [nightlyJob, verifyLater] = backupJobs(project, undefined, undefined, { pollMs: 100, maxMs: 120_000 });
      const nightly = nightlyJob!.run(new AbortController().signal);
      await new Promise((r) => setTimeout(r, 300));
      const verifying = verifyLater!.run(new AbortController().signal);
      await nightly;
      const nightlyDone = Date.now();
      await verifying;
      const [afterNightly] = backups.verifies(p.name, 1);
      assert.equal(afterNightly?.status, 'passed');
      assert.ok(afterNightly!.startedAt >= nightlyDone, `the verify started after the nightly job, prune included, ended (${afterNightly!.startedAt} >= ${nightlyDone})`);

      // `backup list --verifies`: the history, with the failed drill in it.
      type Listed = { id: string; status: string; otherRepository?: string; drills: Array<{ source: string; status: string; restoreMs: number; bytes?: number }> };
      const history = await p.json<Listed[]>(['backup', 'list', '--verifies', '-n', '4']);
      assert.equal(history.code, 0, history.stderr);
      assert.deepEqual(history.value.map((v) => v.status), ['passed', 'passed', 'failed', 'passed']);
      assert.equal(history.value[0]!.id, afterNightly!.id);
      assert.deepEqual(history.value[2]!.drills.filter((d) => d.status === 'failed').map((d) => d.source), ['db']);
      assert.ok(history.value.every((v) => v.otherRepository === undefined && v.drills.length >= 3));
      const text = await p.run(['backup', 'list', '--verifies', '-n', '1']);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /^VERIFY\s+STARTED\s+STATUS\s+REPOSITORY\s+CHECK\s+SOURCE\s+DRILL/);
      assert.match(text.stdout, new RegExp(`^${afterNightly!.id}\\s+\\S+ \\S+\\s+passed\\s+backup\\.repository\\s+ok\\s+\\S+\\s+passed\\s`, 'm'));
      const both = await p.run(['backup', 'list', '--verifies', '--snapshots']);
      assert.equal(both.code, 2);
      assert.match(both.stderr, /--snapshots and --verifies do not go together/);

      // The success rate of validation over 90 days (SC-007): the failed db drill counts against it.
      const st = (await p.json<{ validation: { drills: number; drillsPassed: number; verifies: number; verifiesPassed: number; ratio: number; bySource: Array<{ source: string; failed: number }> } }>(['backup', 'status'])).value.validation;
      assert.ok(st.drills >= 15 && st.drillsPassed <= st.drills - 1, JSON.stringify(st));
      assert.ok(st.bySource.find((d) => d.source === 'db')!.failed >= 1);
      assert.equal(st.ratio, st.drillsPassed / st.drills);
      const stText = await p.run(['backup', 'status']);
      assert.match(stText.stdout, new RegExp(`^validation, last 90 days: ${st.drillsPassed} of ${st.drills} drills passed \\(${Math.floor(st.ratio * 1000) / 10} %\\), ${st.verifiesPassed} of ${st.verifies} verifies$`, 'm'));
    } finally {
      store.close();
    }
  });

  it('the agent job backs up the project as its files say at run time, not as they were at start', async () => {
    const started = await loadProject(p.dir);
    const berthYaml = path.join(p.dir, 'berth.yaml');
    const original = fs.readFileSync(berthYaml, 'utf8');
    fs.mkdirSync(path.join(p.dir, 'late'), { recursive: true });
    fs.writeFileSync(path.join(p.dir, 'late', 'x.txt'), 'added after the agent started\n');
    const logged: string[] = [];
    const current = currentProject(started, () => loadProject(p.dir), (msg) => logged.push(msg));
    const [job] = backupJobs(started, undefined, current);
    try {
      fs.writeFileSync(berthYaml, `${original.replace(/\n+$/, '')}\n    late: { type: volume, path: late }\n`);
      await job!.run(new AbortController().signal);
      assert.equal(p.snapshots('late').length, 1, 'the source added after start was backed up');
      assert.deepEqual(logged, [], 'nothing to warn about: the schedule is unchanged');
      // Another project's name under the same agent is refused, not silently run.
      fs.writeFileSync(berthYaml, original.replace(/^name: .*$/m, 'name: someone-else'));
      await assert.rejects(job!.run(new AbortController().signal), /now describes project someone-else .*but this agent runs/);
    } finally {
      fs.writeFileSync(berthYaml, original);
    }
  });
});
