/**
 * berth.yaml retention policies: `backup.retention` (the primary's repository), a source's own
 * `retention` (over it), and `backup.replicate.retention` (the backup host's copy). restic's
 * keep-hourly/daily/weekly/monthly and keep-within.
 */
import { z } from 'zod';
import { count, section, span } from './schema-kit.js';

export interface Retention {
  readonly daily: number;
  readonly weekly: number;
  readonly monthly: number;
  /** The newest snapshot of each of the last N hours that have one; absent: none kept by the hour. */
  readonly hourly?: number;
  /** Every snapshot taken within this long (ms, whole hours) of the source's newest; absent: none kept by age. */
  readonly withinMs?: number;
}

/** A key left out takes its default, for both policies. */
export const retentionDefaults: Retention = { daily: 7, weekly: 4, monthly: 12 };

const hourMs = 3_600_000;

/** restic's --keep-within counts whole hours (and days, months, years): a finer duration is refused, not rounded. */
const wholeHours = span.superRefine((ms, ctx) => {
  if (ms < hourMs || ms % hourMs !== 0) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'should be whole hours, at least 1h, like "30d" or "48h" (restic keeps by the hour)' });
});

export const retentionSection = section({
  hourly: count.optional().describe('… of each of the last N hours that have one (default none: for a source backed up more often than daily)'),
  daily: count.optional().describe(`newest snapshot of each of the last N days that have one (default ${retentionDefaults.daily})`),
  weekly: count.optional().describe(`… of each of the last N weeks (default ${retentionDefaults.weekly})`),
  monthly: count.optional().describe(`… of each of the last N months (default ${retentionDefaults.monthly})`),
  within: wholeHours.optional().describe('every snapshot taken within this long of the newest, e.g. "30d" or "48h" (default none)'),
}).superRefine((v, ctx) => {
  // restic takes an all-zero policy as no policy: prune would keep everything while reporting "removed 0".
  if (v.daily === 0 && v.weekly === 0 && v.monthly === 0 && !v.hourly && v.within === undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'keeps no snapshot at all (restic would ignore such a policy and keep everything); keep at least one hourly, daily, weekly or monthly, or those `within` a time' });
  }
});

export type RawRetention = z.output<typeof retentionSection>;

/** A policy from berth.yaml: keys left out take `base`'s (the defaults, or `backup.retention` for a source's own). */
export function resolveRetention(raw: RawRetention | undefined, base: Retention = retentionDefaults): Retention {
  const hourly = raw?.hourly ?? base.hourly;
  const withinMs = raw?.within ?? base.withinMs;
  return {
    daily: raw?.daily ?? base.daily,
    weekly: raw?.weekly ?? base.weekly,
    monthly: raw?.monthly ?? base.monthly,
    ...(hourly ? { hourly } : {}),
    ...(withinMs !== undefined && { withinMs }),
  };
}

/** Whole days as days ("30d"), else hours ("36h"): as berth.yaml takes it, and as restic's --keep-within does. */
const withinText = (ms: number) => (ms % (24 * hourMs) === 0 ? `${ms / (24 * hourMs)}d` : `${ms / hourMs}h`);

export function describeRetention(r: Retention): string {
  return `keep-${r.hourly ? `hourly ${r.hourly}, daily` : 'daily'} ${r.daily}, weekly ${r.weekly}, monthly ${r.monthly}${r.withinMs ? `, all within ${withinText(r.withinMs)}` : ''}`;
}

/** restic forget's --keep-* arguments for `r`. */
export function keepArgs(r: Retention): string[] {
  return [
    ...(r.hourly ? ['--keep-hourly', String(r.hourly)] : []),
    '--keep-daily',
    String(r.daily),
    '--keep-weekly',
    String(r.weekly),
    '--keep-monthly',
    String(r.monthly),
    ...(r.withinMs ? ['--keep-within', withinText(r.withinMs)] : []),
  ];
}
