/** `restore --before`: the moments a user can name, and what is refused. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parsePointInTime } from '../../../src/lib/point-in-time.js';

const now = Date.UTC(2026, 11, 7, 12, 0, 0);
const at = (text: string) => new Date(parsePointInTime(text, now)).toISOString();

it('takes a UTC date, a date and time as berth prints them, and ISO 8601 with an offset', () => {
  assert.equal(at('2026-12-06'), '2026-12-06T00:00:00.000Z');
  assert.equal(at('2026-12-06 10:00'), '2026-12-06T10:00:00.000Z');
  assert.equal(at('2026-12-06 10:00 UTC'), '2026-12-06T10:00:00.000Z');
  assert.equal(at(' 2026-12-06T10:00:30 '), '2026-12-06T10:00:30.000Z');
  assert.equal(at('2026-12-06T10:00:30.25Z'), '2026-12-06T10:00:30.250Z');
  assert.equal(at('2026-12-06T10:00:00.123456789Z'), '2026-12-06T10:00:00.123Z', "restic's nanoseconds");
  assert.equal(at('2026-12-06T10:00:00+01:00'), '2026-12-06T09:00:00.000Z');
  assert.equal(at('2026-12-06T10:00-0530'), '2026-12-06T15:30:00.000Z');
});

it('takes a span back from now, days included', () => {
  assert.equal(at('36h'), '2026-12-06T00:00:00.000Z');
  assert.equal(at('2d'), '2026-12-05T12:00:00.000Z');
  assert.equal(at('1d12h'), '2026-12-06T00:00:00.000Z');
  assert.equal(at('90m'), '2026-12-07T10:30:00.000Z');
});

it('refuses what is not a moment, saying which forms are taken', () => {
  for (const text of ['', 'yesterday', '36', '2d30', '12/06/2026', '2026-12-06 10', '2026-12-06T10:00:00+1']) {
    assert.throws(() => parsePointInTime(text, now), /is not a point in time; give "2026-12-06", "2026-12-06 10:00" \(UTC\)/, text);
  }
  for (const text of ['2026-02-30', '2026-12-06 24:00', '2026-13-01', '2026-12-06 10:60']) {
    assert.throws(() => parsePointInTime(text, now), /is not a date and time that exists/, text);
  }
});
