/**
 * Backup test projects: real MariaDB, PostgreSQL and Redis on 127.0.0.1 (started by
 * scripts/setup-databases.sh), real restic, a real Docker volume. Each project gets its own
 * databases, volume and repository, all removed by cleanup().
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createTestProject, type RunResult, type TestProject } from './harness.js';
import { createResticRepository, lockFiles } from './restic-repo.js';

export const db = { user: 'berth', password: 'berth-test', mariadbPort: 3306, postgresPort: 5432, redisPort: 6379 };
export const dbEnv = { BT_DB_PASSWORD: db.password };

export function mariadb(database: string | undefined, sqlText: string): string {
  return execFileSync('mariadb', ['-h127.0.0.1', `-P${db.mariadbPort}`, `-u${db.user}`, '-N', '-B', ...(database ? [database] : []), '-e', sqlText], { env: { ...process.env, MYSQL_PWD: db.password }, encoding: 'utf8' }).trim();
}

export function psql(database: string, sqlText: string): string {
  return execFileSync('psql', ['-h', '127.0.0.1', '-p', String(db.postgresPort), '-U', db.user, '-d', database, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sqlText], { env: { ...process.env, PGPASSWORD: db.password }, encoding: 'utf8' }).trim();
}

export function docker(...args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8' }).trim();
}

export function restic(repo: string, passwordFile: string, ...args: string[]): { code: number; out: string } {
  const r = spawnSync('restic', args, { env: { ...process.env, RESTIC_REPOSITORY: repo, RESTIC_PASSWORD_FILE: passwordFile }, encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** `restic check` of the repository passes (restic's output is the failure message). */
export function assertCheckClean(repo: string, passwordFile: string): void {
  const r = restic(repo, passwordFile, 'check');
  if (r.code !== 0) throw new Error(`restic check of ${repo} exited with ${r.code}:\n${r.out}`);
}

export interface BackupProject extends TestProject {
  readonly repo: string;
  readonly passwordFile: string;
  readonly mdb: string;
  readonly pdb: string;
  readonly volume: string;
  run(args: readonly string[]): Promise<RunResult>;
  json<T>(args: readonly string[]): Promise<{ code: number; value: T; stderr: string }>;
  snapshots(source?: string): Array<{ short_id: string; time: string; tags: string[]; paths: string[] }>;
}

export interface ProjectOptions {
  /** Extra lines under `backup.sources` (YAML, 4-space indent). */
  readonly extraSources?: string;
  /** Put the repository here instead of inside the project's temp dir. */
  readonly repo?: string;
  /** What berth.yaml names as the repository when it is not `repo` itself (e.g. an sftp: URL of it). */
  readonly repoUrl?: string;
  /** Extra lines under `backup:` (YAML, 2-space indent). */
  readonly extraBackup?: string;
  /** Compose services besides `web`. */
  readonly withWeb?: boolean;
  /**
   * `prepared` (default): the repository exists before the first run, with a cheap key
   * (restic-repo.ts). `berth`: there is none, so the first `berth backup run` runs `restic init`.
   */
  readonly repository?: 'prepared' | 'berth';
  /** The `writers:` of the db source (services stopped while it is restored). */
  readonly dbWriters?: readonly string[];
}

/** A project with sources db (mariadb), pg (postgres), cache (redis), files (volume) and the implicit config. */
export async function createBackupProject(opts: ProjectOptions = {}): Promise<BackupProject> {
  const tag = randomBytes(3).toString('hex');
  const mdb = `bt_m_${tag}`;
  const pdb = `bt_p_${tag}`;
  const p = await createTestProject({
    'compose.yaml': `
services:
  web:
    image: berth-test/app:v1
    volumes: ["data:/data"]
volumes:
  data: {}
`,
    'berth.yaml': `
name: {{NAME}}
backup:
  repository: ${opts.repoUrl ?? opts.repo ?? 'repo'}
  password_file: backup.pass
${opts.extraBackup ?? ''}  sources:
    db: { type: mariadb, database: ${mdb}, user: ${db.user}, password_env: BT_DB_PASSWORD, port: ${db.mariadbPort}${opts.dbWriters ? `, writers: [${opts.dbWriters.join(', ')}]` : ''} }
    pg: { type: postgres, database: ${pdb}, user: ${db.user}, password_env: BT_DB_PASSWORD, port: ${db.postgresPort} }
    cache: { type: redis, port: ${db.redisPort} }
    files: { type: volume, volume: data }
${opts.extraSources ?? ''}`,
  });
  const passwordFile = path.join(p.dir, 'backup.pass');
  fs.writeFileSync(passwordFile, `pw-${tag}\n`, { mode: 0o600 });
  const repo = opts.repo ?? path.join(p.dir, 'repo');
  if ((opts.repository ?? 'prepared') === 'prepared') createResticRepository(repo, passwordFile);
  const volume = `${p.name}_data`;
  mariadb(undefined, `CREATE DATABASE ${mdb}`);
  mariadb(mdb, `CREATE TABLE t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(64)); INSERT INTO t (v) SELECT CONCAT('row-', seq) FROM seq_1_to_300; CREATE TABLE u (k INT); INSERT INTO u VALUES (1), (2), (3);`);
  psql('postgres', `CREATE DATABASE ${pdb}`);
  psql(pdb, `CREATE TABLE items (id serial PRIMARY KEY, name text); INSERT INTO items (name) SELECT 'item-' || g FROM generate_series(1, 500) g;`);
  execFileSync('redis-cli', ['-p', String(db.redisPort), 'SET', `bt:${tag}`, 'v']);
  docker('volume', 'create', '--label', `berth.project=${p.name}`, volume);
  writeVolume(volume, 'echo hello > /d/a.txt; mkdir -p /d/sub; echo world > /d/sub/b.txt');
  const run = (args: readonly string[]) => p.berth(args, dbEnv);
  return {
    ...p,
    repo,
    passwordFile,
    mdb,
    pdb,
    volume,
    run,
    async json<T>(args: readonly string[]) {
      const r = await run(['--json', ...args]);
      let value: T;
      try {
        value = JSON.parse(r.stdout) as T;
      } catch {
        throw new Error(`not JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
      }
      return { code: r.code, value, stderr: r.stderr };
    },
    snapshots(source) {
      const r = restic(repo, passwordFile, 'snapshots', '--json', '--no-lock', ...(source ? ['--tag', `source=${source}`] : []));
      return JSON.parse(r.out.slice(r.out.indexOf('['))) as Array<{ short_id: string; time: string; tags: string[]; paths: string[] }>;
    },
    async cleanup() {
      await p.cleanup();
      spawnSync('docker', ['volume', 'rm', '-f', volume]);
      spawnSync('mariadb', ['-h127.0.0.1', `-u${db.user}`, '-e', `DROP DATABASE IF EXISTS ${mdb}`], { env: { ...process.env, MYSQL_PWD: db.password } });
      spawnSync('psql', ['-h', '127.0.0.1', '-U', db.user, '-d', 'postgres', '-c', `DROP DATABASE IF EXISTS ${pdb} WITH (FORCE)`], { env: { ...process.env, PGPASSWORD: db.password } });
      spawnSync('redis-cli', ['-p', String(db.redisPort), 'DEL', `bt:${tag}`]);
      if (opts.repo) fs.rmSync(opts.repo, { recursive: true, force: true });
    },
  };
}

/** Runs a shell command in a throwaway container with the volume at /d. */
export function writeVolume(volume: string, script: string): string {
  return docker('run', '--rm', '--network', 'none', '-v', `${volume}:/d`, '--entrypoint', '/bin/sh', 'berth-test/app:v1', '-c', script);
}

/**
 * A lock held by another live restic on a repository, until release():
 * - shared: `restic backup --stdin` waiting for input (a forget, prune or check cannot start);
 * - exclusive: `restic key passwd` waiting for the new password (nothing else can start).
 * release() interrupts it: restic removes its lock and changes nothing.
 */
export async function holdLock(repo: string, passwordFile: string, kind: 'shared' | 'exclusive'): Promise<{ release(): Promise<void> }> {
  const args = kind === 'shared' ? ['backup', '--stdin', '--stdin-filename', 'held'] : ['key', 'passwd'];
  // A lock already there (a killed restic's, stale) is not this one's.
  const earlier = new Set(lockFiles(repo));
  const child = spawn('restic', ['-r', repo, ...args], { env: { ...process.env, RESTIC_PASSWORD_FILE: passwordFile }, stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const deadline = Date.now() + 20_000;
  while (lockFiles(repo).every((f) => earlier.has(f))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`restic did not lock ${repo}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    async release() {
      child.kill('SIGINT');
      await exited;
    },
  };
}

/** The pid of the first process whose argv matches (a helper container shares the host's pids, so its restic is seen too). */
export function pidOf(matches: (argv: readonly string[]) => boolean): number | undefined {
  for (const pid of fs.readdirSync('/proc').filter((f) => /^\d+$/.test(f))) {
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue;
    }
    if (matches(argv)) return Number(pid);
  }
  return undefined;
}

/** restic restoring in place inside the helper container. */
export const resticRestoring = (): number | undefined => pidOf((argv) => path.basename(argv[0] ?? '') === 'restic' && argv.includes('restore') && argv.includes('--target'));
