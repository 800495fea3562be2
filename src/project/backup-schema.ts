/**
 * berth.yaml `backup:`: the restic repository, its password, the schedule and retention, and
 * what to back up. Raw schema here; `resolveBackup()` applies the defaults in one place.
 */
import path from 'node:path';
import { z } from 'zod';
import { excludePatterns } from './path-pattern.js';
import { replicateSection, type ReplicateSsh } from './replicate-schema.js';
import { type RawRetention, type Retention, resolveRetention, retentionDefaults, retentionSection } from './retention-schema.js';
import { byKind, count, cronSchedule, duration, leaf, port, section, SpecError, text } from './schema-kit.js';

/** The name of the project's own config source: declared with it, or added under it. */
export const configSourceName = 'config';

/** A default source name that would take the config source's: `config-<what>` instead. */
export const besideConfig = (name: string, what: string): string => (name === configSourceName ? `${name}-${what}` : name);

export const sourceTypes = ['mariadb', 'mysql', 'postgres', 'redis', 'volume', 'config'] as const;
export type SourceType = (typeof sourceTypes)[number];

const cron = cronSchedule('0 2 * * *');
/** A source's own schedule: typically more often than the nightly run (a recovery point of 15 minutes). */
const sourceCron = cronSchedule('*/15 * * * *');

const name = leaf('a name of letters, digits, "-" and "_"', (v) => {
  if (typeof v !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(v)) throw new SpecError();
  return v;
});

const ratio = leaf('a number between 0 and 1', (v) => {
  if (typeof v !== 'number' || v < 0 || v > 1) throw new SpecError();
  return v;
});

/** A table of the source's database: `orders`; on PostgreSQL also `schema.orders` (without a schema: `public`). */
const tableName = leaf('a table name such as orders (postgres: also audit.orders)', (v) => {
  if (typeof v !== 'string' || v === '' || v.startsWith('-') || /[\0-\x1f]/.test(v)) throw new SpecError();
  const parts = v.split('.');
  if (parts.length > 2 || parts.some((p) => p === '')) throw new SpecError(`"${v}": a table name, or on PostgreSQL schema.table`);
  return v;
});

/** `tables:` of a database source, each name once. */
const tableNames = z.array(tableName).transform((names) => [...new Set(names)]);

/** The types `tables:` applies to. */
export const tableSubsetTypes: readonly SourceType[] = ['mariadb', 'mysql', 'postgres'];

/** What is wrong with `tables` on a source of `type`, or undefined. */
export function tablesProblem(type: SourceType, tables: readonly string[] | undefined): string | undefined {
  if (tables === undefined) return undefined;
  if (!tableSubsetTypes.includes(type)) return `applies to a ${tableSubsetTypes.join(', ')} source only, not ${type}`;
  if (tables.length === 0) return 'an empty list would back up nothing; leave `tables` out to back up the whole database';
  if (type !== 'postgres') {
    const dotted = tables.find((t) => t.includes('.'));
    if (dotted) return `"${dotted}": name a table of \`database\` without a database in front (one database per source)`;
  }
  return undefined;
}

const sourceSchema = section({
  type: z.enum(sourceTypes).describe('what kind of data this is'),
  service: text.optional().describe('dump inside this compose service\'s container (docker exec); else over TCP on the host'),
  host: text.optional().describe('database host for TCP dumps (default 127.0.0.1)'),
  port: port.optional(),
  socket: text.optional().describe('a database on this host over its Unix socket instead of TCP: the socket file (mariadb, redis) or its directory or file (postgres)'),
  user: text.optional().describe('database user (default root / postgres)'),
  password_env: text.optional().describe('environment variable holding the database password'),
  password_file: text.optional().describe('file holding the database password, relative to the project folder'),
  database: text.optional().describe('the database to dump (mariadb, postgres)'),
  tables: tableNames.optional().describe('mariadb, mysql, postgres: back up only these tables of `database` (with their triggers, indexes and sequences); an in-place restore replaces only them'),
  volume: text.optional().describe('volume source: a compose volume key or an engine volume name'),
  path: text.optional().describe('volume source: a bind path on the host, read through a helper container'),
  exclude: excludePatterns.optional().describe('volume source: files and directories left out, e.g. ["cache", "*.tmp", "/logs"] (a leading "/" anchors at the volume\'s root)'),
  writers: z.array(text).optional().describe('services stopped while this source is restored (default: services depending on `service`)'),
  schedule: sourceCron.optional().describe('`berth agent` backs up this source on its own cron schedule (e.g. "*/15 * * * *") instead of in the nightly run'),
  retention: retentionSection.optional().describe("this source's own retention, e.g. { hourly: 24, within: 48h } beside a schedule of its own; keys left out take backup.retention's"),
  include_env: z.boolean().optional().describe('config source: include .env (only if you accept storing it in the encrypted repository)'),
});

export const databaseTypes = ['mariadb', 'mysql', 'postgres', 'redis'] as const;

/** The TCP port a host database source reaches without a `port:` of its own. */
export const defaultDatabasePort: Readonly<Record<(typeof databaseTypes)[number], number>> = { mariadb: 3306, mysql: 3306, postgres: 5432, redis: 6379 };

/** An entry of `services.<name>.backup.volumes`: a named volume, or one with patterns left out. */
const serviceVolumeSchema = byKind<{ volume: string; exclude?: string[] }>('a named volume of the service, or a mapping like { volume: uploads, exclude: ["*.tmp"] }', {
  scalar: (v) => {
    if (typeof v !== 'string' || v === '') throw new SpecError();
    return { volume: v };
  },
  object: section({
    volume: text.describe('a named volume the service mounts'),
    exclude: excludePatterns.optional().describe('files and directories left out, as `exclude` of a volume source in backup.sources'),
  }),
});

/** `services.<name>.backup` in berth.yaml: the service's own source, dumped inside its container. */
const serviceSourceSchema = section({
  name: name.optional().describe('source name (default: the service name)'),
  type: z.enum(databaseTypes).optional().describe('database kind (default: detected from the image)'),
  user: text.optional().describe('database user (default root / postgres)'),
  password_env: text.optional().describe('environment variable holding the database password'),
  password_file: text.optional().describe('file holding the database password, relative to the project folder'),
  database: text.optional().describe('the database to dump (default: from the image\'s environment, e.g. MARIADB_DATABASE)'),
  tables: tableNames.optional().describe('back up only these tables of `database`, as `tables` of a source in backup.sources'),
  writers: z.array(text).optional().describe('services stopped while this source is restored'),
  schedule: sourceCron.optional().describe('`berth agent` backs up this source on its own cron schedule instead of in the nightly run'),
  retention: retentionSection.optional().describe("this service's sources' own retention (its database and volumes); keys left out take backup.retention's"),
  volumes: z.array(serviceVolumeSchema).optional().describe('named volumes of this service to back up, each as its own volume source: a name, or { volume: NAME, exclude: [PATTERN, ...] }'),
});

/** `true`: the defaults detected from the image; `false`: nothing of this service; or a mapping. */
export const serviceBackupSchema = byKind<boolean | z.output<typeof serviceSourceSchema>>('true, false or a mapping like { type: mariadb, database: app }', {
  scalar: (v) => {
    if (typeof v !== 'boolean') throw new SpecError();
    return v;
  },
  object: serviceSourceSchema,
});
export type RawServiceBackup = z.output<typeof serviceBackupSchema>;

/** `backup.verify`: when `berth agent` runs `backup verify` (a restore drill of every source), or `false`. */
const verifySchema = byKind<false | { schedule?: string }>('false or a mapping like { schedule: "0 3 * * 0" }', {
  scalar: (v) => {
    if (v !== false) throw new SpecError('should be false (no scheduled verify) or a mapping like { schedule: "0 3 * * 0" }');
    return false;
  },
  object: section({ schedule: cronSchedule('0 3 * * 0').optional().describe('default "0 3 * * 0": Sundays at 03:00') }),
});

export const backupSchema = section({
  repository: text.describe('restic repository: a local path or sftp:user@host:/path'),
  password_file: text.optional().describe('file holding the repository password, relative to the project folder'),
  password_env: text.optional().describe('environment variable holding the repository password'),
  schedule: cron.optional().describe('when `berth agent` runs `backup run` (default "0 2 * * *")'),
  retention: retentionSection.optional().describe('how many snapshots `berth backup prune` keeps per source'),
  verify: verifySchema.optional().describe('when `berth agent` runs `backup verify` (restic check of 10 % of the data, then a restore drill of every source); false: never'),
  lock_wait: duration.optional().describe('how long a backup, prune, verify or restore waits for a lock another restic holds on the repository (a prune, a check) before it fails (default "30m"; "0s": fail at once)'),
  suspect_ratio: ratio.optional().describe('a dump smaller than this share of the previous one is suspect (default 0.5)'),
  retries: count.optional().describe('the nightly job backs up the sources that failed again this many times (default 1; 0: never), `retry_wait` apart'),
  retry_wait: duration.optional().describe('how long the nightly job waits before backing up failed sources again (default "10m": a database restarting at that hour)'),
  helper_image: text.optional().describe('image with tar and sha256sum used to read volumes (default berth-helper:local, built on first use)'),
  ssh: section({
    port: port.optional().describe('SSH port of the repository host, default 22'),
    identity_file: text.optional().describe('private key used to log in to the repository host'),
    known_hosts: text.optional().describe("known_hosts file with the repository host's key (strict checking)"),
  })
    .optional()
    .describe('for an sftp: repository: how to reach its host (else ~/.ssh/config applies)'),
  sources: z.record(name, sourceSchema).optional(),
  replicate: replicateSection.optional().describe('on the backup host: pull the primary’s snapshots into this repository'),
});

export type RawBackup = z.output<typeof backupSchema>;
export type RawBackupSource = z.output<typeof sourceSchema>;

export type { Retention } from './retention-schema.js';

export type RepositoryPassword = { readonly file: string } | { readonly env: string };

/** One resolved backup source; unused fields for its type are left out. */
export interface BackupSource {
  readonly name: string;
  readonly type: SourceType;
  readonly service?: string;
  readonly host: string;
  readonly port?: number;
  /** A host database reached over this Unix socket instead of TCP (absolute path). */
  readonly socket?: string;
  readonly user?: string;
  readonly password?: RepositoryPassword;
  readonly database?: string;
  /** Only these tables of `database` (PostgreSQL's as schema.table); absent: the whole database. */
  readonly tables?: readonly string[];
  readonly volume?: string;
  readonly path?: string;
  /** Volume source: patterns left out of the snapshot (`path-pattern.ts`). */
  readonly exclude?: readonly string[];
  readonly writers?: readonly string[];
  /** Backed up by `berth agent` on this cron schedule of its own, not in the nightly run. */
  readonly schedule?: string;
  /** Its own retention as berth.yaml gives it, over `backup.retention` (`sourceRetention`). */
  readonly retention?: RawRetention;
  readonly includeEnv: boolean;
}

export interface BackupConfig {
  readonly repository: string;
  readonly password: RepositoryPassword;
  readonly schedule: string;
  /** When `berth agent` runs `backup verify`; absent with `verify: false`. */
  readonly verifySchedule?: string;
  readonly retention: Retention;
  /** How long restic commands wait for another restic's conflicting lock (restic 0.14 cannot wait itself). */
  readonly lockWaitMs: number;
  readonly suspectRatio: number;
  /** The nightly job backs up the sources that failed again this many times, `retryWaitMs` apart. */
  readonly retries: number;
  readonly retryWaitMs: number;
  readonly helperImage: string;
  /** For an sftp repository: port, key and known_hosts for the ssh that restic runs. */
  readonly ssh: ReplicateSsh;
  readonly sources: Readonly<Record<string, BackupSource>>;
}

export const backupDefaults = {
  schedule: '0 2 * * *',
  /** Weekly, as the spec's integrity check (Sundays 03:00): a drill restores every source in full. */
  verifySchedule: '0 3 * * 0',
  retention: retentionDefaults,
  /** A weekly check of 10 % of 500 GB reads 50 GB: minutes, not half an hour. */
  lockWaitMs: 30 * 60_000,
  suspectRatio: 0.5,
  retries: 1,
  retryWaitMs: 10 * 60_000,
  helperImage: 'berth-helper:local',
  passwordFile: '.berth/backup.pass',
} as const;

/** Raw `backup:` → resolved config. Returns problems as (key path, message) for the loader to position. */
export function resolveBackup(raw: RawBackup, dir: string): { config: BackupConfig; problems: Array<{ path: string[]; message: string }> } {
  const problems: Array<{ path: string[]; message: string }> = [];
  const abs = (p: string) => path.resolve(dir, p);
  const password = (file: string | undefined, env: string | undefined, at: string[]): RepositoryPassword | undefined => {
    if (file && env) problems.push({ path: at, message: 'give password_file or password_env, not both' });
    return env ? { env } : file ? { file: abs(file) } : undefined;
  };
  const repository = /^[a-z0-9]+:/.test(raw.repository) ? raw.repository : abs(raw.repository);
  if (raw.ssh && !/^sftp:/.test(raw.repository)) problems.push({ path: ['ssh'], message: 'applies to an sftp: repository only' });
  const retention = resolveRetention(raw.retention);
  const sources: Record<string, BackupSource> = {};
  for (const [key, s] of Object.entries(raw.sources ?? {})) {
    const at = ['sources', key];
    // `restore --all` on a fresh host finds the project's config by this name, before any berth.yaml exists.
    if (s.type === 'config' && key !== configSourceName) problems.push({ path: at, message: `the project's config source must be named \`${configSourceName}\` (\`berth restore --all\` looks for it by that name on a fresh host); rename \`${key}\` to \`${configSourceName}\`` });
    if (s.type === 'volume' && !s.volume === !s.path) problems.push({ path: at, message: 'a volume source needs exactly one of `volume` or `path`' });
    if (s.exclude !== undefined && s.type !== 'volume') problems.push({ path: [...at, 'exclude'], message: `applies to a volume source only, not ${s.type}` });
    const tablesWrong = tablesProblem(s.type, s.tables);
    if (tablesWrong) problems.push({ path: [...at, 'tables'], message: tablesWrong });
    if ((s.type === 'mariadb' || s.type === 'mysql' || s.type === 'postgres') && !s.database) {
      problems.push({ path: at, message: `a ${s.type} source needs \`database\` (one database per source, so a restore drill can load it into a scratch database)` });
    }
    if (s.service && (s.host !== undefined || s.port !== undefined) && s.socket === undefined) {
      // Inside the container the tools use the server's own defaults; these would be ignored silently.
      const given = s.host !== undefined ? 'host' : 'port';
      problems.push({ path: [...at, given], message: `a source dumped inside its service's container (\`service:\`) takes no \`${given}\` (that is for a database reached from this host over TCP); remove one of them` });
    }
    if (s.socket !== undefined) {
      if (!(databaseTypes as readonly string[]).includes(s.type)) problems.push({ path: [...at, 'socket'], message: `applies to a database source (${databaseTypes.join(', ')}), not ${s.type}` });
      else if (s.service) problems.push({ path: [...at, 'socket'], message: 'a source dumped inside its service\'s container (`service:`) takes no socket; remove one of them' });
      else if (s.host !== undefined) problems.push({ path: [...at, 'socket'], message: 'give `host` (TCP) or `socket`, not both' });
    }
    sources[key] = dropEmpty({
      name: key,
      type: s.type,
      service: s.service,
      host: s.host ?? '127.0.0.1',
      port: s.port,
      socket: s.socket === undefined ? undefined : abs(s.socket),
      user: s.user,
      password: password(s.password_file, s.password_env, at),
      database: s.database,
      tables: qualifiedTables(s.type, s.tables),
      volume: s.volume,
      path: s.path === undefined ? undefined : abs(s.path),
      exclude: s.exclude?.length ? s.exclude : undefined,
      writers: s.writers,
      schedule: s.schedule,
      retention: s.retention,
      includeEnv: s.include_env ?? false,
    });
  }
  const config: BackupConfig = {
    repository,
    password: password(raw.password_file, raw.password_env, []) ?? { file: abs(backupDefaults.passwordFile) },
    schedule: raw.schedule ?? backupDefaults.schedule,
    ...(raw.verify === false ? {} : { verifySchedule: raw.verify?.schedule ?? backupDefaults.verifySchedule }),
    retention,
    lockWaitMs: raw.lock_wait ?? backupDefaults.lockWaitMs,
    suspectRatio: raw.suspect_ratio ?? backupDefaults.suspectRatio,
    retries: raw.retries ?? backupDefaults.retries,
    retryWaitMs: raw.retry_wait ?? backupDefaults.retryWaitMs,
    helperImage: raw.helper_image ?? backupDefaults.helperImage,
    ssh: dropEmpty({ port: raw.ssh?.port, identityFile: raw.ssh?.identity_file && abs(raw.ssh.identity_file), knownHosts: raw.ssh?.known_hosts && abs(raw.ssh.known_hosts) }),
    sources,
  };
  return { config, problems };
}

/** PostgreSQL's tables as schema.table (`public` when none is given); the others as written. */
export function qualifiedTables(type: SourceType, tables: readonly string[] | undefined): readonly string[] | undefined {
  if (!tables?.length) return undefined;
  return type === 'postgres' ? [...new Set(tables.map((t) => (t.includes('.') ? t : `public.${t}`)))] : tables;
}

function dropEmpty<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== '')) as T;
}

/** What `detectSources` needs to know of a service (a subset of the model's Service). */
export interface DetectableService {
  readonly name: string;
  readonly image: string;
  readonly environment: Readonly<Record<string, string>>;
  readonly mounts: ReadonlyArray<{ readonly type: string; readonly source?: string }>;
}

/**
 * Defaults when `backup.sources` is not given: databases recognised by their image (dumped
 * inside their container), every other named volume through a helper container. The project's
 * config is always added by the backup domain.
 */
export function detectSources(services: readonly DetectableService[], volumeKeys: readonly string[]): BackupSource[] {
  const out: BackupSource[] = [];
  const dbVolumes = new Set<string>();
  const base = (image: string) => image.split('@')[0]!.split(':')[0]!.split('/').pop()!;
  for (const s of services) {
    const kind = base(s.image);
    const env = s.environment;
    const common = { name: s.name, service: s.name, host: '127.0.0.1', includeEnv: false };
    let found: BackupSource | undefined;
    if (/^(mariadb|mysql|percona)/.test(kind)) {
      const database = env.MARIADB_DATABASE ?? env.MYSQL_DATABASE;
      if (database) found = { ...common, type: kind.startsWith('mariadb') ? 'mariadb' : 'mysql', database };
    } else if (/^(postgres|postgis)/.test(kind)) {
      found = { ...common, type: 'postgres', database: env.POSTGRES_DB ?? env.POSTGRES_USER ?? 'postgres' };
    } else if (/^(redis|valkey|keydb)/.test(kind)) {
      found = { ...common, type: 'redis' };
    }
    if (!found) continue;
    out.push({ ...found, name: besideConfig(found.name, found.type) });
    for (const m of s.mounts) if (m.type === 'volume' && m.source) dbVolumes.add(m.source);
  }
  for (const key of volumeKeys) {
    if (dbVolumes.has(key)) continue; // a live database's files are not a consistent backup; its dump is
    const name = out.some((o) => o.name === key) ? `${key}-volume` : besideConfig(key, 'volume');
    out.push({ name, type: 'volume', volume: key, host: '127.0.0.1', includeEnv: false });
  }
  return out;
}

/** The retention `berth backup prune` applies to `source`: its own over `backup.retention`. */
export function sourceRetention(cfg: BackupConfig, source: BackupSource): Retention {
  return source.retention ? resolveRetention(source.retention, cfg.retention) : cfg.retention;
}

/** The sources with a retention of their own, in source order: name → the policy prune applies to it. */
export function ownRetentions(cfg: BackupConfig): Record<string, Retention> {
  return Object.fromEntries(effectiveSources(cfg).flatMap((s) => (s.retention ? [[s.name, sourceRetention(cfg, s)]] : [])));
}

/** The sources with a schedule of their own (`schedule:` on them), in source order: name → cron. */
export function ownSchedules(cfg: BackupConfig): Record<string, string> {
  return Object.fromEntries(effectiveSources(cfg).flatMap((s) => (s.schedule ? [[s.name, s.schedule]] : [])));
}

/** Declared sources, plus the project's own config when no `config` source is declared (a fresh host needs it first). */
export function effectiveSources(cfg: BackupConfig): BackupSource[] {
  const declared = Object.values(cfg.sources);
  const implicit: BackupSource[] = declared.some((s) => s.type === 'config') ? [] : [{ name: configSourceName, type: 'config', host: '127.0.0.1', includeEnv: false }];
  return [...declared, ...implicit];
}
