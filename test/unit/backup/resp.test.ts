/** The RESP2 reply parser used to copy keys into a host Redis, and the keyspace reader. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { keysPerDb } from '../../../src/backup/sources/redis.js';
import { parse, RespError } from '../../../src/backup/sources/resp.js';

it('parses simple strings, errors, integers, bulk strings (binary-safe), nulls and nested arrays', () => {
  assert.deepEqual(parse(Buffer.from('+OK\r\n'), 0), { value: 'OK', end: 5 });
  const err = parse(Buffer.from('-ERR wrong\r\n'), 0)!;
  assert.ok(err.value instanceof RespError && err.value.message === 'ERR wrong');
  assert.deepEqual(parse(Buffer.from(':42\r\n'), 0), { value: 42, end: 5 });
  const bin = Buffer.concat([Buffer.from('$4\r\n'), Buffer.from([0, 0xff, 0x0d, 0x0a]), Buffer.from('\r\n')]);
  assert.deepEqual(parse(bin, 0), { value: Buffer.from([0, 0xff, 0x0d, 0x0a]), end: 10 });
  assert.deepEqual(parse(Buffer.from('$-1\r\n'), 0), { value: null, end: 5 });
  const scan = Buffer.from('*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$2\r\nbc\r\n');
  assert.deepEqual(parse(scan, 0), { value: [Buffer.from('0'), [Buffer.from('a'), Buffer.from('bc')]], end: scan.length });
});

it('waits for a whole reply: a cut bulk string or array gives undefined', () => {
  assert.equal(parse(Buffer.from('$5\r\nab'), 0), undefined);
  assert.equal(parse(Buffer.from('*2\r\n:1\r\n'), 0), undefined);
  assert.equal(parse(Buffer.from('+OK'), 0), undefined);
});

it('reads keys per database from INFO keyspace', () => {
  const info = '# Keyspace\r\ndb0:keys=7,expires=1,avg_ttl=0\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n';
  assert.deepEqual([...keysPerDb(info)], [[0, 7], [3, 1]]);
  assert.deepEqual([...keysPerDb('# Keyspace\r\n')], []);
});
