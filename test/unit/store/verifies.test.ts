/** Verifies of the project's own repository and of others (`backup verify --repository`) are kept apart. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { openStore } from '../../../src/store/db.js';
import { createBackupStore, lastVerify, type BackupStore } from '../../../src/store/backups.js';

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
});
