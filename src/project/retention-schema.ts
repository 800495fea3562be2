/**
 * berth.yaml retention policies: `backup.retention` (the primary's repository) and
 * `backup.replicate.retention` (the backup host's copy). restic's keep-daily/weekly/monthly.
 */
import { z } from 'zod';
import { count, section } from './schema-kit.js';

export interface Retention {
  readonly daily: number;
  readonly weekly: number;
  readonly monthly: number;
}

/** A key left out takes its default, for both policies. */
export const retentionDefaults: Retention = { daily: 7, weekly: 4, monthly: 12 };

export const retentionSection = section({
  daily: count.optional().describe(`newest snapshot of each of the last N days that have one (default ${retentionDefaults.daily})`),
  weekly: count.optional().describe(`… of each of the last N weeks (default ${retentionDefaults.weekly})`),
  monthly: count.optional().describe(`… of each of the last N months (default ${retentionDefaults.monthly})`),
}).superRefine((v, ctx) => {
  // restic takes an all-zero policy as no policy: prune would keep everything while reporting "removed 0".
  if (v.daily === 0 && v.weekly === 0 && v.monthly === 0) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'keeps no snapshot at all (restic would ignore such a policy and keep everything); keep at least one daily, weekly or monthly' });
  }
});

export type RawRetention = z.output<typeof retentionSection>;

export function resolveRetention(raw: RawRetention | undefined): Retention {
  return {
    daily: raw?.daily ?? retentionDefaults.daily,
    weekly: raw?.weekly ?? retentionDefaults.weekly,
    monthly: raw?.monthly ?? retentionDefaults.monthly,
  };
}

export function describeRetention(r: Retention): string {
  return `keep-daily ${r.daily}, weekly ${r.weekly}, monthly ${r.monthly}`;
}
