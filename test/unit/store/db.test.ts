import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { BerthError } from '../../../src/lib/errors.js';
import { migrate, openStore } from '../../../src/store/db.js';
import { migrations } from '../../../src/store/migrations.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-db-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('openStore', () => {
  it('creates the state directory and a WAL database at the latest schema', () => {
    const stateDir = path.join(dir, 'nested', '.berth');
    const store = openStore(stateDir);
    try {
      assert.ok(fs.existsSync(path.join(stateDir, 'berth.db')));
      assert.equal(store.stateDir, stateDir);
      assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(store.db.pragma('synchronous', { simple: true }), 1); // NORMAL
      assert.equal(store.db.pragma('busy_timeout', { simple: true }), 5000);
      assert.equal(store.db.pragma('foreign_keys', { simple: true }), 1);
      assert.equal(store.db.pragma('user_version', { simple: true }), migrations.length);
      const tables = store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
      // Other areas add their own tables in later migrations; the core ones must be there.
      for (const t of ['audit', 'deployments', 'live', 'locks', 'notify_channels', 'notify_outbox', 'replication_runs', 'replicated_snapshots']) assert.ok(tables.includes(t), `table ${t}`);
      const monitor = store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'monitor\\_%' ESCAPE '\\' ORDER BY name").pluck().all();
      assert.deepEqual(monitor, ['monitor_agent', 'monitor_alert_log', 'monitor_alerts', 'monitor_groups', 'monitor_heartbeats', 'monitor_probes', 'monitor_silences']);
    } finally {
      store.close();
    }
  });

  it('opens an existing database again without re-running migrations', () => {
    openStore(dir).close();
    const store = openStore(dir);
    assert.equal(store.db.pragma('user_version', { simple: true }), migrations.length);
    store.close();
  });

  it('enforces the kind and status checks', () => {
    const store = openStore(dir);
    const insert = store.db.prepare(
      `INSERT INTO deployments (id, project, service, kind, color, image_ref, image_id, status, phase, snapshot, user, started_at)
       VALUES ('d1', 'p', 'web', ?, 'blue', 'img', 'sha256:1', ?, 'starting', '{}', 'u', 1)`,
    );
    assert.throws(() => insert.run('explode', 'running'), /CHECK constraint/);
    assert.throws(() => insert.run('deploy', 'sleeping'), /CHECK constraint/);
    store.close();
  });

  it('refuses a database written by a newer berth', () => {
    const raw = new Database(path.join(dir, 'berth.db'));
    raw.pragma(`user_version = ${migrations.length + 1}`);
    raw.close();
    assert.throws(
      () => openStore(dir),
      (err: unknown) => err instanceof BerthError && err.code === 'STATE' && /newer berth/.test(err.hint ?? ''),
    );
  });

  it('wraps a state directory that cannot be created as STATE', () => {
    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, '');
    assert.throws(() => openStore(path.join(file, 'sub')), (err: unknown) => err instanceof BerthError && err.code === 'STATE');
  });
});

describe('migrate', () => {
  it('applies each step once, in order, and rolls back a failing step', () => {
    const db = new Database(':memory:');
    assert.equal(migrate(db, ['CREATE TABLE a (x)', 'CREATE TABLE b (x)']), 2);
    assert.equal(migrate(db, ['CREATE TABLE a (x)', 'CREATE TABLE b (x)']), 2);
    assert.throws(() => migrate(db, ['CREATE TABLE a (x)', 'CREATE TABLE b (x)', 'CREATE TABLE c (x); CREATE TABLE nope nope']));
    assert.equal(db.pragma('user_version', { simple: true }), 2);
    assert.equal(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'c'").pluck().get(), 0);
    db.close();
  });
});
