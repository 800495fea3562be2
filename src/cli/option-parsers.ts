/**
 * Option values checked where they are parsed: a bad one is a usage error naming the option
 * (commander prints it with the help hint, exit 1) before anything runs, not a silent default
 * or a confusing failure further down.
 */
import { InvalidArgumentError } from 'commander';

/** A count such as `-n 20`: a whole number from 1 up. */
export function positiveInt(value: string): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of 1 or more.');
  return n;
}

/**
 * restic check's `--read-data-subset`: `n/t` (part n of t), `x%` or `x.y%` (0 < x ≤ 100), or a size
 * in bytes with an optional k/m/g/t suffix. restic itself rejects anything else only when it runs,
 * and its refusal would read like a failed check.
 */
export function readDataSubset(value: string): string {
  const v = value.trim();
  const part = /^(\d+)\/(\d+)$/.exec(v);
  if (part) {
    const [n, t] = [Number(part[1]), Number(part[2])];
    if (n >= 1 && n <= t) return v;
    throw new InvalidArgumentError(`part n/t needs 1 <= n <= t (e.g. 1/5).`);
  }
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(v);
  if (pct) {
    const x = Number(pct[1]);
    if (x > 0 && x <= 100) return v;
    throw new InvalidArgumentError('a percentage must be above 0% and at most 100%.');
  }
  if (/^[1-9]\d*[kKmMgGtT]?$/.test(v)) return v;
  throw new InvalidArgumentError("expected a share like 10%, a part like 1/5, or a size like 500M.");
}
