/** Everything a backup operation needs, injected (STYLE.md habit 9): the deploy context plus the backup store and restic. */
import os from 'node:os';
import type { DeployContext } from '../deploy/context.js';
import { openDeployContext } from '../deploy/wire.js';
import type { Store } from '../store/db.js';
import { BerthError } from '../lib/errors.js';
import type { Reporter } from '../lib/reporter.js';
import { effectiveSources, type BackupConfig, type BackupSource, type RepositoryPassword } from '../project/backup-schema.js';
import type { Project } from '../project/model.js';
import { createBackupStore, type BackupStore } from '../store/backups.js';
import { createPartlyRestoredStore, type PartlyRestoredStore } from '../store/partly-restored.js';
import { sftpCommand, sshArgv } from '../replicate/restic.js';
import type { ReplicateSsh } from '../project/replicate-schema.js';
import type { LockWait } from './lock-wait.js';
import { createRestic, type Restic } from './restic.js';
import { explainSftpFailures } from './sftp.js';
import type { SourceContext } from './sources/types.js';

export interface BackupContext extends DeployContext {
  readonly backups: BackupStore;
  /** Sources a failed restore left partly restored: not backed up until restored or accepted. */
  readonly partlyRestored: PartlyRestoredStore;
  /** Made on first use: commands such as `backup schedule` need no repository password. */
  restic(): Restic;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly pid: number;
  readonly host: string;
  /** Set in the agent: aborted when it stops (a wait for restic's lock ends then). */
  readonly signal?: AbortSignal;
}

export interface RepositoryOverride {
  /** Use this repository instead of backup.repository (e.g. a replica on a fresh host). */
  readonly repository?: string;
  readonly passwordFile?: string;
  /** How to reach an sftp `repository` from this host, instead of berth.yaml's `backup.ssh`. */
  readonly ssh?: ReplicateSsh;
}

export function createBackupContext(
  base: DeployContext & { readonly store: Store },
  override: RepositoryOverride = {},
  env: Readonly<Record<string, string | undefined>> = process.env,
  signal?: AbortSignal,
): BackupContext {
  let restic: Restic | undefined;
  return {
    ...base,
    backups: createBackupStore(base.store.db, base.clock),
    partlyRestored: createPartlyRestoredStore(base.store.db),
    restic() {
      const cfg = requireBackup(base.project);
      const password = override.passwordFile ? { file: override.passwordFile } : cfg.password;
      const repository = override.repository ?? cfg.repository;
      restic ??= openRestic(repository, password, override.ssh ?? cfg.ssh, env);
      return restic;
    },
    env,
    pid: process.pid,
    host: os.hostname(),
    ...(signal && { signal }),
  };
}

/** restic on `repository`; for an sftp one, through ssh with these options (failures explained by ssh itself). */
export function openRestic(repository: string, password: RepositoryPassword, ssh: ReplicateSsh, env: Readonly<Record<string, string | undefined>> = process.env): Restic {
  const command = sftpCommand(repository, ssh);
  const argv = sshArgv(repository, ssh);
  return explainSftpFailures(createRestic({ repository, password, env, ...(command && argv && { sftpCommand: command, sshArgv: argv }) }), argv);
}

/** For the agent: the same wiring as the CLI's context, for one project. */
export function openBackupContext(project: Project, report: Reporter, signal?: AbortSignal): { ctx: BackupContext; close(): void } {
  const base = openDeployContext(project, report);
  return { ctx: createBackupContext(base, {}, process.env, signal), close: () => base.close() };
}

/** How this context waits for another restic's lock (backup.lock_wait). */
export function lockWaitOf(ctx: BackupContext): LockWait {
  return {
    maxMs: requireBackup(ctx.project).lockWaitMs,
    clock: ctx.clock,
    report: ctx.report,
    ...(ctx.signal && { signal: ctx.signal }),
    unlockStale: () => ctx.restic().unlockStale(),
    locksNow: () => ctx.restic().locksNow(),
    remoteLocks: !ctx.restic().local,
  };
}

export function requireBackup(project: Project): BackupConfig {
  if (!project.backup) {
    throw new BerthError('CONFIG', `project ${project.name} has no \`backup:\` section in berth.yaml`, 'add one, e.g.\n  backup:\n    repository: /srv/backups/repo\n    password_file: .berth/backup.pass\n    sources: { db: { type: mariadb, service: db, database: app } }');
  }
  return project.backup;
}

export function selectSources(ctx: BackupContext, names: readonly string[] | undefined): BackupSource[] {
  const all = effectiveSources(requireBackup(ctx.project));
  if (!names?.length) return all;
  // `-s db -s db` names one source: each source is one snapshot (and one result row) per run.
  return [...new Set(names)].map((n) => {
    const s = all.find((x) => x.name === n);
    if (!s) throw new BerthError('NOT_FOUND', `unknown backup source "${n}"`, `sources of ${ctx.project.name}: ${all.map((x) => x.name).join(', ')}`);
    return s;
  });
}

export function sourceContext(ctx: BackupContext, source: BackupSource, runId?: string): SourceContext {
  return { project: ctx.project, source, engine: ctx.engine, env: ctx.env, report: ctx.report, audit: ctx.audit, backups: ctx.backups, ...(runId && { runId }) };
}
