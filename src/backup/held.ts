/**
 * Services a restore holds stopped: one that failed after it had begun changing a source's data
 * leaves that source partly restored, and its writers are marked stopped on purpose (reconcile
 * and the agent leave them so) until a restore of it succeeds or `berth up` starts them. Meanwhile
 * no backup of that source is made: a snapshot of partial data would become its `latest` and take
 * a good one's place in the retention.
 */
import { BerthError } from '../lib/errors.js';
import { formatUtcMinute } from '../lib/time.js';
import type { StoppedRow } from '../store/stopped.js';
import type { BackupContext } from './context.js';

/** The stopped-on-purpose reason of the writers a failed restore of `source` holds. */
const heldReason = (source: string): string => `berth restore: the restore of ${source} failed part-way; left stopped until it is restored`;

/** Marks `services` held by the restore of `source`, from the moment it begins changing the data. */
export function holdWriters(ctx: BackupContext, source: string, services: readonly string[]): void {
  for (const service of services) ctx.stopped.mark(ctx.project.name, service, { now: ctx.clock(), user: ctx.user, reason: heldReason(source) });
}

/** The services held stopped by a failed restore of `source`. */
export function heldFor(ctx: BackupContext, source: string): StoppedRow[] {
  return ctx.stopped.list(ctx.project.name).filter((r) => r.reason === heldReason(source));
}

/** Throws while a failed restore holds `source` partly restored. */
export function refuseWhileHeld(ctx: BackupContext, source: string): void {
  const held = heldFor(ctx, source);
  if (!held.length) return;
  const first = held.reduce((a, b) => (b.stoppedAtMs < a.stoppedAtMs ? b : a));
  throw new BerthError(
    'BACKUP',
    `not backed up: a restore of ${source} failed part-way (${formatUtcMinute(first.stoppedAtMs)}, by ${first.stoppedBy}), so its data may be partial (${held.map((r) => r.service).join(', ')} held stopped); a snapshot of it now would take a good one's place`,
    `restore it again (\`berth restore SNAPSHOT --source ${source}\`; \`berth backup list --snapshots\` lists them); if its data is right as it is, \`berth up\` starts the services and its backups resume`,
  );
}
