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
import { backupJobs } from '../../src/backup/schedule.js';
import { loadProject } from '../../src/project/load.js';
import { createBackupStore } from '../../src/store/backups.js';
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

  it('a source missing at the first run and there by the retry is stored by the retry; the job succeeds', async () => {
    const [job] = backupJobs(await loadProject(p.dir));
    const done = job!.run(new AbortController().signal);
    // The first run fails `late` (its folder does not exist yet); it appears during the 2 s wait.
    await waitFor('the first run to fail late', async () => (await runs()).some((r) => r.sources.includes('late:failed')), 30_000);
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
  });

  it('backup schedule says how failed sources are retried', async () => {
    const r = await p.berth(['backup', 'schedule', '-n', '1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /failed sources backed up again once, 2\.0 s after the run \(backup\.retries, backup\.retry_wait\)/);
  });
});
