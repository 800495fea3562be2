/**
 * Pull-replication test world: a "primary" (a restic repository served by its own sshd on a free
 * 127.0.0.1 port, forced to read-only sftp for the backup host's key) and a "backup host"
 * (a berth project whose berth.yaml replicates from it into a local repository). Real restic,
 * real OpenSSH; the sshd is ours alone (temp host key, temp authorized_keys).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, repoRoot, runBerth, sleep, waitFor, type RunResult } from './harness.js';
import { createResticRepository } from './restic-repo.js';

const execFileP = promisify(execFile);
const berthBin = path.join(repoRoot, 'bin/berth.js');

/** Why these tests cannot run here, or undefined. */
export function replicationUnavailable(): string | undefined {
  if (!fs.existsSync('/usr/sbin/sshd')) return 'openssh-server is not installed (scripts/setup-ssh.sh)';
  try {
    execFileSync('restic', ['version'], { stdio: 'ignore' });
  } catch {
    return 'restic is not installed (scripts/setup-ssh.sh)';
  }
  if (!fs.existsSync('/run/sshd')) return '/run/sshd is missing (scripts/setup-ssh.sh as root)';
  return undefined;
}

export interface Sshd {
  readonly port: number;
  readonly user: string;
  readonly clientKey: string;
  readonly knownHosts: string;
  readonly pid: () => number | undefined;
  /** SIGKILL the per-connection sshd processes: the link drops mid-transfer, the daemon stays. */
  killSessions(): number;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** `ssh … -s sftp` with the backup host's key, for direct sftp tries. */
  sftpArgs(): string[];
}

/**
 * An sshd on loopback that gives the backup host's key read-only sftp and nothing else
 * (`writable: true`: read-write sftp, for a primary that backs up into an sftp repository).
 */
export async function startSshd(dir: string, opts: { writable?: boolean } = {}): Promise<Sshd> {
  fs.mkdirSync(dir, { recursive: true });
  const hostKey = path.join(dir, 'host_ed25519');
  const clientKey = path.join(dir, 'backup_host_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'berth-backup-host', '-f', clientKey]);
  const authorized = path.join(dir, 'authorized_keys');
  fs.writeFileSync(authorized, fs.readFileSync(`${clientKey}.pub`), { mode: 0o600 });
  const port = await freePort();
  const knownHosts = path.join(dir, 'known_hosts');
  fs.writeFileSync(knownHosts, `[127.0.0.1]:${port} ${fs.readFileSync(`${hostKey}.pub`, 'utf8')}`);
  const config = path.join(dir, 'sshd_config');
  fs.writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorized}`,
      'StrictModes no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      'AllowTcpForwarding no',
      'X11Forwarding no',
      'PermitTTY no',
      'Subsystem sftp internal-sftp',
      // Whatever the client asks for, it gets read-only sftp: it can read the primary's repository, never change it.
      opts.writable ? 'ForceCommand internal-sftp' : 'ForceCommand internal-sftp -R',
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  const log = path.join(dir, 'sshd.log');
  const sshd: Sshd = {
    port,
    user: os.userInfo().username,
    clientKey,
    knownHosts,
    pid: () => child?.pid,
    killSessions() {
      if (!child?.pid) return 0;
      let killed = 0;
      for (const pid of childPids(child.pid)) {
        try {
          process.kill(pid, 'SIGKILL');
          killed++;
        } catch {
          // already gone
        }
      }
      return killed;
    },
    async stop() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      const closed = new Promise((r) => c.once('close', r));
      c.kill('SIGTERM');
      await Promise.race([closed, sleep(5000)]);
    },
    async start() {
      const out = fs.openSync(log, 'a');
      child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', out, out] });
      fs.closeSync(out);
      await waitFor(`sshd on 127.0.0.1:${port} (log ${log})`, () => canConnect(port), 10_000);
    },
    sftpArgs: () => ['-P', String(port), '-i', clientKey, '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes'],
  };
  await sshd.start();
  return sshd;
}

export function childPids(parent: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) out.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function restic(args: readonly string[], passwordFile: string, env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RESTIC_')));
  try {
    const { stdout, stderr } = await execFileP('restic', [...args], {
      env: { ...cleanEnv, RESTIC_PASSWORD_FILE: passwordFile, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

export async function resticOk(args: readonly string[], passwordFile: string): Promise<string> {
  const r = await restic(args, passwordFile);
  if (r.code !== 0) throw new Error(`restic ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

export interface SnapshotJson {
  id: string;
  time: string;
  tree: string;
  tags?: string[];
  original?: string;
}

export async function snapshotsOf(repo: string, passwordFile: string): Promise<SnapshotJson[]> {
  return JSON.parse(await resticOk(['-r', repo, '--no-lock', 'snapshots', '--json'], passwordFile)) as SnapshotJson[];
}

export interface World {
  readonly root: string;
  /** The project's name in berth.yaml, also its snapshots' project= tag. */
  readonly project: string;
  readonly sshd: Sshd;
  /** The primary's side: its repository and its password. */
  readonly primaryRepo: string;
  readonly primaryPass: string;
  /** The backup host's project folder, with berth.yaml, its own repository and password. */
  readonly projectDir: string;
  readonly replicaRepo: string;
  readonly replicaPass: string;
  /**
   * A snapshot on the primary of a fresh folder of `files` random files of `size` bytes, tagged
   * project=<name> and source=<label> (unless `noSourceTag`) plus `tags`; `time` as restic's --time.
   */
  backup(label: string, files: number, size: number, tags?: readonly string[], opts?: { time?: string; noSourceTag?: boolean }): Promise<string>;
  writeBerth(replicate?: Readonly<Record<string, unknown>>): void;
  berth(args: readonly string[]): Promise<RunResult>;
  spawnBerth(args: readonly string[]): { done: Promise<RunResult>; child: ChildProcess };
  cleanup(): Promise<void>;
}

/**
 * `replica: 'berth'` (default) leaves this host's repository to the first `berth replicate pull`
 * (`restic init --copy-chunker-params`); `'prepared'` creates it beforehand with a cheap key
 * (restic-repo.ts), as the primary's always is.
 */
export async function createWorld(opts: { replica?: 'berth' | 'prepared' } = {}): Promise<World> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'brep-'));
  const primaryDir = path.join(root, 'primary');
  const projectDir = path.join(root, 'backup-host');
  fs.mkdirSync(primaryDir);
  fs.mkdirSync(projectDir);
  const sshd = await startSshd(path.join(primaryDir, 'sshd'));
  const primaryRepo = path.join(primaryDir, 'repo');
  const primaryPass = path.join(primaryDir, 'repo.pass');
  fs.writeFileSync(primaryPass, `primary-${randomBytes(12).toString('hex')}\n`, { mode: 0o600 });
  createResticRepository(primaryRepo, primaryPass);
  // The backup host knows the primary's password (to decrypt what it copies); the primary knows nothing of the replica.
  fs.copyFileSync(primaryPass, path.join(projectDir, 'primary.pass'));
  const replicaRepo = path.join(projectDir, 'replica-repo');
  const replicaPass = path.join(projectDir, 'replica.pass');
  fs.writeFileSync(replicaPass, `replica-${randomBytes(12).toString('hex')}\n`, { mode: 0o600 });
  if (opts.replica === 'prepared') createResticRepository(replicaRepo, replicaPass);
  fs.writeFileSync(path.join(projectDir, 'compose.yaml'), 'services:\n  app:\n    image: busybox:latest\n');
  const name = `brep${randomBytes(3).toString('hex')}`;
  const world: World = {
    root,
    project: name,
    sshd,
    primaryRepo,
    primaryPass,
    projectDir,
    replicaRepo,
    replicaPass,
    async backup(label, files, size, tags = [], opts = {}) {
      const data = path.join(primaryDir, 'data', label);
      fs.mkdirSync(data, { recursive: true });
      for (let i = 0; i < files; i++) fs.writeFileSync(path.join(data, `f${i}`), randomBytes(size));
      const tagArgs = [`project=${name}`, ...(opts.noSourceTag ? [] : [`source=${label}`]), ...tags].flatMap((t) => ['--tag', t]);
      const out = await resticOk(['-r', primaryRepo, 'backup', '--json', ...tagArgs, ...(opts.time ? ['--time', opts.time] : []), data], primaryPass);
      const summary = out.trim().split('\n').map((l) => JSON.parse(l) as { message_type: string; snapshot_id?: string }).find((m) => m.message_type === 'summary');
      fs.rmSync(data, { recursive: true, force: true });
      if (!summary?.snapshot_id) throw new Error(`no snapshot id in restic backup output: ${out.slice(-500)}`);
      // restic 0.14 reports the short id; the full one is what copies refer to.
      const full = (await snapshotsOf(primaryRepo, primaryPass)).find((s) => s.id.startsWith(summary.snapshot_id!));
      if (!full) throw new Error(`snapshot ${summary.snapshot_id} not listed`);
      return full.id;
    },
    writeBerth(replicate = {}) {
      const r: Record<string, unknown> = {
        from: `sftp:${sshd.user}@127.0.0.1:${primaryRepo}`,
        from_password_file: 'primary.pass',
        ssh: { port: sshd.port, identity_file: sshd.clientKey, known_hosts: sshd.knownHosts },
        max_lag: '1h',
        retries: 2,
        retry_delay: '300ms',
        ...replicate,
      };
      const yaml = [
        `name: ${name}`,
        'backup:',
        '  repository: ./replica-repo',
        '  password_file: replica.pass',
        '  replicate:',
        ...Object.entries(r).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`),
        '',
      ].join('\n');
      fs.writeFileSync(path.join(projectDir, 'berth.yaml'), yaml);
    },
    berth: (args) => runBerth(projectDir, ['-C', projectDir, ...args]),
    spawnBerth(args) {
      const child = spawn(process.execPath, [berthBin, '-C', projectDir, ...args], { cwd: projectDir, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d) => (stdout += d));
      child.stderr!.on('data', (d) => (stderr += d));
      const done = new Promise<RunResult>((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
      return { done, child };
    },
    async cleanup() {
      await sshd.stop();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
  world.writeBerth();
  return world;
}

/** Every process below `pid` (children, grandchildren…). */
export function descendants(pid: number): Array<{ pid: number; comm: string }> {
  const out: Array<{ pid: number; comm: string }> = [];
  for (const child of childPids(pid)) {
    let comm = '';
    try {
      comm = fs.readFileSync(`/proc/${child}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    out.push({ pid: child, comm }, ...descendants(child));
  }
  return out;
}

/** Files under `dir`, recursively (0 when it does not exist). */
export function countFiles(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? countFiles(path.join(dir, e.name)) : 1;
  return n;
}
