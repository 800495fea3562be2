/** Verifies of the project's own repository and of others (`backup verify --repository`) are kept apart. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { openStore } from '../../../src/store/db.js';
import { createBackupStore, lastVerify, validationSince, type BackupStore } from '../../../src/store/backups.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function open(): { backups: BackupStore; db: ReturnType<typeof openStore>['db']; close(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bvf-'));
  dirs.push(dir);
  let t = 1_000;
  const s = openStore(path.join(dir, 'state'));
  return { backups: createBackupStore(s.db, () => (t += 1_000)), db: s.db, close: () => s.close() };
}

/** One finished verify with one drill of `source`. */
function verify(b: BackupStore, id: string, ok: boolean, otherRepository?: string, source = 'db'): void {
  b.startVerify({ id, project: 'shop', ...(otherRepository && { otherRepository }) });
  b.addDrill({ verifyId: id, source, snapshotId: `snap-${id}`, status: ok ? 'passed' : 'failed', restoreMs: 10, ...(!ok && { error: 'rows differ' }) });
  b.finishVerify(id, { status: ok ? 'passed' : 'failed', checkOk: true });
}

describe('verifies of other repositories', () => {
  it("a replica's failed verify does not stand for the project's own repository", () => {
    const s = open();
    verify(s.backups, 'v-own', true);
    verify(s.backups, 'v-replica', false, 'sftp:backup@nas2:/srv/replica');
    assert.deepEqual(lastVerify(s.db, 'shop'), { at: 3_000, ok: true }, 'the probe reads the own verify, not the newer failed replica one');
    assert.deepEqual(lastVerify(s.db, 'shop', 'db'), { at: 3_000, ok: true });
    assert.deepEqual(s.backups.verifies('shop').map((v) => v.id), ['v-own']);
    s.close();
  });

  it("a replica's pass does not hide that the own repository was never verified", () => {
    const s = open();
    verify(s.backups, 'v-replica', true, '/srv/replica');
    assert.equal(lastVerify(s.db, 'shop'), undefined);
    assert.equal(lastVerify(s.db, 'shop', 'db'), undefined);
    assert.deepEqual(s.backups.verifies('shop'), []);
    s.close();
  });

  it('lists the newest finished verify of each other repository, newest first, with its repository', () => {
    const s = open();
    verify(s.backups, 'v-a1', false, '/srv/a');
    verify(s.backups, 'v-b1', true, '/srv/b');
    verify(s.backups, 'v-a2', true, '/srv/a');
    verify(s.backups, 'v-own', false);
    s.backups.startVerify({ id: 'v-b2', project: 'shop', otherRepository: '/srv/b' }); // still running: not shown
    assert.deepEqual(
      s.backups.otherVerifies('shop').map((v) => [v.id, v.otherRepository, v.status]),
      [
        ['v-a2', '/srv/a', 'passed'],
        ['v-b1', '/srv/b', 'passed'],
      ],
    );
    assert.deepEqual(s.backups.otherVerifies('blog'), []);
    const [own] = s.backups.verifies('shop', 1);
    assert.equal(own?.id, 'v-own');
    assert.equal(own?.otherRepository, undefined);
    assert.deepEqual(lastVerify(s.db, 'shop'), { at: own!.finishedAt, ok: false, reason: 'drill of db failed' });
    s.close();
  });

  it("counts the own repository's verifies and their drills per source since a time (SC-007's success rate)", () => {
    const s = open();
    verify(s.backups, 'v-old', false); // ends at 3_000: before the window
    verify(s.backups, 'v-1', true); // 6_000
    verify(s.backups, 'v-2', false, undefined, 'db');
    verify(s.backups, 'v-3', true, undefined, 'media');
    verify(s.backups, 'v-replica', false, '/srv/replica'); // another repository: not counted
    s.backups.startVerify({ id: 'v-running', project: 'shop' });
    s.backups.addDrill({ verifyId: 'v-running', source: 'db', snapshotId: 'x', status: 'passed', restoreMs: 1 });
    assert.deepEqual(validationSince(s.db, 'shop', 4_000), {
      verifies: 3,
      verifiesPassed: 2,
      drills: [
        { source: 'db', passed: 1, failed: 1 },
        { source: 'media', passed: 1, failed: 0 },
      ],
      drillsPassed: 2,
      drillsFailed: 1,
    });
    assert.deepEqual(validationSince(s.db, 'shop', 0).drills.find((d) => d.source === 'db'), { source: 'db', passed: 1, failed: 2 });
    assert.deepEqual(validationSince(s.db, 'blog', 0), { verifies: 0, verifiesPassed: 0, drills: [], drillsPassed: 0, drillsFailed: 0 });
    s.close();
  });
});
