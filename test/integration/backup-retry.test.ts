/**
 * The nightly job backs up again the sources that failed (`backup.retries`, `backup.retry_wait`):
 * a folder that appears during the wait (a disk mounted late, a database back up) is stored by
 * the retry, the prune runs, and the job succeeds. One that stays missing fails the job after the
 * retries, naming it; the sources stored the first time stay stored.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backupJobs, retryComing } from '../../src/backup/schedule.js';
import { loadProject } from '../../src/project/load.js';
import { createBackupStore, lastBackupAttempt } from '../../src/store/backups.js';
import { openStore } from '../../src/store/db.js';
import { restic } from './backup-harness.js';
import { createTestProject, type TestProject, waitFor } from './harness.js';
import { createResticRepository } from './restic-repo.js';

describe('the nightly job retries failed sources', { timeout: 120_000 }, () => {
  let p: TestProject;
  let repo: string;
  let pass: string;
  before(async () => {
    p = await createTestProject({
      'compose.yaml': 'name: {{NAME}}\nservices:\n  web:\n    image: berth-test/app:v1\n',
      'berth.yaml': 'backup:\n  repository: repo\n  password_file: backup.pass\n  retries: 1\n  retry_wait: 2s\n  sources:\n    late: { type: volume, path: late }\n',
    });
    repo = path.join(p.dir, 'repo');
    pass = path.join(p.dir, 'backup.pass');
    fs.writeFileSync(pass, 'pw\n', { mode: 0o600 });
    createResticRepository(repo, pass);
  });
  after(async () => {
    await p?.cleanup();
  });

  const sourcesOf = () => (JSON.parse(restic(repo, pass, 'snapshots', '--json', '--no-lock').out) as Array<{ tags: string[] }>).map((s) => s.tags.find((t) => t.startsWith('source='))).sort();
  const runs = async () => {
    const store = openStore((await loadProject(p.dir)).stateDir);
    try {
      return createBackupStore(store.db, Date.now).runs(p.name).reverse().map((r) => ({ status: r.status, sources: createBackupStore(store.db, Date.now).results(r.id).map((x) => `${x.source}:${x.status}`) }));
    } finally {
      store.close();
    }
  };

  /** The newest attempt at `late`, read from the store (quick enough for the 2 s retry_wait). */
  const lastLate = async () => {
    const store = openStore((await loadProject(p.dir)).stateDir);
    try {
      return lastBackupAttempt(store.db, p.name, 'late', retryComing);
    } finally {
      store.close();
    }
  };
  /** `backup status --json`: the failed state of `late` (with the retry due, while one is). */
  const lateFailed = async () => {
    const r = await p.berth(['--json', 'backup', 'status']);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { sources: Array<{ source: string; failed?: { at: string; retryAt?: string } }> }).sources.find((x) => x.source === 'late')!.failed;
  };

  it('a source missing at the first run and there by the retry is stored by the retry; the job succeeds', async () => {
    const [job] = backupJobs(await loadProject(p.dir));
    const done = job!.run(new AbortController().signal);
    // The first run fails `late` (its folder does not exist yet); it appears during the 2 s wait.
    // Once it has failed, the run's record says when the retry is due (the backup probe waits for it instead of alerting).
    await waitFor('the first run to fail late, its retry due', async () => (await lastLate())?.retryAt !== undefined, 30_000);
    const pending = (await lastLate())!;
    assert.ok(pending.retryAt! - pending.at >= 1_500, `about retry_wait (2 s) after the failure: ${JSON.stringify(pending)}`);
    fs.mkdirSync(path.join(p.dir, 'late'));
    fs.writeFileSync(path.join(p.dir, 'late', 'a.txt'), 'mounted late\n');
    await done;
    assert.deepEqual(await runs(), [
      { status: 'partial', sources: ['config:succeeded', 'late:failed'] },
      { status: 'succeeded', sources: ['late:succeeded'] },
    ]);
    assert.deepEqual(sourcesOf(), ['source=config', 'source=late']);
  });

  it('a source still missing after the retries fails the job, naming it; what was stored stays', async () => {
    fs.rmSync(path.join(p.dir, 'late'), { recursive: true });
    const [job] = backupJobs(await loadProject(p.dir));
    await assert.rejects(job!.run(new AbortController().signal), /backup run \S+ partial: late \(source late: \S+ does not exist\)/);
    assert.deepEqual((await runs()).slice(2), [
      { status: 'partial', sources: ['config:succeeded', 'late:failed'] },
      { status: 'failed', sources: ['late:failed'] },
    ]);
    assert.deepEqual(sourcesOf(), ['source=config', 'source=config', 'source=late']);
    // The retries are used up: the failure stands, with no retry due.
    const failed = await lateFailed();
    assert.ok(failed && failed.retryAt === undefined, JSON.stringify(failed));
  });

  it('backup status shows the retry due; an agent stopping while it waits takes it back: the failure stands', async () => {
    const berthYaml = fs.readFileSync(path.join(p.dir, 'berth.yaml'), 'utf8');
    fs.writeFileSync(path.join(p.dir, 'berth.yaml'), berthYaml.replace('retry_wait: 2s', 'retry_wait: 1h'));
    const [job] = backupJobs(await loadProject(p.dir));
    fs.writeFileSync(path.join(p.dir, 'berth.yaml'), berthYaml);
    const stop = new AbortController();
    const before = (await runs()).length;
    const done = job!.run(stop.signal);
    try {
      await waitFor('a retry to be due', async () => (await runs()).length > before && (await lastLate())?.retryAt !== undefined, 30_000);
      const pending = (await lateFailed())!;
      const dueIn = Date.parse(pending.retryAt!) - Date.parse(pending.at);
      assert.ok(dueIn >= 3_600_000 && dueIn < 3_630_000, `due retry_wait (1 h) after the failure: ${JSON.stringify(pending)}`);
      const table = await p.berth(['backup', 'status']);
      assert.match(table.stdout, /late .*FAILED [^(]+ \(retry due [^)]+\): source late: .* does not exist/);
    } finally {
      stop.abort();
      await done.catch(() => undefined);
    }
    const failed = await lateFailed();
    assert.ok(failed && failed.retryAt === undefined, JSON.stringify(failed));
  });

  it('backup schedule says how failed sources are retried', async () => {
    const r = await p.berth(['backup', 'schedule', '-n', '1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /failed sources backed up again once, 2\.0 s after the run \(backup\.retries, backup\.retry_wait\)/);
  });
});
