/**
 * Partly restored sources (src/backup/held.ts) on a real SQLite state database: marked when a
 * restore begins changing the data (with or without writers), refused a backup until restored
 * or accepted, and carried over from the stop marks of databases written before schema v10.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createAuditTrail } from '../../../src/audit/trail.js';
import type { BackupContext } from '../../../src/backup/context.js';
import { acceptPartlyRestored, heldFor, markPartlyRestored, partlyRestoredState, refuseWhilePartlyRestored, restoredWhole } from '../../../src/backup/held.js';
import { startedOnPartialData } from '../../../src/deploy/replace.js';
import { BerthError } from '../../../src/lib/errors.js';
import { silentReporter } from '../../../src/lib/reporter.js';
import { migrate, openStore, type Store } from '../../../src/store/db.js';
import { migrations } from '../../../src/store/migrations.js';
import { createPartlyRestoredStore } from '../../../src/store/partly-restored.js';
import { createStoppedStore, sourceHeldBy as heldBySource } from '../../../src/store/stopped.js';

const t0 = Date.UTC(2026, 11, 7, 1, 2);

describe('partly restored sources', () => {
  let dir: string;
  let store: Store;
  let now: number;
  let ctx: BackupContext;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-held-'));
    store = openStore(dir);
    now = t0;
    ctx = {
      project: { name: 'shop' },
      clock: () => now,
      user: 'ops',
      report: silentReporter,
      stopped: createStoppedStore(store.db),
      partlyRestored: createPartlyRestoredStore(store.db),
      audit: createAuditTrail(store.db, { clock: () => now }),
    } as unknown as BackupContext;
  });
  afterEach(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const refusal = (source: string): BerthError => {
    try {
      refuseWhilePartlyRestored(ctx, source);
    } catch (err) {
      assert.ok(err instanceof BerthError);
      return err;
    }
    assert.fail(`${source} was not refused`);
  };

  it('a source with no writers is refused a backup until accepted, and the acceptance is audited', () => {
    refuseWhilePartlyRestored(ctx, 'hostdb');
    markPartlyRestored(ctx, 'hostdb', 'a1b2c3d4', []);
    const e = refusal('hostdb');
    assert.equal(e.message, "not backed up: a restore of hostdb failed part-way (2026-12-07 01:02 UTC, by ops), so its data may be partial; a snapshot of it now would take a good one's place");
    assert.match(e.hint ?? '', /^restore it again \(`berth restore a1b2c3d4 --source hostdb`;.*`berth backup run --source hostdb --accept-partial` backs it up as it is/);
    assert.deepEqual(ctx.stopped.list('shop'), [], 'no service to hold');
    refuseWhilePartlyRestored(ctx, 'other');

    now += 60_000;
    assert.equal(acceptPartlyRestored(ctx, 'hostdb'), true);
    refuseWhilePartlyRestored(ctx, 'hostdb');
    assert.equal(acceptPartlyRestored(ctx, 'hostdb'), false, 'nothing left to accept');
    const records = ctx.audit.list({ project: 'shop' });
    assert.equal(records.length, 1);
    assert.equal(records[0]!.action, 'backup.accept-partial');
    assert.equal(records[0]!.target, 'hostdb');
    assert.deepEqual(records[0]!.details, { since: new Date(t0).toISOString(), by: 'ops', snapshot: 'a1b2c3d4' });
  });

  it('holds the writers; starting them does not accept the data; a restore that succeeds does', () => {
    markPartlyRestored(ctx, 'files', 'a1b2c3d4', ['web', 'worker']);
    const marks = ctx.stopped.list('shop');
    assert.deepEqual(marks.map((m) => m.service), ['web', 'worker']);
    assert.deepEqual(marks.map((m) => heldBySource(m.reason)), ['files', 'files']);
    assert.match(refusal('files').message, /may be partial \(web, worker held stopped\);/);

    // A later failed restore of it (from another snapshot) keeps since when the data is partial.
    now += 3_600_000;
    markPartlyRestored(ctx, 'files', 'e5f6a7b8', ['web', 'worker']);
    assert.equal(partlyRestoredState(ctx, 'files')?.sinceMs, t0);
    assert.equal(partlyRestoredState(ctx, 'files')?.snapshot, 'a1b2c3d4');

    // `berth up` (or a deploy) starts web: its mark goes, the source stays partly restored.
    ctx.stopped.clear('shop', 'web');
    assert.deepEqual(partlyRestoredState(ctx, 'files')?.held, ['worker']);
    assert.match(refusal('files').message, /may be partial \(worker held stopped\);/);
    ctx.stopped.clear('shop', 'worker');
    assert.doesNotMatch(refusal('files').message, /held stopped/);

    // `berth down` since: worker has no container to start again, so the restore leaves it down.
    markPartlyRestored(ctx, 'files', 'e5f6a7b8', ['worker']);
    restoredWhole(ctx, 'files');
    refuseWhilePartlyRestored(ctx, 'files');
    assert.deepEqual(heldFor(ctx, 'files'), []);
    assert.deepEqual(ctx.stopped.list('shop').map((m) => [m.service, m.reason]), [['worker', 'berth down']]);
  });

  it('reads the source out of a held stop mark only, and says what starting its service means', () => {
    assert.equal(heldBySource('berth restore: the restore of db-2 failed part-way; left stopped until it is restored'), 'db-2');
    assert.equal(heldBySource('berth down'), undefined);
    assert.equal(heldBySource('berth restore: something else'), undefined);
    // What `berth up` and a deploy say when they start a held service again.
    assert.equal(
      startedOnPartialData('web', 'berth restore: the restore of files failed part-way; left stopped until it is restored'),
      'web: starts on files as a failed restore left it; files is not backed up until a restore of it succeeds, or `berth backup run --source files --accept-partial` accepts it as it is',
    );
    assert.equal(startedOnPartialData('web', 'berth down'), undefined);
  });

  it('schema v10 carries over the sources held by stop marks of an older database', () => {
    const file = path.join(dir, 'old.db');
    const db = new Database(file);
    try {
      migrate(db, migrations.slice(0, 9));
      const mark = db.prepare('INSERT INTO stopped_services (project, service, stopped_at, stopped_by, reason) VALUES (?, ?, ?, ?, ?)');
      const held = (source: string) => `berth restore: the restore of ${source} failed part-way; left stopped until it is restored`;
      mark.run('shop', 'web', t0 + 5, 'ops', held('files'));
      mark.run('shop', 'worker', t0, 'root', held('files'));
      mark.run('shop', 'db', t0, 'ops', 'berth down');
      mark.run('blog', 'wp', t0, 'ops', held('wp-db'));
      assert.equal(migrate(db, migrations), migrations.length);
      const rows = db.prepare('SELECT project, source, since, by, snapshot FROM partly_restored ORDER BY project, source').all();
      assert.deepEqual(rows, [
        { project: 'blog', source: 'wp-db', since: t0, by: 'ops', snapshot: '' },
        { project: 'shop', source: 'files', since: t0, by: 'root', snapshot: '' },
      ]);
    } finally {
      db.close();
    }
  });
});
