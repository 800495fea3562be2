/**
 * `berth replicate pull`, run on the backup host: copy the primary's snapshots that this host's
 * repository lacks, over SSH with read-only access to the primary. The runbook:
 * record run → (list primary → init replica if new → list replica → copy missing → list again)
 * with bounded retries on link failures → record id map → record run → audit.
 *
 * restic writes a copied snapshot's file only after all its data and index are stored, so a
 * cut link leaves at most unreferenced pack files (harmless; `restic prune` removes them),
 * never a snapshot with missing data.
 */
import type { AuditTrail } from '../audit/trail.js';
import { BerthError } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import type { Reporter } from '../lib/reporter.js';
import { formatUtcMinute, type Clock, type Sleep } from '../lib/time.js';
import type { Project } from '../project/model.js';
import type { ReplicateConfig } from '../project/replicate-schema.js';
import type { ReplicationStore, SnapshotMapping } from '../store/replications.js';
import { failureHint, failureMessage } from './failures.js';
import { applyReplicaRetention, type RemovedCopy, type ReplicaRetentionResult } from './retention.js';
import { classify, probeSsh, sshReason, type RepoRef, type Restic, ResticFailure, type Snapshot, sftpCommand, sshArgv } from './restic.js';

export interface PullDeps {
  readonly restic: Restic;
  readonly runs: ReplicationStore;
  readonly audit: AuditTrail;
  readonly clock: Clock;
  readonly sleep: Sleep;
  readonly user: string;
  readonly host: string;
  readonly pid: number;
  readonly isAlive: (pid: number) => boolean;
  readonly report: Reporter;
}

export interface PullOptions {
  /** Run `restic check` on this host's repository afterwards (`--read-data` with `readData`). */
  readonly check?: boolean;
  readonly readData?: boolean;
  readonly signal?: AbortSignal;
  /** Create this host's repository even where snapshots were pulled into before (see refuseToRecreate). */
  readonly init?: boolean;
}

export interface CopiedSnapshot {
  readonly originalId: string;
  readonly copyId: string;
  readonly time: string;
  readonly tags: readonly string[];
}

export interface PullResult {
  readonly runId: string;
  readonly from: string;
  readonly to: string;
  readonly attempts: number;
  readonly initialized: boolean;
  readonly primarySnapshots: number;
  readonly replicaSnapshots: number;
  /** Snapshots copied by this run, original id → copied id. */
  readonly copied: readonly CopiedSnapshot[];
  readonly primaryNewest?: string;
  readonly replicaNewest?: string;
  readonly check?: { readonly ok: boolean };
  /** Primary snapshots not copied because this host's retention removed their copies before. */
  readonly leftOut: number;
  /** This host's retention (`backup.replicate.retention`), when configured. */
  readonly retention?: ReplicaRetentionResult;
  readonly durationMs: number;
}

interface AttemptResult {
  readonly initialized: boolean;
  readonly primary: readonly Snapshot[];
  readonly replica: readonly Snapshot[];
  readonly leftOut: number;
}

export function replicaRepos(cfg: ReplicateConfig): { from: RepoRef; to: RepoRef } {
  const cmd = sftpCommand(cfg.from, cfg.ssh);
  const argv = sshArgv(cfg.from, cfg.ssh);
  return {
    from: { url: cfg.from, password: cfg.fromPassword, ...(cmd && argv ? { sftpCommand: cmd, sshArgv: argv } : {}) },
    to: { url: cfg.to, password: cfg.toPassword },
  };
}

export function requireReplicate(project: Project): ReplicateConfig {
  if (project.replicate) return project.replicate;
  throw new BerthError(
    'CONFIG',
    `project ${project.name} has no replication configured`,
    'on the backup host, add backup.replicate (from, from_password_file, ssh) and backup.repository to berth.yaml',
  );
}

export async function pullReplica(deps: PullDeps, project: Project, opts: PullOptions = {}): Promise<PullResult> {
  const cfg = requireReplicate(project);
  const repos = replicaRepos(cfg);
  const started = deps.clock();
  const runId = newId(deps.clock);
  const begun = deps.runs.begin({ id: runId, project: project.name, source: cfg.from, target: cfg.to, pid: deps.pid, host: deps.host, user: deps.user }, deps.isAlive);
  if (!begun.ok) {
    const h = begun.holder;
    throw new BerthError('LOCK_HELD', `another pull for ${project.name} is running (pid ${h.pid}, started ${new Date(h.startedAt).toISOString()} by ${h.user})`, 'wait for it to finish; `berth replicate status` shows the result');
  }
  let attempts = 0;
  /** Attempts of the step that failed last (the copy, or this host's retention after it). */
  let stepAttempts = 0;
  /** Runs `fn` again after a failure that may pass when tried again (link down, lock held), with backoff. */
  const retrying = async <T>(fn: () => Promise<T>): Promise<T> => {
    for (let tries = 1; ; tries++) {
      attempts++;
      stepAttempts = tries;
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof ResticFailure) || !err.retryable || tries > cfg.retries || opts.signal?.aborted) throw err;
        if (err.kind === 'locked' && err.side === 'replica') {
          // Most often a pull killed here (power loss, OOM) left it: without this, every later pull would fail on it.
          // `restic unlock` removes only locks whose holder is gone, so a live prune or check keeps its lock.
          await deps.restic.unlockStale(repos.to, opts.signal).catch(() => undefined);
        }
        const delay = Math.min(cfg.retryDelayMs * 2 ** (tries - 1), 300_000);
        deps.report.warn(`attempt ${tries} of ${cfg.retries + 1} failed (${err.kind}): ${err.message}; retrying in ${(delay / 1000).toFixed(1)}s`);
        await deps.sleep(delay);
      }
    }
  };
  const removed: RemovedCopy[] = [];
  try {
    const result = await retrying(() => attempt(deps, project.name, cfg, repos, () => refuseToRecreate(deps, project, cfg, opts.init), opts.signal));
    // Recorded before this host's retention runs, so copies it removes at once are still listed as copied.
    const copies = mapCopies(result.primary, result.replica);
    const fresh = new Set(deps.runs.recordMappings(project.name, runId, copies));
    const copied = copies.filter((m) => fresh.has(m.originalId));
    // The copies keep the primary's project= tag: under this host's own project name they would be taken as its own.
    const sameName = result.primary.filter((s) => s.tags.includes('berth') && s.tags.includes(`project=${project.name}`)).length;
    if (sameName) deps.report.warn(`${sameName} of the primary's snapshots are of project ${project.name}, this host's own project name: its own backup run, prune, verify and restore refuse while the replica holds them; give this host's project a name of its own (\`name:\` in berth.yaml, e.g. ${project.name}-offsite)`);
    const retention = cfg.retention ? await retrying(() => onSide('replica', () => keepRetention(deps, project.name, repos.to, cfg, result.replica, removed, opts.signal))).catch(duringRetention) : undefined;
    const checked = opts.check ? await checkReplica(deps, repos.to, opts) : undefined;
    return finishOk(deps, project, cfg, { runId, attempts, started, result, copied, retention, checked });
  } catch (err) {
    throw finishFailed(deps, project, cfg, runId, { attempts, stepAttempts }, err);
  }
}

function duringRetention(err: unknown): never {
  if (err instanceof ResticFailure) err.during = 'retention';
  throw err;
}

/** This host's retention; each group's removals are marked at once, so a later failure cannot lose them. */
function keepRetention(deps: PullDeps, project: string, to: RepoRef, cfg: ReplicateConfig, replica: readonly Snapshot[], removed: RemovedCopy[], signal?: AbortSignal): Promise<ReplicaRetentionResult> {
  const retentionDeps = {
    restic: deps.restic,
    report: deps.report,
    onRemoved: (copies: readonly SnapshotMapping[]) => deps.runs.markForgotten(project, copies),
    pruneOwedSince: () => deps.runs.pruneOwedSince(project),
    onPruned: () => deps.runs.markPruned(project),
  };
  return applyReplicaRetention(retentionDeps, to, cfg.retention!, replica, removed, signal);
}

/**
 * This host's repository missing where earlier pulls stored snapshots is most often its disk not
 * being mounted: a new repository there would fill the disk beneath and leave the real copy
 * behind. Only `--init` says a new one is wanted.
 */
function refuseToRecreate(deps: PullDeps, project: Project, cfg: ReplicateConfig, init: boolean | undefined): void {
  const last = deps.runs.lastSucceeded(project.name);
  if (init || !last || last.target !== cfg.to || !last.replicaCount) return;
  const failure = new ResticFailure('no-repository', `it is missing, but ${last.replicaCount} snapshot(s) were there after the pull of ${formatUtcMinute(last.startedAt)}: is its disk mounted? \`berth replicate pull --init\` creates a new, empty one`, '');
  failure.side = 'replica';
  throw failure;
}

async function attempt(deps: PullDeps, project: string, cfg: ReplicateConfig, repos: { from: RepoRef; to: RepoRef }, beforeCreate: () => void, signal?: AbortSignal): Promise<AttemptResult> {
  const { restic, report } = deps;
  report.step(`listing snapshots of the primary ${cfg.from}`);
  const primary = await onSide('primary', () => explainSsh(repos.from, () => restic.snapshots(repos.from, { noLock: true, signal })));
  let initialized = false;
  if (!(await onSide('replica', () => restic.hasRepository(repos.to, signal)))) {
    beforeCreate();
    report.step(`creating this host's repository ${cfg.to} with the primary's chunker parameters`);
    await onSide('replica', () => restic.initFrom(repos.to, repos.from, signal));
    // Nothing was ever removed from a new repository: every snapshot of the primary is copied again.
    deps.runs.clearForgotten(project);
    initialized = true;
  }
  const before = await onSide('replica', () => restic.snapshots(repos.to, { signal }));
  const forgotten = deps.runs.forgottenOriginals(project);
  const missing = missingSnapshots(primary, before, forgotten);
  const leftOut = missingSnapshots(primary, before).length - missing.length;
  const removedHere = leftOut > 0 ? `; ${leftOut} more, removed here by this host's retention, are not copied again` : '';
  if (missing.length === 0) {
    report.done(`up to date: ${primary.length} snapshot(s) on the primary, ${primary.length - leftOut} present here${removedHere}`);
    return { initialized, primary, replica: before, leftOut };
  }
  report.step(`copying ${missing.length} snapshot(s) of ${primary.length} from the primary${removedHere}`);
  let index = 0;
  let lastPct = -1;
  await restic.copy(repos.to, repos.from, missing.map((s) => s.id), {
    ...(cfg.bandwidthLimit ? { limitDownloadKiB: Math.max(1, Math.floor(cfg.bandwidthLimit / 1024)) } : {}),
    signal,
    progress: {
      onSnapshot: (id) => {
        index++;
        lastPct = -1;
        report.step(`snapshot ${id} (${index}/${missing.length})`);
      },
      onPacks: (done, total) => {
        const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
        if (pct >= lastPct + 25 || (done === total && pct !== lastPct)) {
          lastPct = pct;
          report.info(`${done}/${total} packs copied (${pct}%)`);
        }
      },
      onSaved: (id) => report.done(`saved as ${id}`),
    },
  });
  const replica = await onSide('replica', () => restic.snapshots(repos.to, { signal }));
  const still = missingSnapshots(primary, replica, forgotten);
  if (still.length > 0) {
    throw new ResticFailure('failed', `restic copy finished but ${still.length} snapshot(s) are still missing: ${still.map((s) => s.shortId).join(', ')}`, '');
  }
  return { initialized, primary, replica, leftOut };
}

/**
 * Primary snapshots with no copy here, less those whose copies this host's retention removed
 * (`forgotten`: original ids). A copy names its source in `original`.
 */
export function missingSnapshots(primary: readonly Snapshot[], replica: readonly Snapshot[], forgotten: ReadonlySet<string> = new Set()): Snapshot[] {
  const have = new Set(replica.map((s) => s.original ?? s.id));
  const absent = (id: string | undefined): boolean => id === undefined || (!have.has(id) && !forgotten.has(id));
  return primary.filter((p) => absent(p.original) && absent(p.id)).sort((a, b) => a.timeMs - b.timeMs);
}

/** original id → copy, for every primary snapshot present here. */
export function mapCopies(primary: readonly Snapshot[], replica: readonly Snapshot[]): SnapshotMapping[] {
  const byOriginal = new Map(replica.map((s) => [s.original ?? s.id, s]));
  const out: SnapshotMapping[] = [];
  for (const p of primary) {
    const copy = byOriginal.get(p.original ?? p.id) ?? byOriginal.get(p.id);
    if (copy) out.push({ originalId: p.id, copyId: copy.id, timeMs: p.timeMs, tags: p.tags });
  }
  return out;
}

/** When restic could not reach the primary, ask ssh why: a refused login must not be retried as a dead link. */
async function explainSsh<T>(from: RepoRef, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof ResticFailure) || err.kind !== 'unreachable' || !from.sshArgv) throw err;
    const probe = await probeSsh(from.sshArgv);
    if (probe.ok || !probe.stderr.trim()) throw err;
    const kind = classify(probe.stderr);
    throw new ResticFailure(kind === 'failed' ? 'unreachable' : kind, `ssh to the primary failed: ${sshReason(probe.stderr)}`, probe.stderr);
  }
}

/** Tags the failure with the repository it concerns, so messages say which password or host is wrong. */
async function onSide<T>(side: 'primary' | 'replica', fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ResticFailure) err.side ??= side;
    throw err;
  }
}

async function checkReplica(deps: PullDeps, to: RepoRef, opts: PullOptions): Promise<{ ok: boolean }> {
  deps.report.step(`checking this host's repository${opts.readData ? ' (reading all data)' : ''}`);
  const r = await deps.restic.check(to, { readData: opts.readData ?? false, ...(opts.signal ? { signal: opts.signal } : {}) });
  if (r.ok) deps.report.done('restic check: no errors');
  else deps.report.warn(`restic check found problems:\n${r.output.trim()}`);
  return { ok: r.ok };
}

interface Finished {
  readonly runId: string;
  readonly attempts: number;
  readonly started: number;
  readonly result: AttemptResult;
  /** The copies this pull made (first recorded by it). */
  readonly copied: readonly SnapshotMapping[];
  readonly retention: ReplicaRetentionResult | undefined;
  readonly checked: { ok: boolean } | undefined;
}

function finishOk(deps: PullDeps, project: Project, cfg: ReplicateConfig, f: Finished): PullResult {
  const { primary } = f.result;
  const copied = f.copied.map((m) => ({ originalId: m.originalId, copyId: m.copyId, time: new Date(m.timeMs).toISOString(), tags: m.tags }));
  const gone = new Set(f.retention?.removed.map((r) => r.snapshot));
  const replica = f.result.replica.filter((s) => !gone.has(s.shortId));
  const mappings = mapCopies(primary, replica);
  const primaryNewest = newest(primary);
  const replicaNewest = newest(replica.filter((s) => mappings.some((m) => m.copyId === s.id)));
  deps.runs.finish(f.runId, {
    status: f.checked && !f.checked.ok ? 'failed' : 'succeeded',
    attempts: f.attempts,
    copied: copied.length,
    primaryCount: primary.length,
    replicaCount: mappings.length,
    leftOut: f.result.leftOut,
    ...(primaryNewest === undefined ? {} : { primaryNewestAt: primaryNewest }),
    ...(replicaNewest === undefined ? {} : { replicaNewestAt: replicaNewest }),
    ...(f.checked ? { checkOk: f.checked.ok } : {}),
    ...(f.checked && !f.checked.ok ? { errorKind: 'check', error: 'restic check found problems in the replica' } : {}),
  });
  const result: PullResult = {
    runId: f.runId,
    from: cfg.from,
    to: cfg.to,
    attempts: f.attempts,
    initialized: f.result.initialized,
    primarySnapshots: primary.length,
    replicaSnapshots: mappings.length,
    copied,
    ...(primaryNewest === undefined ? {} : { primaryNewest: new Date(primaryNewest).toISOString() }),
    ...(replicaNewest === undefined ? {} : { replicaNewest: new Date(replicaNewest).toISOString() }),
    ...(f.checked ? { check: f.checked } : {}),
    leftOut: f.result.leftOut,
    ...(f.retention ? { retention: f.retention } : {}),
    durationMs: deps.clock() - f.started,
  };
  deps.audit.append({
    user: deps.user,
    action: 'replicate.pull',
    project: project.name,
    target: cfg.from,
    outcome: f.checked && !f.checked.ok ? 'failed' : 'succeeded',
    details: {
      runId: f.runId,
      to: cfg.to,
      attempts: f.attempts,
      copied: copied.map((c) => ({ original: c.originalId, copy: c.copyId })),
      ...(f.retention ? { removedHere: f.retention.removed.map((r) => ({ original: r.original, copy: r.snapshot })) } : {}),
      ...(f.checked ? { checkOk: f.checked.ok } : {}),
    },
  });
  if (f.checked && !f.checked.ok) {
    throw new BerthError('REPLICATION', `the replica ${cfg.to} failed restic check after the pull`, 'run `restic check` on it to see the damage; earlier snapshots may need to be copied again');
  }
  return result;
}

function finishFailed(deps: PullDeps, project: Project, cfg: ReplicateConfig, runId: string, { attempts, stepAttempts }: { attempts: number; stepAttempts: number }, err: unknown): Error {
  // A failed check already finished the run and wrote its audit record.
  if (err instanceof BerthError) return err;
  const f = err instanceof ResticFailure ? err : undefined;
  const side = f?.side;
  const message = failureMessage(cfg, f, side, stepAttempts, err);
  deps.runs.finish(runId, { status: 'failed', attempts, copied: 0, errorKind: f?.kind ?? 'internal', error: message });
  deps.audit.append({
    user: deps.user,
    action: 'replicate.pull',
    project: project.name,
    target: cfg.from,
    outcome: 'failed',
    details: { runId, to: cfg.to, attempts, errorKind: f?.kind ?? 'internal', error: message },
  });
  return new BerthError('REPLICATION', message, failureHint(cfg, f, side), { cause: err });
}

function newest(snaps: readonly Snapshot[]): number | undefined {
  return snaps.length === 0 ? undefined : Math.max(...snaps.map((s) => s.timeMs));
}
