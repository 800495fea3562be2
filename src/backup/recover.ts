/**
 * `berth restore --all`: rebuild a project on a fresh host from the repository alone.
 * Runbook: config (bootstrapped from the repository when the folder is empty) → the old host's
 * audit trail and newest backup records it carries, taken up before anything is recorded here
 * (`audit/copy.ts`, `records-copy.ts`) → volumes, and
 * side by side the databases on the host → `berth up` → databases in service containers (their
 * writers stopped meanwhile) → timing and throughput. A database in a service container needs
 * that container, so it comes after `up`; one on the host is back before its clients start.
 */
import path from 'node:path';
import { upProject } from '../deploy/operations.js';
import { volumeSpec } from '../engine/specs/volume.js';
import { BerthError } from '../lib/errors.js';
import { makeDirs } from '../lib/files.js';
import { silentReporter, type Reporter } from '../lib/reporter.js';
import { formatMs, systemClock } from '../lib/time.js';
import { extractConfig, missingProjectFiles, takeUpCopies } from './sources/config.js';
import type { CarryingSnapshot } from './records-copy.js';
import type { ReplicateSsh } from '../project/replicate-schema.js';
import { backupDefaults, configSourceName } from '../project/backup-schema.js';
import { openRestic, type BackupContext } from './context.js';
import { consumeDump, startDump } from './restic.js';
import { waitingForLock, type LockWait } from './lock-wait.js';
import { planRestore, restorePlanned, restoreSideBySide, type RestoredSource } from './restore.js';
import { tagValue, takenAt, takenBefore } from './verify.js';

export interface RecoverOptions {
  /** Each source's newest snapshot: taken before this moment (ms since the epoch) when given. */
  readonly before?: number;
  readonly repository?: string;
  readonly passwordFile?: string;
  /** How to reach an sftp `repository` (the fresh host has no berth.yaml to say so yet). */
  readonly ssh?: ReplicateSsh;
  readonly project?: string;
  /** Where the bootstrap's lock wait is said (before the project, and so its reporter, exists). */
  readonly report?: Reporter;
}

export interface RecoverOutcome {
  readonly project: string;
  readonly sources: readonly RestoredSource[];
  /** Sources left to a separate `berth restore --source NAME` (a host redis: restoring flushes the whole server). */
  readonly skipped: readonly string[];
  readonly bytes: number;
  readonly totalMs: number;
  readonly upMs: number;
  readonly bytesPerSecond: number;
  /** Hours 500 GB would take at the measured rate (spec: RTO 4 h). */
  readonly projected500GbHours: number;
}

export interface Opened {
  readonly ctx: BackupContext;
  close(): void;
}

const databaseTypes = ['mariadb', 'mysql', 'postgres', 'redis'];
const notReady = /connect|socket|starting|not running|no running container|shutdown in progress|the database system is/i;

/**
 * `open` loads the project (it throws while the folder has no compose file); `dir` is the
 * project folder, where the config is put when the project cannot be loaded yet.
 */
export async function recoverAll(open: () => Promise<Opened>, dir: string, opts: RecoverOptions): Promise<RecoverOutcome> {
  const t0 = Date.now();
  const sources: RestoredSource[] = [];
  const newest = { snapshot: 'latest', ...(opts.before !== undefined && { before: opts.before }) };
  const bootstrap = await bootstrapConfig(open, dir, opts);
  const bootstrapBytes = bootstrap?.bytes;
  let opened = await openRestored(open);
  try {
    const { ctx } = opened;
    if (bootstrap) {
      sameProject(ctx.project.name, bootstrap.project, dir);
      // Before anything is recorded here: the old host's audit trail, and its newest backup records, from the config snapshot.
      takeUpCopies(ctx, configSourceName, bootstrap.snapshot);
    } else {
      const plan = await planRestore(ctx, { ...newest, sources: [configSourceName] }).catch((err: unknown) => otherProjects(ctx, dir, err));
      sources.push(...(await restorePlanned(ctx, plan, { ...newest, noSafety: true })));
      opened.close();
      opened = await openRestored(open); // the restored config may differ from what was loaded
    }
  } catch (err) {
    opened.close();
    throw err;
  }
  try {
    const { ctx } = opened;
    const missing = missingProjectFiles(ctx.project);
    if (missing.length > 0) {
      throw new BerthError(
        'CONFIG',
        `the project mounts ${missing.length} file(s) or folder(s) from its folder that the config snapshot does not hold: ${missing.join(', ')}`,
        `put them back in ${ctx.project.dir} (files holding secrets are in the snapshot only if the config source had \`include_env: true\`), then run \`berth restore --all\` again; the config restored so far stays`,
      );
    }
    for (const v of Object.values(ctx.project.volumes)) {
      if (!v.external) await ctx.engine.ensureVolume(volumeSpec(ctx.project.name, v));
    }
    // One look at the repository's snapshots for volumes and databases (each look costs restic a key derivation).
    const plan = await planRestore(ctx, { ...newest, types: ['volume', ...databaseTypes] });
    const volumes = plan.filter((p) => p.source.type === 'volume');
    const databases = plan.filter((p) => p.source.type !== 'volume');
    // A database on the host needs nothing of `up`: it is restored alongside the volumes, before its clients start.
    const onHost = databases.filter((p) => !p.source.service);
    const inContainers = databases.filter((p) => p.source.service);
    const restoreOpts = { ...newest, noSafety: true };
    sources.push(...(await restoreSideBySide(ctx, [{ plan: volumes }, { plan: onHost, attempt: (restore) => untilReady(ctx, restore) }], restoreOpts)));
    const tUp = Date.now();
    ctx.report.step('berth up');
    await upProject(ctx, { wait: true });
    const upMs = Date.now() - tUp;
    const skipped = Object.values(ctx.project.backup?.sources ?? {}).filter((s) => s.type === 'redis' && !s.service).map((s) => s.name);
    for (const item of inContainers) {
      sources.push(await untilReady(ctx, () => restorePlanned(ctx, [item], restoreOpts).then((r) => r[0]!)));
    }
    const totalMs = Date.now() - t0;
    const bytes = sources.reduce((n, s) => n + s.bytes, bootstrapBytes ?? 0);
    const bytesPerSecond = bytes / Math.max(totalMs / 1000, 0.001);
    const outcome = { project: ctx.project.name, sources, skipped, bytes, totalMs, upMs, bytesPerSecond, projected500GbHours: 500e9 / Math.max(bytesPerSecond, 1) / 3600 };
    ctx.audit.append({ user: ctx.user, action: 'backup.recover', project: ctx.project.name, target: '*', outcome: 'succeeded', details: { sources: sources.map((s) => `${s.source}@${s.snapshot}`).join(' '), bytes, totalMs } });
    ctx.report.done(`project ${ctx.project.name} rebuilt in ${formatMs(totalMs)}`);
    return outcome;
  } finally {
    opened.close();
  }
}

/**
 * Opens the restored project. An `env_file` the config snapshot does not hold makes the loader
 * fail: say why it is missing and what to do.
 */
async function openRestored(open: () => Promise<Opened>): Promise<Opened> {
  try {
    return await open();
  } catch (err) {
    if (err instanceof BerthError && err.code === 'CONFIG' && /env file .* not found/.test(err.message)) {
      throw new BerthError('CONFIG', err.message, 'env files are in the config snapshot only if the config source had `include_env: true`: put it back in the project folder, then run `berth restore --all` again; the config restored so far stays', { cause: err });
    }
    throw err;
  }
}

/**
 * A compose file without `name:` names the project after its folder: restored into a folder of
 * another name, it would be another project, whose backups the repository does not hold.
 */
function sameProject(loaded: string, backedUp: string, dir: string): void {
  if (loaded === backedUp) return;
  throw new BerthError(
    'CONFIG',
    `the config was restored into ${dir}, but there the project is named "${loaded}", while its backups are of "${backedUp}" (a compose file without \`name:\` is named after its folder)`,
    `rename the folder to ${backedUp} (or add \`name: ${backedUp}\` to compose.yaml), then run \`berth restore --all\` in it again`,
  );
}

/** When this project has no config snapshot: is that because the repository holds another project's? */
async function otherProjects(ctx: BackupContext, dir: string, err: unknown): Promise<never> {
  if (!(err instanceof BerthError) || err.code !== 'NOT_FOUND') throw err;
  const names = [...new Set((await ctx.restic().snapshots(['berth', `source=${configSourceName}`])).map((s) => tagValue(s, 'project')).filter((n): n is string => !!n))];
  if (names.length === 0 || names.includes(ctx.project.name)) throw err;
  if (names.length === 1) sameProject(ctx.project.name, names[0]!, dir);
  throw new BerthError('NOT_FOUND', `the repository holds no backup of project "${ctx.project.name}" (named after ${dir}); it holds ${names.join(', ')}`, 'run `berth restore --all` in a folder named after the project to restore (or add its `name:` to compose.yaml)', { cause: err });
}

/** A database service just started by `up` may need a while before it accepts connections. */
async function untilReady<T>(ctx: BackupContext, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof BerthError) || !notReady.test(err.message) || Date.now() > deadline) throw err;
      ctx.report.info(`waiting for the database to accept connections (${err.message.split('\n')[0]})`);
      await ctx.sleep(2000);
    }
  }
}

/** When the folder holds no project yet: the newest config snapshot, from --repository. Returns its size and project, or undefined if not needed. */
async function bootstrapConfig(open: () => Promise<Opened>, dir: string, opts: RecoverOptions): Promise<{ bytes: number; project: string; snapshot: CarryingSnapshot } | undefined> {
  try {
    (await open()).close();
    return undefined;
  } catch (err) {
    if (!(err instanceof BerthError && err.code === 'CONFIG' && /no compose file/.test(err.message))) throw err;
    if (!opts.repository || !opts.passwordFile) {
      throw new BerthError('CONFIG', `${dir} holds no project yet`, 'on a fresh host pass --repository REPO --password-file FILE (and --project NAME if the repository holds several)');
    }
  }
  const restic = openRestic(opts.repository, { file: opts.passwordFile }, opts.ssh ?? {});
  // No berth.yaml yet, so no backup.lock_wait: its default.
  const wait: LockWait = { maxMs: backupDefaults.lockWaitMs, clock: systemClock, report: opts.report ?? silentReporter, unlockStale: () => restic.unlockStale(), locksNow: () => restic.locksNow(), remoteLocks: !restic.local };
  const snaps = (await waitingForLock('config', wait, () => restic.snapshots(['berth', `source=${configSourceName}`, ...(opts.project ? [`project=${opts.project}`] : [])]))).filter((s) => takenBefore(s, opts.before));
  const projects = [...new Set(snaps.map((s) => tagValue(s, 'project')))];
  if (projects.length !== 1) {
    const before = opts.before === undefined ? '' : ` before ${new Date(opts.before).toISOString()}`;
    throw new BerthError('NOT_FOUND', projects.length ? `the repository holds several projects: ${projects.join(', ')}` : `no config snapshot${before} in ${opts.repository}`, projects.length ? 'pass --project NAME' : before ? 'give a later --before (`restic snapshots --tag source=config` lists them)' : 'was `berth backup run` ever run with this repository?');
  }
  const newest = snaps.reduce((a, b) => (takenAt(b) > takenAt(a) ? b : a));
  makeDirs(dir);
  const dump = await waitingForLock('config', wait, () => startDump(restic, newest.id, newest.paths?.[0] ?? ''));
  const { bytes, manifest } = await consumeDump(dump, (input) => extractConfig(input, dir, 'config'));
  return { bytes, project: projects[0]!, snapshot: { id: newest.id, time: takenAt(newest), bytes, manifest } };
}
