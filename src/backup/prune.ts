/**
 * `berth backup prune`: restic forget per source with the retention policy, then one prune.
 * Stale locks (a SIGKILLed run's) are cleared once up front: every restic process pays the
 * repository's key derivation (~0.7 s here), so one unlock per forget would double the cost.
 */
import { requireBackup, effectiveSources, type BackupContext } from './context.js';

export interface PruneOutcome {
  readonly retention: { daily: number; weekly: number; monthly: number };
  readonly kept: number;
  readonly removed: ReadonlyArray<{ source: string; snapshot: string; time: string }>;
}

export async function pruneBackups(ctx: BackupContext): Promise<PruneOutcome> {
  const cfg = requireBackup(ctx.project);
  const restic = ctx.restic();
  const removed: Array<{ source: string; snapshot: string; time: string }> = [];
  let kept = 0;
  await restic.unlockStale();
  // One forget per source: grouping by restic's tag set would split groups on berth-version changes.
  for (const s of effectiveSources(cfg)) {
    ctx.report.step(`${s.name}: applying keep-daily ${cfg.retention.daily}, weekly ${cfg.retention.weekly}, monthly ${cfg.retention.monthly}`);
    for (const g of await restic.forget(cfg.retention, ['berth', `project=${ctx.project.name}`, `source=${s.name}`])) {
      kept += g.keep?.length ?? 0;
      for (const r of g.remove ?? []) removed.push({ source: s.name, snapshot: r.short_id, time: r.time });
    }
  }
  if (removed.length) {
    ctx.report.step(`pruning unreferenced data of ${removed.length} forgotten snapshot(s)`);
    await restic.prune();
  }
  ctx.audit.append({ user: ctx.user, action: 'backup.prune', project: ctx.project.name, target: '*', outcome: 'succeeded', details: { removed: removed.length, kept } });
  ctx.report.done(`kept ${kept} snapshot(s), removed ${removed.length}`);
  return { retention: cfg.retention, kept, removed };
}
