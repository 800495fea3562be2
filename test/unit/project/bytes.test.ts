import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBytes, parseBytes } from '../../../src/lib/bytes.js';

const valid: [string | number, number][] = [
  ['512M', 512 * 1024 ** 2],
  ['512m', 512 * 1024 ** 2],
  ['1.5G', 1.5 * 1024 ** 3],
  ['1g', 1024 ** 3],
  ['64kb', 64 * 1024],
  ['64KiB', 64 * 1024],
  ['2mb', 2 * 1024 ** 2],
  ['1gib', 1024 ** 3],
  ['100b', 100],
  ['100', 100],
  ['1T', 1024 ** 4],
  [4096, 4096],
  ['0.5k', 512],
];

for (const [input, bytes] of valid) {
  test(`parseBytes(${JSON.stringify(input)}) = ${bytes}`, () => assert.equal(parseBytes(input), bytes));
}

for (const input of ['', 'M', '12X', '1.5 gigs', '-1M', 'lots', -1]) {
  test(`parseBytes(${JSON.stringify(input)}) throws`, () => assert.throws(() => parseBytes(input), /invalid size/));
}

test('formatBytes: whole bytes under 1 KiB (a rate is fractional), two or one decimals above', () => {
  assert.equal(formatBytes(941.5148609779483), '942 B');
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1536), '1.50 KiB');
  assert.equal(formatBytes(300 * 1024 ** 2), '300.0 MiB');
});
