/**
 * `berth backup verify`: `restic check --read-data-subset`, then a restore drill of the newest
 * snapshot of every source (or of one snapshot): each dump is loaded into a throwaway place and
 * compared with what was recorded at dump time. Results and restore times are recorded.
 */
import { formatBytes } from '../lib/bytes.js';
import { BerthError } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { formatMs } from '../lib/time.js';
import { effectiveSources } from '../project/backup-schema.js';
import { lockWaitOf, requireBackup, selectSources, sourceContext, type BackupContext } from './context.js';
import { waitingForLock } from './lock-wait.js';
import { ownSnapshots } from './replica-name.js';
import { restoring, startProgress } from './progress.js';
import { consumeDump, startDump, type Restic, type Snapshot } from './restic.js';
import { sourceDrivers } from './sources/index.js';
import type { BackupStore } from '../store/backups.js';

export interface DrillResult {
  readonly source: string;
  readonly snapshot: string;
  readonly ok: boolean;
  readonly restoreMs: number;
  readonly bytes: number;
  readonly summary: string;
  readonly mismatches: readonly string[];
  readonly error?: string;
  /** This host has no facts of the snapshot (made elsewhere, or before this state folder): nothing to compare with. */
  readonly unrecorded?: boolean;
}

export interface VerifyOutcome {
  readonly verifyId: string;
  /** The repository checked and drilled: backup.repository, or the one `--repository` named. */
  readonly repository: string;
  readonly ok: boolean;
  readonly check: { readonly ok: boolean; readonly subset: string; readonly damagedPacks: readonly string[]; readonly output: string };
  readonly drills: readonly DrillResult[];
}

export interface VerifyOptions {
  readonly snapshot?: string;
  readonly sources?: readonly string[];
  /** restic's --read-data-subset, e.g. "10%" or "1/5"; default 10%. */
  readonly readDataSubset?: string;
}

/**
 * What was recorded at dump time of `snap`: by its own id, or for a copy (a replica's, or a
 * repository restored from one) by the id of the snapshot it was copied from, which is the one the
 * records (carried by a config snapshot) name.
 */
export function recordedFacts(backups: Pick<BackupStore, 'resultBySnapshot'>, snap: Pick<Snapshot, 'short_id' | 'original'>): Record<string, unknown> | undefined {
  const result = backups.resultBySnapshot(snap.short_id) ?? (snap.original ? backups.resultBySnapshot(snap.original) : undefined);
  return result?.facts as Record<string, unknown> | undefined;
}

/** When restic took `s`, ms since the epoch: by the moment, not the text (restic writes the local offset, which DST changes). */
export const takenAt = (s: Snapshot): number => Date.parse(s.time);

/** Taken strictly before `before` (ms since the epoch); any snapshot when it is undefined. */
export const takenBefore = (s: Snapshot, before: number | undefined): boolean => before === undefined || takenAt(s) < before;

export function tagValue(s: Snapshot, key: string): string | undefined {
  return s.tags?.find((t) => t.startsWith(`${key}=`))?.slice(key.length + 1);
}

/** The source a snapshot is of: a regular one's `source=`, a safety snapshot's `safety-of=`. */
export function snapshotSource(s: Snapshot): string | undefined {
  return tagValue(s, 'source') ?? tagValue(s, 'safety-of');
}

/** The one snapshot of the project whose id starts with `id`; a clear error for none, several, or another source's. */
export function pickSnapshot(all: readonly Snapshot[], id: string, sources: readonly string[] | undefined, project: string, repository: string): Snapshot {
  const found = all.filter((s) => s.id.startsWith(id) || s.short_id === id);
  if (found.length > 1) {
    throw new BerthError('CONFIG', `${found.length} snapshots of project ${project} start with ${id} (${found.slice(0, 5).map((s) => s.short_id).join(', ')}${found.length > 5 ? ', …' : ''})`, 'give more of the snapshot id');
  }
  const [snap] = found;
  if (!snap) throw new BerthError('NOT_FOUND', `no snapshot ${id} of project ${project} in ${repository}`, 'list them with `berth backup list --snapshots`');
  const of = snapshotSource(snap);
  if (sources?.length && !sources.includes(of ?? '')) {
    throw new BerthError('CONFIG', `snapshot ${snap.short_id} is of source ${of}, not ${sources.join(', ')}`, `drop --source, or give a snapshot of ${sources.join(', ')} (\`berth backup list --snapshots\`)`);
  }
  return snap;
}

/**
 * Newest non-safety snapshot per source of this project (taken before `before`, ms since the
 * epoch, when given), or the one snapshot asked for; `listed` is the project's snapshots when already listed.
 */
export async function snapshotsToUse(ctx: BackupContext, restic: Restic, opts: { snapshot?: string; sources?: readonly string[]; before?: number }, listed?: readonly Snapshot[]): Promise<Snapshot[]> {
  const all = listed ?? (await ownSnapshots(ctx.project, restic));
  if (opts.snapshot && opts.snapshot !== 'latest') return [pickSnapshot(all, opts.snapshot, opts.sources, ctx.project.name, restic.repository)];
  const newest = new Map<string, Snapshot>();
  for (const s of all) {
    const src = tagValue(s, 'source');
    if (!src || s.tags?.includes('kind=safety')) continue;
    if (opts.sources?.length && !opts.sources.includes(src)) continue;
    if (!takenBefore(s, opts.before)) continue;
    const cur = newest.get(src);
    if (!cur || takenAt(s) > takenAt(cur)) newest.set(src, s);
  }
  return [...newest.values()].sort((a, b) => (tagValue(a, 'source')! < tagValue(b, 'source')! ? -1 : 1));
}

export async function verifyBackups(ctx: BackupContext, opts: VerifyOptions = {}): Promise<VerifyOutcome> {
  const cfg = requireBackup(ctx.project);
  if (opts.sources?.length) selectSources(ctx, opts.sources); // unknown names fail here, not as "nothing to drill"
  const restic = ctx.restic();
  // A snapshot id given is resolved first: a typo fails before the check, and is not recorded as a failed verify.
  const given = opts.snapshot && opts.snapshot !== 'latest' ? await snapshotsToUse(ctx, restic, opts) : undefined;
  // On a backup host, copies of the primary under this project's name are refused before the check too;
  // that listing is the one drilled from, so the repository is not listed twice.
  const listed = !given && ctx.project.replicate ? await ownSnapshots(ctx.project, restic) : undefined;
  const verifyId = newId(ctx.clock);
  // Another repository's verify (the replica's) is kept apart: it does not stand for backup.repository's.
  const other = restic.repository !== cfg.repository ? restic.repository : undefined;
  ctx.backups.startVerify({ id: verifyId, project: ctx.project.name, ...(other && { otherRepository: other }) });
  const subset = opts.readDataSubset ?? '10%';
  try {
    ctx.report.step(`restic check --read-data-subset=${subset} on ${restic.repository}`);
    const c = await waitingForLock('restic check', lockWaitOf(ctx), () => restic.check(subset));
    const damagedPacks = [...new Set([...c.output.matchAll(/(?:\bpack\s+|does not match, want\s+)([0-9a-f]{8,64})/gi)].map((m) => m[1]!))];
    c.ok ? ctx.report.done('repository structure and the read data are intact') : ctx.report.warn(`restic check found damage${damagedPacks.length ? ` in pack(s) ${damagedPacks.join(', ')}` : ''}`);
    const drills: DrillResult[] = [];
    for (const snap of given ?? (await snapshotsToUse(ctx, restic, opts, listed))) drills.push(await drill(ctx, restic, snap, verifyId));
    // Nothing drilled is not a pass: a verify must have restored something.
    if (drills.length === 0) ctx.report.warn(`no snapshot of ${opts.sources?.join(', ') ?? `project ${ctx.project.name}`} to drill; run \`berth backup run\` first`);
    const ok = c.ok && drills.length > 0 && drills.every((d) => d.ok);
    const output = c.output.length > 20_000 ? `${c.output.slice(0, 20_000)}…` : c.output;
    ctx.backups.finishVerify(verifyId, { status: ok ? 'passed' : 'failed', checkOk: c.ok, checkOutput: output });
    ctx.audit.append({ user: ctx.user, action: 'backup.verify', project: ctx.project.name, target: drills.map((d) => d.source).join(',') || '*', outcome: ok ? 'succeeded' : 'failed', details: { verify: verifyId, repository: restic.repository, check: c.ok, drills: drills.map((d) => `${d.source}:${d.ok ? 'passed' : 'failed'}`).join(' ') } });
    return { verifyId, repository: restic.repository, ok, check: { ok: c.ok, subset, damagedPacks, output }, drills };
  } catch (err) {
    ctx.backups.finishVerify(verifyId, { status: 'failed', error: (err as Error).message });
    throw err;
  }
}

async function drill(ctx: BackupContext, restic: Restic, snap: Snapshot, verifyId: string): Promise<DrillResult> {
  const sourceName = snapshotSource(snap) ?? '?';
  const source = effectiveSources(requireBackup(ctx.project)).find((s) => s.name === sourceName);
  const file = snap.paths?.[0] ?? '';
  const t0 = ctx.clock();
  ctx.report.step(`${sourceName}: restore drill of snapshot ${snap.short_id} (${file})`);
  let result: DrillResult;
  let bytes = 0;
  const stopProgress = startProgress(ctx.report, ctx.clock, sourceName, restoring, () => bytes);
  try {
    if (!source) throw new BerthError('CONFIG', `source ${sourceName} is no longer in berth.yaml; cannot drill its snapshot`);
    const facts = recordedFacts(ctx.backups, snap);
    const driver = sourceDrivers[source.type];
    let outcome;
    if (driver.direct?.owns(snap)) {
      // Into a new scratch folder each time: an attempt restic refused left nothing behind.
      outcome = await waitingForLock(`${sourceName}: restore drill`, lockWaitOf(ctx), () => driver.direct!.drill(sourceContext(ctx, source), restic, snap, facts));
      bytes = outcome.bytes;
    } else {
      const dump = await waitingForLock(`${sourceName}: restore drill`, lockWaitOf(ctx), () => startDump(restic, snap.id, file));
      dump.stdout.on('data', (d: Buffer) => (bytes += d.length));
      // A 'data' listener alone starts the flow: paused, nothing is lost before the consumer pipes it (pipe resumes).
      dump.stdout.pause();
      outcome = await consumeDump(dump, (input) => driver.drill(sourceContext(ctx, source), input, facts));
    }
    result = { source: sourceName, snapshot: snap.short_id, ok: outcome.ok, restoreMs: ctx.clock() - t0, bytes, summary: outcome.summary, mismatches: outcome.mismatches };
    if (facts === undefined) {
      // It restored, but against nothing: a truncated dump would restore too. Not a pass; say why.
      const why = `no facts were recorded on this host for snapshot ${snap.short_id} (made by another host, or before this state folder existed), so what was restored cannot be compared; \`berth backup run\` makes a snapshot this host can verify`;
      result = { ...result, ok: false, summary: `${outcome.summary.split(',')[0]} restored, nothing recorded to compare with`, mismatches: [why], unrecorded: true };
    }
  } catch (err) {
    result = { source: sourceName, snapshot: snap.short_id, ok: false, restoreMs: ctx.clock() - t0, bytes, summary: 'drill failed', mismatches: [], error: (err as Error).message };
  } finally {
    stopProgress();
  }
  ctx.backups.addDrill({ verifyId, source: sourceName, snapshotId: snap.short_id, status: result.ok ? 'passed' : 'failed', restoreMs: result.restoreMs, bytes, details: { summary: result.summary, mismatches: result.mismatches }, ...(result.error && { error: result.error }) });
  const line = `${sourceName}: ${result.summary}; ${formatBytes(bytes)} restored in ${formatMs(result.restoreMs)}`;
  if (result.ok) ctx.report.done(line);
  else ctx.report.warn(`${line} — FAILED: ${result.error ?? result.mismatches.slice(0, 5).join('; ')}`);
  return result;
}
