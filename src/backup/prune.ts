/**
 * `berth backup prune`: restic forget per source with the retention policy, then one prune.
 * Each waits for a lock another restic holds (a backup host's pull, a backup run elsewhere); a
 * stale lock (a SIGKILLed run's) is cleared when it is first met, not up front: every restic
 * process pays the repository's key derivation (~0.7 s here).
 */
import { describeRetention } from '../project/retention-schema.js';
import { effectiveSources, ownRetentions, type Retention } from '../project/backup-schema.js';
import { requireBackup, lockWaitOf, type BackupContext } from './context.js';
import { waitingForLock } from './lock-wait.js';
import { ownSnapshots } from './replica-name.js';

export interface PrunedSnapshot {
  readonly source: string;
  readonly snapshot: string;
  readonly time: string;
  readonly kind: 'backup' | 'safety';
}

export interface PruneOutcome {
  /** `backup.retention`; sources with their own are in `ownRetention`. */
  readonly retention: Retention;
  readonly ownRetention: Readonly<Record<string, Retention>>;
  readonly kept: number;
  readonly removed: readonly PrunedSnapshot[];
}

export async function pruneBackups(ctx: BackupContext): Promise<PruneOutcome> {
  const cfg = requireBackup(ctx.project);
  const restic = ctx.restic();
  const removed: PrunedSnapshot[] = [];
  let kept = 0;
  const wait = lockWaitOf(ctx);
  // One listing says which groups hold snapshots, so only those pay a forget (and its key derivation).
  const present = new Set((await ownSnapshots(ctx.project, restic)).flatMap((s) => s.tags ?? []));
  // One forget per source: grouping by restic's tag set would split groups on berth-version changes.
  // Safety snapshots are a group of their own (see snapshotTags): the same policy, but a restore's
  // safety snapshot never takes the place of that day's regular backup.
  const ownRetention = ownRetentions(cfg);
  for (const s of effectiveSources(cfg)) {
    const retention = ownRetention[s.name] ?? cfg.retention;
    for (const [kind, tag] of [['backup', `source=${s.name}`], ['safety', `safety-of=${s.name}`]] as const) {
      if (!present.has(tag)) continue;
      ctx.report.step(`${s.name}${kind === 'safety' ? ' (safety snapshots)' : ''}: applying ${describeRetention(retention)}${ownRetention[s.name] ? ' (its own)' : ''}`);
      for (const g of await waitingForLock(`${s.name}: forget`, wait, () => restic.forget(retention, ['berth', `project=${ctx.project.name}`, tag]))) {
        kept += g.keep?.length ?? 0;
        for (const r of g.remove ?? []) removed.push({ source: s.name, snapshot: r.short_id, time: r.time, kind });
      }
    }
  }
  if (removed.length) {
    ctx.report.step(`pruning unreferenced data of ${removed.length} forgotten snapshot(s)`);
    await waitingForLock('prune', wait, () => restic.prune());
  }
  ctx.audit.append({ user: ctx.user, action: 'backup.prune', project: ctx.project.name, target: '*', outcome: 'succeeded', details: { removed: removed.length, kept } });
  ctx.report.done(`kept ${kept} snapshot(s), removed ${removed.length}`);
  return { retention: cfg.retention, ownRetention, kept, removed };
}
