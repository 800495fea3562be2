/** Which database sources dump the same database, and the order their restores take. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { databasePlace, oldestFirstPerDatabase } from '../../../src/backup/sources/table-subset.js';
import type { BackupSource } from '../../../src/project/backup-schema.js';

const source = (name: string, over: Partial<BackupSource>): BackupSource => ({ name, type: 'mariadb', host: '127.0.0.1', database: 'shop', includeEnv: false, ...over });

it("a host database without a port is the same place as one naming the type's default port", () => {
  const same = (a: Partial<BackupSource>, b: Partial<BackupSource>) => databasePlace(source('a', a)) === databasePlace(source('b', b));
  assert.ok(same({}, { port: 3306 }), 'mariadb: 3306');
  assert.ok(same({ type: 'mysql' }, { type: 'mariadb', port: 3306 }), 'mysql and mariadb are one server kind');
  assert.ok(same({ type: 'postgres' }, { type: 'postgres', port: 5432 }), 'postgres: 5432');
  assert.ok(!same({}, { port: 3307 }), 'another port is another server');
  assert.ok(!same({ type: 'postgres', port: 3306 }, { port: 3306 }), 'postgres and mariadb are never one place');
  assert.ok(!same({}, { host: '10.0.0.2' }), 'another host');
  assert.ok(!same({}, { database: 'other' }), 'another database');
  assert.ok(same({ socket: '/run/mysqld/mysqld.sock' }, { socket: '/run/mysqld/mysqld.sock', port: 3307 }), 'a socket is the place, whatever the port');
  assert.ok(same({ service: 'db' }, { service: 'db', tables: ['t'] }), "a service's database, whole and a subset");
  assert.ok(!same({ service: 'db' }, {}), 'a service and a host database are not the same');
  assert.equal(databasePlace(source('r', { type: 'redis' })), undefined, 'Redis has no tables');
  assert.equal(databasePlace(source('v', { type: 'volume', database: undefined })), undefined);
});

it('restores of one database go oldest snapshot first; other items keep their places', () => {
  const item = (name: string, over: Partial<BackupSource>, time: string) => ({ source: source(name, over), snapshot: { time } });
  const plan = [
    item('whole', {}, '2026-12-07T02:00:00Z'),
    item('files', { type: 'volume', database: undefined }, '2026-12-07T01:00:00Z'),
    item('numbering', { port: 3306, tables: ['numbering_sequences'] }, '2026-12-07T01:45:00Z'),
    item('other', { database: 'crm' }, '2026-12-07T00:00:00Z'),
  ];
  assert.deepEqual(
    oldestFirstPerDatabase(plan).map((i) => i.source.name),
    ['numbering', 'files', 'whole', 'other'],
  );
});
