/**
 * berth.yaml `backup.replicate`: on the backup host, pull the primary's restic snapshots over
 * SSH into this host's own repository (`backup.repository`). The primary never holds a
 * credential for this copy; this host only needs read access to the primary's repository.
 */
import path from 'node:path';
import { z } from 'zod';
import { type Retention, resolveRetention, retentionSection } from './retention-schema.js';
import { bytes, count, cronSchedule, duration, leaf, port, section, SpecError, text } from './schema-kit.js';

/** Where restic finds a repository password: a file (absolute path) or an environment variable. */
export interface PasswordSource {
  readonly file?: string;
  readonly env?: string;
}

export interface ReplicateSsh {
  readonly port?: number;
  /** Absolute path of the private key this host logs in to the primary with. */
  readonly identityFile?: string;
  /** Absolute path of a known_hosts file holding the primary's host key (strict checking). */
  readonly knownHosts?: string;
}

/** The resolved `backup.replicate` section plus the local repository it copies into. */
export interface ReplicateConfig {
  /** The primary's restic repository, e.g. `sftp:berth@primary:/srv/backups/repo`. */
  readonly from: string;
  readonly fromPassword: PasswordSource;
  /** This host's repository (`backup.repository`); local paths are absolute. */
  readonly to: string;
  readonly toPassword: PasswordSource;
  readonly ssh: ReplicateSsh;
  readonly cron: string;
  /** Newest replicated snapshot older than this → status `behind`. */
  readonly maxLagMs: number;
  /** Extra attempts after a failed one that may succeed when tried again (link down, lock held). */
  readonly retries: number;
  /** Delay before the first retry; doubles for each further one. */
  readonly retryDelayMs: number;
  /** Download limit in bytes per second, so the pull does not saturate the primary's uplink. */
  readonly bandwidthLimit?: number;
  /**
   * This host's own retention, applied after each pull to the berth snapshots copied here
   * (per project and source). Absent: every snapshot ever pulled is kept.
   */
  readonly retention?: Retention;
}

export const replicateDefaults = {
  cron: '30 3 * * *',
  maxLagMs: 26 * 3_600_000,
  retries: 3,
  retryDelayMs: 10_000,
} as const satisfies Partial<ReplicateConfig>;

const cron = cronSchedule('30 3 * * *');

const repoUrl = leaf('a restic repository like "sftp:berth@primary:/srv/backups/repo"', (v) => {
  if (typeof v !== 'string' || v.trim() === '') throw new SpecError();
  return v.trim();
});

const envName = leaf('an environment variable name like BERTH_PRIMARY_PASS', (v) => {
  if (typeof v !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v)) throw new SpecError();
  return v;
});

export const replicateSection = section({
  from: repoUrl.describe("the primary's repository: sftp:user@host:/path"),
  from_password_file: text.optional().describe("file holding the primary repository's password"),
  from_password_env: envName.optional().describe("environment variable holding the primary repository's password"),
  ssh: section({
    port: port.optional().describe('SSH port of the primary, default 22'),
    identity_file: text.optional().describe('private key used to log in to the primary (read-only account)'),
    known_hosts: text.optional().describe("known_hosts file with the primary's host key"),
  })
    .optional()
    .describe('how this host reaches the primary'),
  schedule: cron.optional().describe('cron schedule run by `berth agent`, default "30 3 * * *"'),
  max_lag: duration.optional().describe('newest replicated snapshot older than this → status "behind", default 26h'),
  retries: count.optional().describe('extra attempts after a link failure, default 3'),
  retry_delay: duration.optional().describe('delay before the first retry (doubles each time), default 10s'),
  bandwidth_limit: bytes.optional().describe('download limit per second, e.g. "20M"'),
  retention: retentionSection
    .optional()
    .describe("this host's own retention, applied after each pull (keys left out: 7 daily, 4 weekly, 12 monthly); absent: keep every snapshot pulled"),
}).superRefine((v, ctx) => {
  if (v.from_password_file !== undefined && v.from_password_env !== undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['from_password_env'], message: 'set only one of from_password_file and from_password_env' });
  } else if (v.from_password_file === undefined && v.from_password_env === undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['from'], message: "needs from_password_file or from_password_env: the primary repository's password" });
  }
});

export type RawReplicate = z.output<typeof replicateSection>;

/** The keys of `backup` the replication reads: the local repository and its password. */
export interface RawReplicaRepository {
  readonly repository?: string;
  readonly password_file?: string;
  readonly password_env?: string;
}

/**
 * Resolves `backup.replicate` against the local repository settings. Paths are relative to the
 * project folder. Problems are returned as messages the loader places at the section's key.
 */
export function resolveReplicate(
  raw: RawReplicate,
  repo: RawReplicaRepository,
  root: string,
): { config?: ReplicateConfig; issues: string[] } {
  const issues: string[] = [];
  const abs = (p: string): string => path.resolve(root, p);
  if (!repo.repository) {
    issues.push('needs backup.repository: the local repository snapshots are copied into');
  }
  if (!repo.password_file && !repo.password_env) {
    issues.push("needs backup.password_file or backup.password_env: the local repository's password");
  }
  if (issues.length > 0 || !repo.repository) return { issues };
  const local = isLocalRepo(repo.repository) ? abs(repo.repository) : repo.repository;
  const password = (file?: string, env?: string): PasswordSource => (file ? { file: abs(file) } : { env: env! });
  const ssh = raw.ssh ?? {};
  return {
    issues,
    config: {
      from: raw.from,
      fromPassword: password(raw.from_password_file, raw.from_password_env),
      to: local,
      toPassword: password(repo.password_file, repo.password_env),
      ssh: {
        ...(ssh.port === undefined ? {} : { port: ssh.port }),
        ...(ssh.identity_file === undefined ? {} : { identityFile: abs(ssh.identity_file) }),
        ...(ssh.known_hosts === undefined ? {} : { knownHosts: abs(ssh.known_hosts) }),
      },
      cron: raw.schedule ?? replicateDefaults.cron,
      maxLagMs: raw.max_lag ?? replicateDefaults.maxLagMs,
      retries: raw.retries ?? replicateDefaults.retries,
      retryDelayMs: raw.retry_delay ?? replicateDefaults.retryDelayMs,
      ...(raw.bandwidth_limit === undefined ? {} : { bandwidthLimit: raw.bandwidth_limit }),
      ...(raw.retention === undefined ? {} : { retention: resolveRetention(raw.retention) }),
    },
  };
}

/** restic backends are written `kind:…`; anything else is a local path. */
export function isLocalRepo(repo: string): boolean {
  return !/^(sftp|rest|s3|b2|azure|gs|swift|rclone|local):/.test(repo);
}
