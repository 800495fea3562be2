/** The backup records a config snapshot carries, and a fresh host takes up. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { recordsCopy, recordsCopyName, takeUpRecords, type CarryingSnapshot } from '../../../src/backup/records-copy.js';
import { recordedFacts } from '../../../src/backup/verify.js';
import { openStore } from '../../../src/store/db.js';
import { type BackupStore, createBackupStore, lastGoodBackupAt, lastVerify, validationSince } from '../../../src/store/backups.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function store(): { backups: BackupStore; dir: string; db: ReturnType<typeof openStore>['db']; close(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'brc-'));
  dirs.push(dir);
  let t = 1_000;
  const s = openStore(path.join(dir, 'state'));
  return { backups: createBackupStore(s.db, () => (t += 1_000)), dir, db: s.db, close: () => s.close() };
}

const snap = (n: number) => n.toString(16).padEnd(64, '0');
const facts = (rows: number) => ({ tables: [{ name: 't', rows, checksum: `c${rows}` }] });

/** Yesterday's run (db and media good), and today's so far (db good, media failed). */
function oldHost(): ReturnType<typeof store> & { today: string } {
  const h = store();
  const b = h.backups;
  b.startRun({ id: 'run-1', project: 'shop', kind: 'backup', user: 'ops', pid: 10, host: 'nas1', repository: '/r' });
  b.addResult({ runId: 'run-1', source: 'db', type: 'mariadb', status: 'succeeded', snapshotId: snap(1), bytes: 100, startedAt: 2_000, finishedAt: 3_000, facts: facts(5) });
  b.addResult({ runId: 'run-1', source: 'media', type: 'volume', status: 'succeeded', snapshotId: snap(2), bytes: 900, startedAt: 3_000, finishedAt: 4_000, facts: { manifest: { files: 3 } } });
  b.addResult({ runId: 'run-1', source: 'config', type: 'config', status: 'succeeded', snapshotId: snap(3), bytes: 10, startedAt: 4_000, finishedAt: 5_000 });
  b.finishRun('run-1', 'succeeded');
  b.startRun({ id: 'run-2', project: 'shop', kind: 'backup', user: 'ops', pid: 11, host: 'nas1', repository: '/r' });
  b.addResult({ runId: 'run-2', source: 'db', type: 'mariadb', status: 'succeeded', snapshotId: snap(4), bytes: 110, startedAt: 20_000, finishedAt: 21_000, facts: facts(6) });
  b.addResult({ runId: 'run-2', source: 'media', type: 'volume', status: 'failed', startedAt: 21_000, finishedAt: 22_000, error: 'disk gone' });
  // Another project's record in the same state folder is not carried.
  b.startRun({ id: 'run-x', project: 'blog', kind: 'backup', user: 'ops', pid: 12, host: 'nas1', repository: '/r' });
  b.addResult({ runId: 'run-x', source: 'db', type: 'mariadb', status: 'succeeded', snapshotId: snap(9), startedAt: 1, finishedAt: 2 });
  return { ...h, today: 'run-2' };
}

const carrying: CarryingSnapshot = { id: snap(5), time: 23_000, bytes: 4096, manifest: { files: 2, digests: ['x'] } };

describe('backup records copy', () => {
  it('carries the newest stored backup of each source with its facts, and this run as partial when a source failed', () => {
    const old = oldHost();
    const copy = recordsCopy(old.backups, 'shop', old.today, ['db', 'media', 'cache'], 25_000)!;
    assert.equal(copy.project, 'shop');
    assert.equal(recordsCopy(old.backups, 'shop', 'no-such-run', ['db'], 1), undefined, 'no run, no copy');
    assert.deepEqual(copy.run, { id: 'run-2', user: 'ops', pid: 11, host: 'nas1', startedAt: copy.run.startedAt, finishedAt: 25_000, status: 'partial' });
    assert.deepEqual(
      copy.results.map((r) => [r.source, r.runId, r.snapshotId, r.facts]),
      [
        ['db', 'run-2', snap(4), facts(6)],
        ['media', 'run-1', snap(2), { manifest: { files: 3 } }],
      ],
    );
    assert.deepEqual(copy.runs.map((r) => [r.id, r.status]), [['run-1', 'succeeded']]);
    old.close();
  });

  it('a fresh host takes it up: newest good backups, dump-time facts, and the carrying config snapshot with its digests', () => {
    const old = oldHost();
    const copy = recordsCopy(old.backups, 'shop', old.today, ['db', 'media'], 25_000)!;
    old.close();
    const fresh = store();
    const file = path.join(fresh.dir, recordsCopyName);
    fs.writeFileSync(file, JSON.stringify(copy));
    const said = takeUpRecords(fresh.backups, 'shop', file, carrying, 'config');
    assert.equal(said?.level, 'info');
    assert.match(said!.message, /took up the backup records of 3 snapshot\(s\) made on nas1/);
    assert.equal(fs.existsSync(file), false, 'the copy is removed');
    assert.equal(fresh.backups.lastResult('shop', 'db')?.snapshotId, snap(4));
    assert.deepEqual(fresh.backups.resultBySnapshot(snap(4).slice(0, 8))?.facts, facts(6));
    assert.deepEqual(fresh.backups.resultBySnapshot(snap(2).slice(0, 8))?.facts, { manifest: { files: 3 } });
    const config = fresh.backups.resultBySnapshot(snap(5).slice(0, 8));
    assert.deepEqual([config?.source, config?.runId, config?.bytes, config?.facts], ['config', 'run-2', 4096, { manifest: carrying.manifest }]);
    const runs = fresh.backups.runs('shop');
    assert.deepEqual(runs.map((r) => [r.id, r.kind, r.status, r.host, r.repository]), [
      ['run-2', 'backup', 'partial', 'nas1', undefined],
      ['run-1', 'backup', 'succeeded', 'nas1', undefined],
    ]);
    // Where the old host stored snapshots says nothing about this host's disks: no repository is claimed.
    assert.equal(fresh.backups.lastStoredIn('/r'), undefined);
    assert.equal(fresh.backups.runs('blog').length, 0);
    fresh.close();
  });

  it('carries the finished verifies of the last 90 days with their drills; a fresh host takes them up and the success rate goes on', () => {
    const old = oldHost();
    const b = old.backups;
    b.startVerify({ id: 'v-1', project: 'shop' });
    b.addDrill({ verifyId: 'v-1', source: 'db', snapshotId: snap(1).slice(0, 8), status: 'passed', restoreMs: 120, bytes: 100, details: { summary: '1 table, 5 rows, checksums equal', mismatches: [] } });
    b.finishVerify('v-1', { status: 'passed', checkOk: true, checkOutput: 'no errors were found' });
    b.startVerify({ id: 'v-2', project: 'shop', otherRepository: '/replica' });
    b.addDrill({ verifyId: 'v-2', source: 'db', snapshotId: 'aaaaaaaa', status: 'failed', restoreMs: 50, details: { summary: 'rows differ', mismatches: Array.from({ length: 30 }, (_, i) => `m${i}`) } });
    b.finishVerify('v-2', { status: 'failed', checkOk: true });
    b.startVerify({ id: 'v-running', project: 'shop' });
    const copy = recordsCopy(b, 'shop', old.today, ['db', 'media'], 25_000)!;
    assert.deepEqual(copy.verifies!.map((v) => [v.id, v.status, v.otherRepository, v.drills.length]), [['v-2', 'failed', '/replica', 1], ['v-1', 'passed', undefined, 1]], 'newest first, the running one left out');
    assert.deepEqual((copy.verifies![0]!.drills[0]!.details as { mismatches: string[] }).mismatches, Array.from({ length: 20 }, (_, i) => `m${i}`));
    assert.equal('checkOutput' in copy.verifies![1]!, false, "restic check's output stays behind");
    assert.deepEqual(recordsCopy(b, 'shop', old.today, ['db'], 200 * 86_400_000)!.verifies, [], 'none older than 90 days');
    const v1 = b.verifies('shop', 5).find((v) => v.id === 'v-1')!;
    old.close();

    const fresh = store();
    const file = path.join(fresh.dir, recordsCopyName);
    fs.writeFileSync(file, JSON.stringify(copy));
    assert.match(takeUpRecords(fresh.backups, 'shop', file, carrying, 'config')!.message, /took up the backup records of 3 snapshot\(s\) made on nas1, and 2 verify\(ies\) of the last 90 days/);
    assert.deepEqual(fresh.backups.allVerifies('shop', 10).map((v) => [v.id, v.status, v.checkOk, v.otherRepository, v.startedAt, v.finishedAt]), [
      ['v-2', 'failed', true, '/replica', copy.verifies![0]!.startedAt, copy.verifies![0]!.finishedAt],
      ['v-1', 'passed', true, undefined, v1.startedAt, v1.finishedAt],
    ]);
    assert.deepEqual(fresh.backups.drills('v-1'), [{ verifyId: 'v-1', source: 'db', snapshotId: snap(1).slice(0, 8), status: 'passed', restoreMs: 120, bytes: 100, details: { summary: '1 table, 5 rows, checksums equal', mismatches: [] } }]);
    assert.deepEqual(lastVerify(fresh.db, 'shop'), { at: v1.finishedAt, ok: true }, "the replica's verify is not the last one of backup.repository here either");
    assert.deepEqual(validationSince(fresh.db, 'shop', 0), { verifies: 1, verifiesPassed: 1, drills: [{ source: 'db', passed: 1, failed: 0 }], drillsPassed: 1, drillsFailed: 0 });
    // Taken up again: nothing is doubled.
    const again = copy.verifies!.map((v) => ({ ...v, project: 'shop' }));
    assert.deepEqual(fresh.backups.adopt([], [], again), { results: 0, verifies: 0 });
    assert.equal(fresh.backups.drills('v-2').length, 1);
    fresh.close();
  });

  it('the freshness the backup probe reads comes from the copy', () => {
    const old = oldHost();
    const copy = recordsCopy(old.backups, 'shop', old.today, ['db', 'media'], 25_000)!;
    old.close();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'brc-'));
    dirs.push(dir);
    const s = openStore(path.join(dir, 'state'));
    const backups = createBackupStore(s.db, () => 0);
    fs.writeFileSync(path.join(dir, recordsCopyName), JSON.stringify(copy));
    assert.equal(lastGoodBackupAt(s.db, 'shop', 'db'), undefined);
    takeUpRecords(backups, 'shop', path.join(dir, recordsCopyName), carrying, 'config');
    assert.equal(lastGoodBackupAt(s.db, 'shop', 'db'), 21_000);
    assert.equal(lastGoodBackupAt(s.db, 'shop', 'media'), 4_000);
    assert.equal(lastGoodBackupAt(s.db, 'shop', 'config'), 25_000);
    s.close();
  });

  it('a host with backup records of its own keeps them and drops the copy; a safety run alone does not count', () => {
    const old = oldHost();
    const copy = JSON.stringify(recordsCopy(old.backups, 'shop', old.today, ['db'], 25_000)!);
    old.close();
    const own = store();
    own.backups.startRun({ id: 'mine', project: 'shop', kind: 'backup', user: 'me', pid: 1, host: 'new', repository: '/r' });
    const file = path.join(own.dir, recordsCopyName);
    fs.writeFileSync(file, copy);
    assert.equal(takeUpRecords(own.backups, 'shop', file, carrying, 'config'), undefined);
    assert.equal(fs.existsSync(file), false);
    assert.deepEqual(own.backups.runs('shop').map((r) => r.id), ['mine']);
    own.close();

    const safety = store();
    safety.backups.startRun({ id: 'safe', project: 'shop', kind: 'safety', user: 'me', pid: 1, host: 'new', repository: '/r' });
    fs.writeFileSync(path.join(safety.dir, recordsCopyName), copy);
    assert.equal(takeUpRecords(safety.backups, 'shop', path.join(safety.dir, recordsCopyName), carrying, 'config')?.level, 'info');
    assert.equal(safety.backups.lastResult('shop', 'db')?.snapshotId, snap(4));
    safety.close();
  });

  it('a damaged copy, or another project\'s, is not taken up and says so; no copy says nothing', () => {
    const fresh = store();
    const file = path.join(fresh.dir, recordsCopyName);
    assert.equal(takeUpRecords(fresh.backups, 'shop', file, carrying, 'config'), undefined);
    fs.writeFileSync(file, '{"format":"berth backup records v1","project":"shop"');
    assert.match(takeUpRecords(fresh.backups, 'shop', file, carrying, 'config')!.message, /copy of the backup records is damaged \(.*JSON/);
    const old = oldHost();
    const copy = recordsCopy(old.backups, 'shop', old.today, ['db'], 25_000)!;
    old.close();
    fs.writeFileSync(file, JSON.stringify({ ...copy, results: [{ ...copy.results[0], snapshotId: 'not-hex' }] }));
    assert.match(takeUpRecords(fresh.backups, 'shop', file, carrying, 'config')!.message, /damaged \(results\.0\.snapshotId: /);
    fs.writeFileSync(file, JSON.stringify(copy));
    assert.match(takeUpRecords(fresh.backups, 'blog', file, carrying, 'config')!.message, /of project shop, not blog; not taken up/);
    assert.equal(fs.existsSync(file), false);
    assert.equal(fresh.backups.runs('shop').length + fresh.backups.runs('blog').length, 0, 'nothing was written');
    fresh.close();
  });
});

describe('recordedFacts', () => {
  it("finds a snapshot's facts by its own id, short or full, or for a copy by its original's", () => {
    const h = store();
    h.backups.startRun({ id: 'r', project: 'shop', kind: 'backup', user: 'ops', pid: 1, host: 'nas1', repository: '/r' });
    // restic 0.14 reports the short id of a new snapshot.
    h.backups.addResult({ runId: 'r', source: 'db', type: 'mariadb', status: 'succeeded', snapshotId: snap(7).slice(0, 8), startedAt: 1, finishedAt: 2, facts: facts(7) });
    assert.deepEqual(recordedFacts(h.backups, { short_id: snap(7).slice(0, 8) }), facts(7));
    assert.deepEqual(recordedFacts(h.backups, { short_id: 'ffffffff', original: snap(7) }), facts(7), 'a copy, by its original');
    assert.equal(recordedFacts(h.backups, { short_id: 'ffffffff', original: snap(8) }), undefined);
    assert.equal(recordedFacts(h.backups, { short_id: 'ffffffff' }), undefined);
    h.close();
  });
});
