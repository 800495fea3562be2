import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { rowHash, type AuditRow } from '../../../src/audit/record.js';
import { auditHeadPath, createAuditTrail, type AuditTrail } from '../../../src/audit/trail.js';
import { BerthError } from '../../../src/lib/errors.js';
import { openStore, type Store } from '../../../src/store/db.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');

let dir: string;
let store: Store;
let now: number;
let trail: AuditTrail;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-audit-'));
  store = openStore(dir);
  now = Date.UTC(2026, 10, 23, 9, 15, 0);
  trail = createAuditTrail(store.db, { clock: () => now++, headFile: auditHeadPath(dir) });
});
afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function appendFive(): void {
  const targets = ['web', 'api', 'db', 'web', 'worker'];
  targets.forEach((target, i) =>
    trail.append({
      user: 'alice',
      action: i === 2 ? 'rollback' : 'deploy',
      project: i === 4 ? 'other' : 'shop',
      target,
      oldDigest: i ? `sha256:${i - 1}` : undefined,
      newDigest: `sha256:${i}`,
      outcome: 'succeeded',
      details: { z: i, a: { nested: [1, 'two'] } },
    }),
  );
}

const sql = (s: string, ...args: unknown[]) => store.db.prepare(s).run(...args);

describe('audit trail: append and list', () => {
  it('chains records from a zero hash and returns them as written', () => {
    const first = trail.append({ user: 'alice', action: 'up', project: 'shop', target: '*', outcome: 'succeeded' });
    assert.equal(first.seq, 1);
    assert.equal(first.prevHash, '0'.repeat(64));
    assert.match(first.hash, /^[0-9a-f]{64}$/);
    assert.equal('details' in first, false);
    const second = trail.append({ user: 'bob', action: 'deploy', project: 'shop', target: 'web', newDigest: 'sha256:b', outcome: 'failed', details: { b: 2, a: 1 } });
    assert.equal(second.seq, 2);
    assert.equal(second.prevHash, first.hash);
    assert.deepEqual(trail.list(), [first, second]);
    assert.deepEqual(JSON.parse(fs.readFileSync(auditHeadPath(dir), 'utf8')), { seq: 2, hash: second.hash });
  });

  it('lists the newest records, oldest first, optionally for one project', () => {
    appendFive();
    assert.deepEqual(trail.list().map((r) => r.seq), [1, 2, 3, 4, 5]);
    assert.deepEqual(trail.list({ limit: 2 }).map((r) => r.seq), [4, 5]);
    assert.deepEqual(trail.list({ project: 'shop', limit: 2 }).map((r) => r.seq), [3, 4]);
    assert.deepEqual(trail.list({ project: 'other' }).map((r) => r.target), ['worker']);
    assert.deepEqual(trail.list({ project: 'shop' })[1]?.details, { a: { nested: [1, 'two'] }, z: 1 });
  });

  it('refuses details that are not JSON with an AUDIT error and keeps the chain intact', () => {
    appendFive();
    const details = { n: 10n } as unknown as Record<string, unknown>;
    assert.throws(() => trail.append({ user: 'a', action: 'x', project: 'p', target: 't', outcome: 'ok', details }), (e: unknown) => e instanceof BerthError && e.code === 'AUDIT');
    assert.equal(trail.verify().ok, true);
    assert.deepEqual(JSON.parse(fs.readFileSync(auditHeadPath(dir), 'utf8')).seq, 5);
  });
});

describe('audit trail: verify', () => {
  it('accepts an untouched chain', () => {
    appendFive();
    assert.deepEqual(trail.verify(), { ok: true, count: 5, problems: [], warnings: [] });
  });

  it('accepts an empty trail', () => {
    assert.deepEqual(trail.verify(), { ok: true, count: 0, problems: [], warnings: [] });
  });

  it('names an edited record', () => {
    appendFive();
    sql("UPDATE audit SET target = 'api-evil' WHERE seq = 3");
    const result = trail.verify();
    assert.equal(result.ok, false);
    assert.deepEqual(result.problems.map((p) => [p.seq, p.kind]), [[3, 'edited']]);
    assert.match(result.problems[0]!.message, /record 3 .*was edited.*cannot be known/);
  });

  it('names an edit of the details JSON', () => {
    appendFive();
    sql("UPDATE audit SET details = '{\"z\":9}' WHERE seq = 2");
    assert.deepEqual(trail.verify().problems.map((p) => [p.seq, p.kind]), [[2, 'edited']]);
  });

  it('catches a record rewritten with a recomputed hash', () => {
    appendFive();
    // The hash has no secret: someone who knows the algorithm can recompute it for an edited row.
    const row = store.db.prepare('SELECT * FROM audit WHERE seq = 3').get() as AuditRow;
    sql('UPDATE audit SET target = ?, hash = ? WHERE seq = 3', 'forged', rowHash({ ...row, target: 'forged' }));
    const problems = trail.verify().problems;
    assert.deepEqual(problems.map((p) => [p.seq, p.kind]), [[3, 'edited']]);
    assert.match(problems[0]!.message, /record 3 was rewritten and its hash recomputed to hide it: record 4 still carries/);
  });

  it('catches the newest record rewritten with a recomputed hash, using the head file', () => {
    appendFive();
    const row = store.db.prepare('SELECT * FROM audit WHERE seq = 5').get() as AuditRow;
    sql('UPDATE audit SET outcome = ?, hash = ? WHERE seq = 5', 'failed', rowHash({ ...row, outcome: 'failed' }));
    const problems = trail.verify().problems;
    assert.deepEqual(problems.map((p) => [p.seq, p.kind]), [[5, 'edited']]);
    assert.match(problems[0]!.message, /head file holds a different hash/);
  });

  it('reports a deleted middle record with the seqs around it', () => {
    appendFive();
    sql('DELETE FROM audit WHERE seq = 3');
    const result = trail.verify();
    assert.equal(result.ok, false);
    assert.equal(result.count, 4);
    assert.deepEqual(result.problems, [{ seq: 3, kind: 'deleted', message: 'record 3 deleted between seq 2 and 4' }]);
  });

  it('reports a deleted run of records and a deleted start', () => {
    appendFive();
    sql('DELETE FROM audit WHERE seq IN (1, 3, 4)');
    assert.deepEqual(
      trail.verify().problems.map((p) => p.message),
      ['record 1 deleted before seq 2 (the start of the trail)', 'records 3–4 deleted between seq 2 and 5'],
    );
  });

  it('reports the newest records deleted, using the head file', () => {
    appendFive();
    sql('DELETE FROM audit WHERE seq >= 4');
    const result = trail.verify();
    assert.equal(result.ok, false);
    assert.deepEqual(result.problems.map((p) => [p.seq, p.kind]), [[4, 'truncated']]);
    assert.match(result.problems[0]!.message, /records 4–5 deleted from the end of the trail: the head file says it reached seq 5, but the table ends at seq 3/);
  });

  it('keeps a truncation visible after the next append', () => {
    appendFive();
    sql('DELETE FROM audit WHERE seq >= 4');
    const next = trail.append({ user: 'bob', action: 'deploy', project: 'shop', target: 'web', outcome: 'succeeded' });
    assert.equal(next.seq, 6);
    assert.deepEqual(trail.verify().problems.map((p) => [p.seq, p.kind, p.message]), [[4, 'deleted', 'records 4–5 deleted between seq 3 and 6']]);
  });

  it('reports all records deleted', () => {
    appendFive();
    sql('DELETE FROM audit');
    assert.deepEqual(trail.verify().problems.map((p) => p.message), ['records 1–5 deleted from the end of the trail: the head file says it reached seq 5, but the table is empty']);
  });

  it('reports records moved to other seqs', () => {
    appendFive();
    sql('UPDATE audit SET seq = 100 WHERE seq = 2');
    sql('UPDATE audit SET seq = 2 WHERE seq = 3');
    sql('UPDATE audit SET seq = 3 WHERE seq = 100');
    const kinds = new Set(trail.verify().problems.map((p) => p.kind));
    assert.ok(kinds.has('reordered'), JSON.stringify(trail.verify().problems));
    assert.ok(kinds.has('edited'));
  });

  it('warns, without failing, when the head file is missing', () => {
    appendFive();
    fs.rmSync(auditHeadPath(dir));
    const result = trail.verify();
    assert.equal(result.ok, true);
    assert.match(result.warnings[0] ?? '', /head file .* is missing/);
  });

  it('warns when records were appended by a trail that keeps no head file', () => {
    appendFive();
    createAuditTrail(store.db, { clock: () => now }).append({ user: 'a', action: 'x', project: 'p', target: 't', outcome: 'ok' });
    const result = trail.verify();
    assert.equal(result.ok, true);
    assert.deepEqual(result.warnings, [`record 6 appended without updating the head file ${auditHeadPath(dir)}`]);
  });

  it('without a head file configured, checks the chain only', () => {
    const plain = createAuditTrail(store.db, { clock: () => now });
    plain.append({ user: 'a', action: 'x', project: 'p', target: 't', outcome: 'ok' });
    assert.deepEqual(plain.verify(), { ok: true, count: 1, problems: [], warnings: [] });
  });
});

describe('audit trail: concurrent processes', () => {
  it('two processes appending 50 records each keep one valid chain of 100', async () => {
    const worker = path.join(here, 'append-worker.ts');
    const run = (name: string) =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', worker, dir, '50', name], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker ${name} exited ${code}: ${stderr}`))));
      });
    await Promise.all([run('A'), run('B')]);
    const result = trail.verify();
    assert.deepEqual(result, { ok: true, count: 100, problems: [], warnings: [] });
    const records = trail.list({ limit: 1000 });
    assert.deepEqual(records.map((r) => r.seq), Array.from({ length: 100 }, (_, i) => i + 1));
    assert.equal(records.filter((r) => r.user === 'A').length, 50);
    assert.deepEqual(JSON.parse(fs.readFileSync(auditHeadPath(dir), 'utf8')), { seq: 100, hash: records[99]!.hash });
  });
});
