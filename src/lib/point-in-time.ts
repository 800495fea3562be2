/**
 * A moment as a user names it on the command line (`restore --before`): a UTC date or date and
 * time, as berth prints them ("2026-12-06 10:00 UTC"), an ISO 8601 time with its offset, or a
 * span back from now ("36h", "2d", "90m"). Returns milliseconds since the epoch.
 */
import { parseSpan } from './duration.js';

const dateTime = /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?)?\s*(Z|UTC|[+-]\d\d:?\d\d)?$/i;

export const pointInTimeForms = '"2026-12-06", "2026-12-06 10:00" (UTC), "2026-12-06T10:00:00+01:00", or a span back from now like "36h" or "2d"';

/** Throws `Error` saying what was wrong and which forms are taken. */
export function parsePointInTime(input: string, now: number): number {
  const text = input.trim();
  const m = dateTime.exec(text);
  if (m) {
    const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone = 'Z'] = m;
    const offset = /^(?:Z|UTC)$/i.test(zone) ? 0 : offsetMs(zone);
    const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(frac.padEnd(3, '0').slice(0, 3)));
    const back = new Date(ms);
    // Date.UTC rolls 2026-02-30 over into March: such a date is a typo, not a moment.
    if (back.getUTCMonth() !== Number(mo) - 1 || back.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) throw new Error(`"${input}" is not a date and time that exists`);
    return ms - offset;
  }
  let span: number;
  try {
    span = parseSpan(text);
  } catch {
    throw new Error(`"${input}" is not a point in time; give ${pointInTimeForms}`);
  }
  return now - span;
}

function offsetMs(zone: string): number {
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
}
