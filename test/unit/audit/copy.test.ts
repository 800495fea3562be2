/**
 * A copy of the audit trail (one stored row per line) taken up by another host's trail: record
 * for record when that has none, never over records of its own, never with a broken chain.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { auditCopyName, copyLines, keptCopyName, parseCopy, takeUpCopy } from '../../../src/audit/copy.js';
import { auditHeadPath, createAuditTrail, type AuditTrail } from '../../../src/audit/trail.js';
import { BerthError } from '../../../src/lib/errors.js';
import { openStore, type Store } from '../../../src/store/db.js';

let root: string;
const opened: Store[] = [];
let now = Date.UTC(2026, 11, 7, 2, 0, 0);

/** A trail in its own state folder, as one host has it. */
function host(name: string): { trail: AuditTrail; stateDir: string } {
  const stateDir = path.join(root, name);
  const store = openStore(stateDir);
  opened.push(store);
  return { trail: createAuditTrail(store.db, { clock: () => now++, headFile: auditHeadPath(stateDir) }), stateDir };
}

function appendSome(trail: AuditTrail, n: number, project = 'shop'): void {
  for (let i = 0; i < n; i++) trail.append({ user: 'alice', action: 'backup.run', project, target: `s${i}`, outcome: 'succeeded', details: { i, note: 'ünïcode "quoted"\n' } });
}

/** The copy a config snapshot carries of `trail`, written where a restore leaves it. */
function copyOf(trail: AuditTrail, dir: string): string {
  const file = path.join(dir, auditCopyName);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(file, [...copyLines(trail.rows())].join(''));
  return file;
}

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-audit-copy-'));
});
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('a copy of the audit trail', () => {
  it('is taken up record for record by a fresh host, which then goes on from it with an intact chain', () => {
    const old = host('old');
    appendSome(old.trail, 4);
    const file = copyOf(old.trail, path.join(root, 'project'));
    const fresh = host('new');
    const said = takeUpCopy(fresh.trail, file, fresh.stateDir);
    assert.deepEqual(said, { level: 'info', message: "audit trail: 4 record(s) taken up from the snapshot's copy, chain checked; new records go on from record 4" });
    assert.equal(fs.existsSync(file), false, 'the copy is removed once taken up');
    assert.deepEqual(fresh.trail.rows(), old.trail.rows());
    const next = fresh.trail.append({ user: 'root', action: 'backup.restore', project: 'shop', target: 'config', outcome: 'succeeded' });
    assert.equal(next.seq, 5);
    assert.equal(next.prevHash, old.trail.rows()[3]!.hash);
    const check = fresh.trail.verify();
    assert.equal(check.ok, true, JSON.stringify(check.problems));
    assert.equal(check.count, 5);
    assert.deepEqual(check.warnings, []);
  });

  it('is kept aside, not merged, when the host has records of its own', () => {
    const old = host('old');
    appendSome(old.trail, 3);
    const file = copyOf(old.trail, path.join(root, 'project'));
    const busy = host('busy');
    appendSome(busy.trail, 2, 'other');
    const before = busy.trail.rows();
    const said = takeUpCopy(busy.trail, file, busy.stateDir);
    assert.equal(said?.level, 'warn');
    assert.match(said!.message, /not taken up \(this host's audit trail holds other records than the copy from record 1 on \(another host's trail, or one of the two was changed.*\); it is kept at .*audit-snapshot\.jsonl$/);
    assert.deepEqual(busy.trail.rows(), before);
    assert.equal(fs.readFileSync(path.join(busy.stateDir, keptCopyName), 'utf8'), [...copyLines(old.trail.rows())].join(''));
    assert.equal(fs.existsSync(file), false);
  });

  it('a trail that differs from the copy further on, or holds only its first records: kept aside with a warning', () => {
    const old = host('old');
    appendSome(old.trail, 4);
    const file = copyOf(old.trail, path.join(root, 'project'));
    // This host's own trail, whose record 3 was rewritten since the snapshot (hash and all).
    const text = fs.readFileSync(file, 'utf8');
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const same = host('same');
    const sameStore = opened.at(-1)!;
    const insert = sameStore.db.prepare('INSERT INTO audit (seq, ts, user, action, project, target, old_digest, new_digest, outcome, details, prev_hash, hash) VALUES (@seq, @ts, @user, @action, @project, @target, @old_digest, @new_digest, @outcome, @details, @prev_hash, @hash)');
    for (const l of lines) insert.run(l.seq === 3 ? { ...l, user: 'mallory', hash: 'f'.repeat(64) } : l);
    const said = takeUpCopy(same.trail, file, same.stateDir);
    assert.equal(said?.level, 'warn');
    assert.match(said!.message, /holds other records than the copy from record 3 on/);

    const cut = host('cut');
    const cutInsert = opened.at(-1)!.db.prepare(insert.source);
    for (const l of lines.slice(0, 2)) cutInsert.run(l);
    const again = takeUpCopy(cut.trail, copyOf(old.trail, path.join(root, 'p2')), cut.stateDir);
    assert.equal(again?.level, 'warn');
    assert.match(again!.message, /holds only the copy's first 2 of 4 record\(s\) \(were its newest removed\?/);
    assert.equal(cut.trail.rows().length, 2, 'nothing added');
  });

  it('taken up already (restore --all run again): said so, nothing added', () => {
    const old = host('old');
    appendSome(old.trail, 3);
    const fresh = host('new');
    takeUpCopy(fresh.trail, copyOf(old.trail, path.join(root, 'p1')), fresh.stateDir);
    fresh.trail.append({ user: 'root', action: 'backup.restore', project: 'shop', target: 'config', outcome: 'failed' });
    const said = takeUpCopy(fresh.trail, copyOf(old.trail, path.join(root, 'p2')), fresh.stateDir);
    assert.deepEqual(said, { level: 'info', message: "audit trail: this host's audit trail already holds the copy's 3 record(s)" });
    assert.equal(fresh.trail.rows().length, 4);
    assert.equal(fs.existsSync(path.join(fresh.stateDir, keptCopyName)), false);
  });

  it('with an edited record: refused with the record named, nothing written, kept aside', () => {
    const old = host('old');
    appendSome(old.trail, 3);
    const file = copyOf(old.trail, path.join(root, 'project'));
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('"target":"s1"', '"target":"s9"'));
    const fresh = host('new');
    const said = takeUpCopy(fresh.trail, file, fresh.stateDir);
    assert.equal(said?.level, 'warn');
    assert.match(said!.message, /not taken up \(the copy's chain is broken: record 2 .* was edited/);
    assert.deepEqual(fresh.trail.rows(), []);
    assert.equal(fs.existsSync(auditHeadPath(fresh.stateDir)), false, 'no head written');
    assert.equal(fresh.trail.append({ user: 'root', action: 'up', project: 'shop', target: '*', outcome: 'succeeded' }).seq, 1);
  });

  it('with a record missing in the middle: refused', () => {
    const old = host('old');
    appendSome(old.trail, 3);
    const file = copyOf(old.trail, path.join(root, 'project'));
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    fs.writeFileSync(file, [lines[0], lines[2], ''].join('\n'));
    const fresh = host('new');
    assert.match(takeUpCopy(fresh.trail, file, fresh.stateDir)!.message, /chain is broken/);
    assert.deepEqual(fresh.trail.rows(), []);
  });

  it('a line that is no record is an error naming its line; no copy is nothing to do', () => {
    const old = host('old');
    appendSome(old.trail, 2);
    const text = [...copyLines(old.trail.rows())].join('');
    assert.equal(parseCopy(text, 'x').length, 2);
    assert.throws(() => parseCopy(`${text}{"seq":3}\n`, 'copy.jsonl'), (err: unknown) => err instanceof BerthError && /^copy\.jsonl:3: not an audit record \(ts: Required\)/.test(err.message));
    assert.throws(() => parseCopy(`${text}not json\n`, 'copy.jsonl'), /copy\.jsonl:3: not JSON/);
    const fresh = host('new');
    assert.equal(takeUpCopy(fresh.trail, path.join(root, 'none', auditCopyName), fresh.stateDir), undefined);
  });
});
