/**
 * `berth restore`: puts snapshots back. Runbook per source: safety snapshot of the current
 * state → stop the writers → restore → start the writers again → audit. Runs under the deploy
 * lock so no deploy starts or replaces the stopped services meanwhile.
 */
import { withDeployLock } from '../deploy/operations.js';
import { label } from '../engine/labels.js';
import { volumeSpec } from '../engine/specs/volume.js';
import { formatBytes } from '../lib/bytes.js';
import { BerthError } from '../lib/errors.js';
import { joinSharing, sideBySide } from '../lib/side-by-side.js';
import { formatMs } from '../lib/time.js';
import { effectiveSources, type BackupSource } from '../project/backup-schema.js';
import { lockWaitOf, requireBackup, selectSources, sourceContext, type BackupContext } from './context.js';
import { heldFor, markPartlyRestored, restoredWhole } from './held.js';
import { waitingForLock } from './lock-wait.js';
import { restoring, startProgress } from './progress.js';
import { consumeDump, startDump, type Snapshot } from './restic.js';
import { extractPaths, refusePathsOf } from './sources/path-patterns.js';
import { runBackup } from './run.js';
import { sourceDrivers } from './sources/index.js';
import { missingVolumeData } from './sources/where.js';
import { oldestFirstPerDatabase } from './sources/table-subset.js';
import { ownSnapshots } from './replica-name.js';
import { snapshotSource, snapshotsToUse, takenAt } from './verify.js';

export interface RestoreOptions {
  /** "latest" or a snapshot id. */
  readonly snapshot: string;
  /** With "latest": the newest snapshot of each source taken before this moment (ms since the epoch). */
  readonly before?: number;
  readonly sources?: readonly string[];
  readonly to?: string;
  /** With `to` and one volume source: only these paths (from the volume's root, `parseRestorePath`). */
  readonly paths?: readonly string[];
  /** Skip the safety snapshot (fresh host: there is nothing to keep). */
  readonly noSafety?: boolean;
  /** Which source types to restore when no source is named (default: all but config). */
  readonly types?: readonly string[];
}

export interface RestoredSource {
  readonly source: string;
  readonly snapshot: string;
  /** When the snapshot was taken (ISO 8601, UTC). */
  readonly snapshotTime: string;
  readonly safetySnapshot?: string;
  readonly stopped: readonly string[];
  readonly bytes: number;
  readonly ms: number;
  readonly summary: string;
}

export interface RestorePlanItem {
  readonly source: BackupSource;
  readonly snapshot: Snapshot;
}

/** What `restore latest` restores when no source is named: all but the config. */
const defaultTypes: readonly string[] = ['mariadb', 'mysql', 'postgres', 'redis', 'volume'];

/** Which snapshot of which source will be restored, resolved before anything is touched. */
export async function planRestore(ctx: BackupContext, opts: RestoreOptions): Promise<RestorePlanItem[]> {
  const cfg = requireBackup(ctx.project);
  // A name berth.yaml does not declare is a typo, not a missing snapshot: say so before asking restic.
  if (opts.sources?.length) selectSources(ctx, opts.sources);
  // In place, the rest of the volume would have to be left as it is: a different restore, not offered.
  if (opts.paths?.length && !opts.to) throw new BerthError('CONFIG', '--path restores some files beside the data, not over it: add --to DIR', 'then copy what you need back into place');
  const restic = ctx.restic();
  if (opts.before !== undefined && opts.snapshot !== 'latest') throw new BerthError('CONFIG', `--before picks each source's newest snapshot before a time; ${opts.snapshot} is one snapshot already`, 'drop --before, or the snapshot id');
  const listed = await ownSnapshots(ctx.project, restic);
  const snaps = await snapshotsToUse(ctx, restic, { snapshot: opts.snapshot, sources: opts.sources, before: opts.before }, listed);
  const all = effectiveSources(cfg);
  const plan: RestorePlanItem[] = [];
  for (const snapshot of snaps) {
    const name = snapshotSource(snapshot);
    const source = all.find((s) => s.name === name);
    if (!source) throw new BerthError('CONFIG', `snapshot ${snapshot.short_id} belongs to source "${name}", which is not in berth.yaml`, 'add the source back, or restore its files with `restic dump`');
    if (!opts.sources?.length && opts.snapshot === 'latest') {
      if (!(opts.types ?? defaultTypes).includes(source.type)) continue;
      if (source.type === 'redis' && !source.service && !opts.to) {
        // It empties the whole server (which other programs may share): only when asked for by name.
        ctx.report.warn(`${source.name}: a redis on the host is restored only when named (--source ${source.name}: the server is flushed and its keys copied back); skipped`);
        continue;
      }
    }
    plan.push({ source, snapshot });
  }
  const before = opts.before === undefined ? '' : ` before ${new Date(opts.before).toISOString()}`;
  for (const n of opts.sources ?? []) {
    if (!plan.some((p) => p.source.name === n)) throw new BerthError('NOT_FOUND', `no snapshot of source "${n}"${before} in ${restic.repository}`, 'run `berth backup list --snapshots` to see what there is');
  }
  // A source backed up only since then did not exist as it is now: said, and left as it is.
  if (opts.before !== undefined && !opts.sources?.length) {
    const picked = new Set(snaps.map(snapshotSource));
    const restorable = new Set(all.filter((x) => (opts.types ?? defaultTypes).includes(x.type)).map((x) => x.name));
    const later = new Set(listed.filter((s) => !s.tags?.includes('kind=safety')).map(snapshotSource));
    for (const n of later) if (n !== undefined && !picked.has(n) && restorable.has(n)) ctx.report.warn(`${n}: no snapshot${before} (its first is newer); left as it is`);
  }
  if (opts.to && plan.length > 1) throw new BerthError('CONFIG', '--to needs exactly one source; add --source NAME');
  for (const { source } of plan) refusePathsOf(source, opts.paths);
  return oldestFirstPerDatabase(plan);
}

export function restorePlanned(ctx: BackupContext, plan: readonly RestorePlanItem[], opts: RestoreOptions): Promise<RestoredSource[]> {
  return restoreSideBySide(ctx, [{ plan }], opts);
}

/** One lane of a restore: its items one after another, each through `attempt` (e.g. waiting for a database to accept connections). */
export interface RestoreLane {
  readonly plan: readonly RestorePlanItem[];
  readonly attempt?: (restore: () => Promise<RestoredSource>) => Promise<RestoredSource>;
}

/**
 * Restores lanes side by side under one deploy lock, each lane in order (`restore --all` on a
 * fresh host: the volumes, and the databases on the host, wait for nothing of each other). Every
 * lane runs to its end or its first failure; the first failure is then thrown.
 */
export function restoreSideBySide(ctx: BackupContext, lanes: readonly RestoreLane[], opts: RestoreOptions): Promise<RestoredSource[]> {
  // Sources with a writer in common (a service that mounts the volume and writes to the database)
  // are restored one after another: each stops and starts that service around its own restore.
  const entries = lanes.map((lane) => lane.plan.map((item) => ({ item, attempt: lane.attempt ?? ((restore: () => Promise<RestoredSource>) => restore()) })));
  const apart = joinSharing(entries, (e) => writersOf(ctx, e.item.source));
  return withDeployLock(ctx, 'berth restore', { wait: true }, () => sideBySide(apart, (e) => e.attempt(() => restoreOne(ctx, e.item, opts))));
}

/** The services stopped while `source` is restored: its driver's (those mounting a volume, depending on a database service) and its declared `writers`. */
function writersOf(ctx: BackupContext, source: BackupSource): string[] {
  return [...new Set([...sourceDrivers[source.type].writers(sourceContext(ctx, source)), ...(source.writers ?? [])])];
}

async function restoreOne(ctx: BackupContext, { source, snapshot }: RestorePlanItem, opts: RestoreOptions): Promise<RestoredSource> {
  const driver = sourceDrivers[source.type];
  const sctx = sourceContext(ctx, source);
  const t0 = ctx.clock();
  let safetySnapshot: string | undefined;
  // A volume that does not exist yet (a fresh host) has no current state to keep.
  const nothingToKeep = !opts.to && !opts.noSafety && source.type === 'volume' ? await missingVolumeData(sctx) : undefined;
  if (nothingToKeep) {
    ctx.report.info(`${source.name}: no safety snapshot (${nothingToKeep.message.replace(/^source \S+: /, '')}: nothing to keep)`);
    // A project's own volume is created as `berth up` would, with its labels (the restore would make a bare one).
    const own = source.volume !== undefined ? ctx.project.volumes[source.volume] : undefined;
    if (own && !own.external) await ctx.engine.ensureVolume(volumeSpec(ctx.project.name, own));
  } else if (!opts.to && !opts.noSafety) {
    ctx.report.step(`${source.name}: safety snapshot of the current state first`);
    const safety = await runBackup(ctx, { sources: [source.name], kind: 'safety' });
    const r = safety.results[0];
    if (!r || r.status !== 'succeeded') {
      throw new BerthError('BACKUP', `${source.name}: the safety snapshot failed (${r?.error ?? 'unknown'}); nothing was restored`, 'fix the cause, or pass --no-safety if the current data may be lost');
    }
    safetySnapshot = r.snapshotId;
  }
  const stopped = opts.to ? [] : await stopWriters(ctx, source.name, writersOf(ctx, source));
  let bytes = 0;
  let summary: string;
  const writers = [...new Set(stopped.map((s) => s.service))];
  /**
   * From here on the data is being replaced: a failure (or a killed berth) leaves it partly
   * restored. The source is marked so (not backed up until restored or accepted), and its writers
   * to stay stopped (reconcile and the agent respect it) until a restore of this source succeeds
   * or `berth up` starts them.
   */
  let began = false;
  const begin = () => {
    if (began || opts.to) return;
    began = true;
    markPartlyRestored(ctx, source.name, snapshot.short_id, writers);
  };
  let outcome: 'succeeded' | 'unchanged' | 'held' = 'unchanged';
  const stopProgress = startProgress(ctx.report, ctx.clock, source.name, restoring, () => bytes);
  try {
    ctx.report.step(`${source.name}: restoring snapshot ${snapshot.short_id}${opts.to ? ` to ${opts.to}` : ''}${stopped.length ? ` (stopped ${writers.join(', ')})` : ''}`);
    const restic = ctx.restic();
    const wait = lockWaitOf(ctx);
    const where = { ...(opts.to && { to: opts.to }), ...(opts.paths?.length && { paths: opts.paths }) };
    if (driver.direct?.owns(snapshot)) {
      // In place, the volume's files are set aside just before restic starts and put back when it
      // cannot begin: one that refused its lock is simply run again (the writers stay stopped).
      ({ summary, bytes } = await waitingForLock(source.name, wait, () => driver.direct!.restore(sctx, restic, snapshot, { ...where, onBegin: begin })));
    } else {
      // Nothing is dropped or overwritten before restic delivers its first byte.
      const dump = await waitingForLock(source.name, wait, () => startDump(restic, snapshot.id, snapshot.paths?.[0] ?? ''));
      dump.stdout.on('data', (d: Buffer) => (bytes += d.length));
      // A 'data' listener alone starts the flow: paused, nothing is lost before the consumer pipes it (pipe resumes).
      dump.stdout.pause();
      // Some paths of a tar (a volume streamed as one, the config): its members, whatever the source.
      const { to, paths } = opts;
      summary = await consumeDump(dump, (input) => (to && paths?.length ? extractPaths(input, to, source, snapshot.short_id, paths) : driver.restore(sctx, input, { ...where, onBegin: begin, snapshot })));
    }
    outcome = 'succeeded';
  } catch (err) {
    if (began && writers.length) outcome = 'held';
    ctx.audit.append({
      user: ctx.user,
      action: 'backup.restore',
      project: ctx.project.name,
      target: source.name,
      outcome: 'failed',
      details: { snapshot: snapshot.short_id, error: (err as Error).message, ...(safetySnapshot && { safety: safetySnapshot }), ...(outcome === 'held' && { heldStopped: writers }) },
    });
    throw began ? partlyRestored(err as Error, source.name, snapshot.short_id, outcome === 'held' ? writers : [], safetySnapshot) : err;
  } finally {
    stopProgress();
    // A failure that changed nothing starts again what this restore stopped; writers held by an
    // earlier failed restore of this source stay held until one succeeds.
    const start = outcome === 'held' ? [] : outcome === 'unchanged' ? stopped.filter((s) => !s.held) : stopped;
    for (const s of start) await ctx.engine.startContainer(s.id);
    for (const service of new Set(start.map((s) => s.service))) ctx.stopped.clear(ctx.project.name, service);
    // Put back in place, the source is whole again (a copy restored elsewhere changes nothing of that).
    if (outcome === 'succeeded' && !opts.to) restoredWhole(ctx, source.name);
  }
  const ms = ctx.clock() - t0;
  ctx.audit.append({ user: ctx.user, action: 'backup.restore', project: ctx.project.name, target: source.name, outcome: 'succeeded', details: { snapshot: snapshot.short_id, ...(safetySnapshot && { safety: safetySnapshot }), ...(opts.to && { to: opts.to }), ...(opts.paths?.length && { paths: opts.paths }), bytes } });
  ctx.report.done(`${source.name}: ${summary} — ${formatBytes(bytes)} in ${formatMs(ms)}${safetySnapshot ? `; safety snapshot ${safetySnapshot}` : ''}`);
  return { source: source.name, snapshot: snapshot.short_id, snapshotTime: new Date(takenAt(snapshot)).toISOString(), ...(safetySnapshot && { safetySnapshot }), stopped: writers, bytes, ms, summary };
}

/** A restore that failed part-way (its writers left stopped, if any): what happened and the ways out. */
function partlyRestored(err: Error, source: string, snapshot: string, writers: readonly string[], safety: string | undefined): BerthError {
  const code = err instanceof BerthError ? err.code : 'BACKUP';
  const them = writers.join(', ');
  const one = writers.length === 1;
  const first = err instanceof BerthError && err.hint ? `${err.hint}; then ` : '';
  return new BerthError(
    code,
    `${err.message}\n${source}: the restore had begun, so ${source} may be partly restored${writers.length ? `: ${them} ${one ? 'is' : 'are'} left stopped, so nothing writes to it` : ''}`,
    `${first}restore again (\`berth restore ${snapshot} --source ${source}\`)${safety ? `, or put back its state from before (\`berth restore ${safety} --source ${source} --no-safety\`)` : ''}` +
      (writers.length ? `; either starts ${them} again once it succeeds. \`berth up\` starts ${one ? 'it as it is' : 'them as they are'}` : ''),
    { cause: err },
  );
}

/** A writer's container stopped for this restore; `held`: already stopped, by a failed restore before. */
interface Writer {
  readonly id: string;
  readonly service: string;
  readonly held?: boolean;
}

/**
 * Stops the running containers of `services`, and takes in those a failed restore of this source
 * left stopped (started again with the others once this restore succeeds).
 */
async function stopWriters(ctx: BackupContext, source: string, services: readonly string[]): Promise<Writer[]> {
  const stopped: Writer[] = [];
  const heldServices = new Set(heldFor(ctx, source).map((r) => r.service));
  for (const service of services) {
    const held = heldServices.has(service) ? ctx.deployments.getLive(ctx.project.name, service)?.containerId : undefined;
    for (const c of await ctx.engine.listContainers({ [label.project]: ctx.project.name, [label.service]: service })) {
      if (!c.running) {
        if (c.id === held) stopped.push({ id: c.id, service, held: true });
        continue;
      }
      ctx.report.info(`stopping ${c.name} (writes to the data being restored)`);
      await ctx.engine.stopContainer(c.id, Math.ceil((ctx.project.services[service]?.stopGracePeriodMs ?? 10_000) / 1000));
      stopped.push({ id: c.id, service });
    }
  }
  return stopped;
}
