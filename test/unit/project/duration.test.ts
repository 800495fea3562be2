import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration } from '../../../src/lib/duration.js';

const valid: [string | number, number][] = [
  ['10s', 10_000],
  ['1m30s', 90_000],
  ['500ms', 500],
  ['1h', 3_600_000],
  ['1h2m3s', 3_723_000],
  ['1.5s', 1_500],
  ['2us', 0.002],
  ['1000000ns', 1],
  ['0', 0],
  ['30', 30_000],
  [5, 5_000],
  [' 10s ', 10_000],
];

for (const [input, ms] of valid) {
  test(`parseDuration(${JSON.stringify(input)}) = ${ms}`, () => assert.equal(parseDuration(input), ms));
}

for (const input of ['', 's', '10x', '1d', '-5s', '10s5', 'ten seconds', '1m 30s', -1]) {
  test(`parseDuration(${JSON.stringify(input)}) throws`, () => assert.throws(() => parseDuration(input), /invalid duration/));
}
