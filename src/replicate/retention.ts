/**
 * The backup host's own retention (`backup.replicate.retention`), applied after a pull: one
 * restic forget per project and source, as `berth backup prune` does on the primary (safety
 * snapshots in a group of their own), then one prune when anything was removed. Only berth's
 * snapshots are touched; one made by hand, without berth's tags, is always kept.
 */
import { describeRetention, type Retention } from '../project/retention-schema.js';
import type { Reporter } from '../lib/reporter.js';
import { formatUtcMinute } from '../lib/time.js';
import type { SnapshotMapping } from '../store/replications.js';
import type { RepoRef, Restic, Snapshot } from './restic.js';

export interface RetentionGroup {
  readonly project: string;
  readonly source: string;
  readonly kind: 'backup' | 'safety';
  /** The tags that select exactly this group. */
  readonly tags: readonly string[];
}

export interface RemovedCopy {
  readonly snapshot: string;
  /** The primary's snapshot this was a copy of. */
  readonly original: string;
  readonly time: string;
  readonly project: string;
  readonly source: string;
  readonly kind: 'backup' | 'safety';
}

export interface ReplicaRetentionResult {
  readonly policy: Retention;
  readonly kept: number;
  readonly removed: readonly RemovedCopy[];
  /** Whether `restic prune` ran (when something was removed, now or by a pull whose prune did not finish). */
  readonly pruned: boolean;
}

const tagValue = (tags: readonly string[], key: string): string | undefined => tags.find((t) => t.startsWith(`${key}=`))?.slice(key.length + 1);

/** The groups of berth snapshots present, in a stable order. */
export function retentionGroups(snapshots: readonly Snapshot[]): RetentionGroup[] {
  const groups = new Map<string, RetentionGroup>();
  for (const s of snapshots) {
    if (!s.tags.includes('berth')) continue;
    const project = tagValue(s.tags, 'project');
    const safetyOf = tagValue(s.tags, 'safety-of');
    const source = safetyOf ?? tagValue(s.tags, 'source');
    if (!project || !source) continue;
    const kind = safetyOf ? 'safety' : 'backup';
    const tags = ['berth', `project=${project}`, kind === 'safety' ? `safety-of=${source}` : `source=${source}`];
    groups.set(tags.join(','), { project, source, kind, tags });
  }
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, g]) => g);
}

export interface RetentionDeps {
  readonly restic: Restic;
  readonly report: Reporter;
  /** Called after each group's forget with what it removed, so the marks survive a later failure. */
  readonly onRemoved: (removed: readonly SnapshotMapping[]) => void;
  /** Since when a prune is owed: an earlier pull removed copies, and its prune did not finish. */
  readonly pruneOwedSince: () => number | undefined;
  /** Called when a prune finished. */
  readonly onPruned: () => void;
}

/**
 * `removed` collects across attempts: a retried call (a lock held here) appends to what an
 * earlier one removed, and prunes if anything was removed by either.
 */
export async function applyReplicaRetention(
  deps: RetentionDeps,
  repo: RepoRef,
  policy: Retention,
  replica: readonly Snapshot[],
  removed: RemovedCopy[],
  signal?: AbortSignal,
): Promise<ReplicaRetentionResult> {
  const groups = retentionGroups(replica);
  deps.report.step(`applying this host's retention (${describeRetention(policy)}) to ${groups.length} group(s)`);
  let kept = 0;
  for (const g of groups) {
    const r = await deps.restic.forget(repo, policy, g.tags, signal);
    kept += r.keep.length;
    deps.onRemoved(r.remove.map((s) => ({ originalId: s.original ?? s.id, copyId: s.id, timeMs: s.timeMs, tags: s.tags })));
    for (const s of r.remove) {
      removed.push({ snapshot: s.shortId, original: s.original ?? s.id, time: new Date(s.timeMs).toISOString(), project: g.project, source: g.source, kind: g.kind });
    }
  }
  // Owed also after this pull's own removals (marked by onRemoved): an earlier pull's are pruned with them.
  const owedSince = deps.pruneOwedSince();
  const pruned = removed.length > 0 || owedSince !== undefined;
  if (pruned) {
    deps.report.step(
      owedSince === undefined || removed.length > 0
        ? `removed ${removed.length} snapshot(s) here; pruning the data only they used`
        : `pruning the data of snapshots removed here since ${formatUtcMinute(owedSince)} (that pull's prune did not finish)`,
    );
    await deps.restic.prune(repo, signal);
    deps.onPruned();
  }
  deps.report.done(`this host's retention kept ${kept} snapshot(s), removed ${removed.length}`);
  return { policy, kept, removed: [...removed], pruned };
}
