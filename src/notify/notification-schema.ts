/**
 * The `Notification` checked where it enters the outbox: a malformed one is the producer's bug and
 * fails its `notify()` call at once, rather than sitting in the outbox where it could never render.
 */
import { z } from 'zod';
import type { Notification } from './types.js';

export const notificationSchema = z
  .object({
    dedupKey: z.string().min(1),
    status: z.enum(['firing', 'resolved']),
    severity: z.enum(['critical', 'warning', 'info']),
    title: z.string(),
    summary: z.string(),
    details: z.array(z.object({ label: z.string(), value: z.string() })),
    logLines: z.array(z.string()).optional(),
    runbook: z.string().optional(),
    labels: z.record(z.string()),
    startsAtMs: z.number().finite(),
    endsAtMs: z.number().finite().optional(),
  }) satisfies z.ZodType<Notification>; // extra keys are let through: the contract may grow

export function checkNotification(n: Notification): void {
  const result = notificationSchema.safeParse(n);
  if (result.success) return;
  const problems = result.error.issues.map((i) => `${i.path.join('.') || '(notification)'}: ${i.message}`).join('; ');
  throw new TypeError(`invalid notification ${JSON.stringify(n?.dedupKey)}: ${problems}`);
}
