/** Option values checked at parse time: restic's --read-data-subset forms and counts. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from 'commander';
import { positiveInt, readDataSubset } from '../../../src/cli/option-parsers.js';

describe('readDataSubset', () => {
  it("takes every form restic check accepts", () => {
    for (const v of ['10%', '100%', '0.5%', '2.25%', '1/5', '5/5', '1/1', '500M', '2g', '1024', '3T']) assert.equal(readDataSubset(v), v);
    assert.equal(readDataSubset(' 10% '), '10%');
  });
  it('refuses what restic would refuse only when it runs (its refusal read like a failed check)', () => {
    for (const [v, why] of [
      ['foo', /share like 10%/],
      ['0%', /above 0%/],
      ['0.0%', /above 0%/],
      ['150%', /at most 100%/],
      ['0/5', /1 <= n <= t/],
      ['6/5', /1 <= n <= t/],
      ['1/0', /1 <= n <= t/],
      ['-1', /share like/],
      ['10 %', /share like/],
      ['5MB', /share like/],
      ['0', /share like/],
      ['', /share like/],
    ] as const) {
      assert.throws(() => readDataSubset(v), (err: unknown) => err instanceof InvalidArgumentError && why.test(err.message), `"${v}"`);
    }
  });
});

describe('positiveInt', () => {
  it('takes whole numbers from 1', () => {
    assert.equal(positiveInt('1'), 1);
    assert.equal(positiveInt('20'), 20);
    assert.equal(positiveInt(' 7 '), 7);
  });
  it('refuses what used to fall back to the default silently', () => {
    for (const v of ['0', 'abc', '-3', '2.5', '1e3', '', '99999999999999999999']) assert.throws(() => positiveInt(v), InvalidArgumentError, `"${v}"`);
  });
});
