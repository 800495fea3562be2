/**
 * Sources a restore left partly restored, and the services it holds stopped. A restore that
 * fails (or whose berth is killed) after it began changing a source's data marks the source
 * partly restored and its writers stopped on purpose (reconcile and the agent leave them so).
 * The writers stay stopped until a restore of it succeeds or `berth up` starts them as they are.
 * The source is not backed up until a restore of it succeeds or `backup run --accept-partial`
 * accepts its data as it is: a snapshot of partial data would become its `latest` and take a
 * good one's place in the retention. Starting its services does not accept the data.
 */
import { BerthError } from '../lib/errors.js';
import { formatUtcMinute } from '../lib/time.js';
import type { PartlyRestored } from '../store/partly-restored.js';
import { restoreHoldReason as heldReason, type StoppedRow } from '../store/stopped.js';
import type { BackupContext } from './context.js';

/** From the moment a restore of `source` begins changing its data: marks it partly restored and holds `writers` stopped. */
export function markPartlyRestored(ctx: BackupContext, source: string, snapshot: string, writers: readonly string[]): void {
  const now = ctx.clock();
  ctx.partlyRestored.mark(ctx.project.name, { source, sinceMs: now, by: ctx.user, snapshot });
  for (const service of writers) ctx.stopped.mark(ctx.project.name, service, { now, user: ctx.user, reason: heldReason(source) });
}

/**
 * A restore of `source` succeeded: its data is whole. The writers it started are no longer
 * marked (the restore clears them); held ones with no container to start (`berth down` since)
 * stay down, as `berth down` left them.
 */
export function restoredWhole(ctx: BackupContext, source: string): void {
  ctx.partlyRestored.clear(ctx.project.name, source);
  for (const r of heldFor(ctx, source)) ctx.stopped.mark(ctx.project.name, r.service, { now: r.stoppedAtMs, user: r.stoppedBy, reason: 'berth down' });
}

/** The services held stopped by a failed restore of `source`. */
export function heldFor(ctx: BackupContext, source: string): StoppedRow[] {
  return ctx.stopped.list(ctx.project.name).filter((r) => r.reason === heldReason(source));
}

export interface PartlyRestoredState extends PartlyRestored {
  /** Its writers still held stopped. */
  readonly held: readonly string[];
}

/** Whether a failed restore left `source` partly restored, and which of its writers are still held. */
export function partlyRestoredState(ctx: BackupContext, source: string): PartlyRestoredState | undefined {
  const p = ctx.partlyRestored.get(ctx.project.name, source);
  return p && { ...p, held: heldFor(ctx, source).map((r) => r.service) };
}

/** Throws while a failed restore has left `source` partly restored. */
export function refuseWhilePartlyRestored(ctx: BackupContext, source: string): void {
  const p = partlyRestoredState(ctx, source);
  if (!p) return;
  throw new BerthError(
    'BACKUP',
    `not backed up: a restore of ${source} failed part-way (${formatUtcMinute(p.sinceMs)}, by ${p.by}), so its data may be partial${p.held.length ? ` (${p.held.join(', ')} held stopped)` : ''}; a snapshot of it now would take a good one's place`,
    `restore it again (\`berth restore ${p.snapshot || 'SNAPSHOT'} --source ${source}\`; \`berth backup list --snapshots\` lists them); if its data is right as it is, \`berth backup run --source ${source} --accept-partial\` backs it up as it is and its backups resume`,
  );
}

/** `--accept-partial`: someone checked the data of `source` and accepts it as it is; its backups resume. True if it was marked. */
export function acceptPartlyRestored(ctx: BackupContext, source: string): boolean {
  const p = ctx.partlyRestored.get(ctx.project.name, source);
  if (!p) return false;
  ctx.partlyRestored.clear(ctx.project.name, source);
  ctx.audit.append({ user: ctx.user, action: 'backup.accept-partial', project: ctx.project.name, target: source, outcome: 'succeeded', details: { since: new Date(p.sinceMs).toISOString(), by: p.by, ...(p.snapshot && { snapshot: p.snapshot }) } });
  ctx.report.done(`${source}: its data, partly restored since ${formatUtcMinute(p.sinceMs)}, is accepted as it is; backed up again from now on`);
  return true;
}
