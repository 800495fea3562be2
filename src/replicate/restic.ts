/**
 * The few restic commands replication needs: `snapshots --json`, `copy --from-repo`, `check`,
 * `init --copy-chunker-params`, and `forget`/`prune` for this host's own retention. argv is built by pure functions; one executor runs them.
 * Passwords travel in the child's environment, never on the command line.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { spawnTied } from '../lib/child.js';
import { isLocalRepo, type PasswordSource, type ReplicateSsh } from '../project/replicate-schema.js';
import { keepArgs, type Retention } from '../project/retention-schema.js';

export interface RepoRef {
  readonly url: string;
  readonly password: PasswordSource;
  /** For sftp repositories: the ssh command restic runs (`-o sftp.command=…`). */
  readonly sftpCommand?: string;
  /** The same command as argv, to ask ssh itself why a connection failed. */
  readonly sshArgv?: readonly string[];
}

export interface Snapshot {
  readonly id: string;
  readonly shortId: string;
  readonly timeMs: number;
  readonly tags: readonly string[];
  readonly paths: readonly string[];
  readonly hostname: string;
  readonly tree: string;
  /** Set on copies: the id of the snapshot this one was copied from. */
  readonly original?: string;
}

/** Why a restic command failed, decided from its output. */
export type FailureKind = 'unreachable' | 'auth' | 'wrong-password' | 'no-repository' | 'locked' | 'aborted' | 'failed';

export class ResticFailure extends Error {
  /** Which repository the failure concerns, when the caller knows. */
  side?: 'primary' | 'replica';
  /** Set when the copy had succeeded and this host's retention failed. */
  during?: 'retention';

  constructor(
    readonly kind: FailureKind,
    message: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'ResticFailure';
  }

  /** Worth another attempt: the link or a lock may be back by then. */
  get retryable(): boolean {
    return this.kind === 'unreachable' || this.kind === 'locked';
  }
}

export interface CopyProgress {
  onSnapshot?(shortId: string): void;
  onPacks?(done: number, total: number): void;
  onSaved?(copyShortId: string): void;
}

export interface Restic {
  snapshots(repo: RepoRef, opts?: { noLock?: boolean; signal?: AbortSignal }): Promise<Snapshot[]>;
  hasRepository(repo: RepoRef, signal?: AbortSignal): Promise<boolean>;
  initFrom(repo: RepoRef, from: RepoRef, signal?: AbortSignal): Promise<void>;
  copy(to: RepoRef, from: RepoRef, ids: readonly string[], opts?: CopyOptions): Promise<void>;
  check(repo: RepoRef, opts?: { readData?: boolean; signal?: AbortSignal }): Promise<{ ok: boolean; output: string }>;
  /** Applies `policy` to the snapshots carrying every tag in `tags`, as one group; returns what it removed. */
  forget(repo: RepoRef, policy: Retention, tags: readonly string[], signal?: AbortSignal): Promise<{ keep: Snapshot[]; remove: Snapshot[] }>;
  /** Removes the data no snapshot refers to any more. */
  prune(repo: RepoRef, signal?: AbortSignal): Promise<void>;
  /** `restic unlock`: removes only locks whose holder is provably gone (a killed pull's). */
  unlockStale(repo: RepoRef, signal?: AbortSignal): Promise<void>;
}

export interface CopyOptions {
  readonly limitDownloadKiB?: number;
  readonly progress?: CopyProgress;
  readonly signal?: AbortSignal;
}

export interface ResticOptions {
  readonly bin?: string;
  /** The environment restic starts from; RESTIC_* variables in it are dropped. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** `ssh … user@host -s sftp` for restic's sftp backend, with strict host keys and no prompts. */
export function sftpCommand(url: string, ssh: ReplicateSsh): string | undefined {
  return sshArgv(url, ssh)?.map(quoteArg).join(' ');
}

export function sshArgv(url: string, ssh: ReplicateSsh): string[] | undefined {
  const m = /^sftp:(?:\/\/)?(?:([^@/]+)@)?([^:/]+|\[[^\]]+\])(?::(\d+))?[:/]/.exec(url);
  if (!m) return undefined;
  const port = ssh.port ?? (m[3] ? Number(m[3]) : undefined);
  const args = ['ssh'];
  if (port !== undefined) args.push('-p', String(port));
  if (ssh.identityFile) args.push('-i', ssh.identityFile, '-o', 'IdentitiesOnly=yes');
  if (ssh.knownHosts) args.push('-o', `UserKnownHostsFile=${ssh.knownHosts}`, '-o', 'StrictHostKeyChecking=yes');
  // No prompts; a dead link is noticed within ~45 s instead of hanging on TCP.
  args.push('-o', 'BatchMode=yes', '-o', 'ConnectTimeout=15', '-o', 'ServerAliveInterval=15', '-o', 'ServerAliveCountMax=3');
  args.push(`${m[1] ? `${m[1]}@` : ''}${m[2]}`, '-s', 'sftp');
  return args;
}

/**
 * Runs the sftp ssh command with no input: it logs in, starts sftp and ends. restic relays ssh's
 * stderr asynchronously and sometimes exits before the reason arrives ("unable to start the
 * sftp session, error: EOF"); asking ssh directly gives the reason reliably.
 */
/** ssh's reason for a failure: its last two stderr lines. */
export function sshReason(stderr: string): string {
  return stderr.trim().split('\n').filter(Boolean).slice(-2).join('; ');
}

export function probeSsh(argv: readonly string[], timeoutMs = 30_000): Promise<{ ok: boolean; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], timeout: timeoutMs });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => resolve({ ok: false, stderr: err.message }));
    child.on('close', (code) => resolve({ ok: code === 0, stderr }));
  });
}

function quoteArg(a: string): string {
  return /^[\w@%+=:,./[\]-]+$/.test(a) ? a : `"${a.replace(/(["\\])/g, '\\$1')}"`;
}

export function snapshotsArgs(repo: RepoRef, noLock: boolean): string[] {
  return [...repoArgs(repo), ...(noLock ? ['--no-lock'] : []), 'snapshots', '--json'];
}

export function copyArgs(to: RepoRef, from: RepoRef, ids: readonly string[], limitDownloadKiB?: number): string[] {
  // --no-lock: the primary's repository is read-only to us, so no lock can be written there.
  const args = [...repoArgs(to), '--from-repo', from.url, '--no-lock'];
  if (from.sftpCommand) args.push('-o', `sftp.command=${from.sftpCommand}`);
  if (limitDownloadKiB) args.push('--limit-download', String(limitDownloadKiB));
  return [...args, 'copy', ...ids];
}

export function initArgs(to: RepoRef, from: RepoRef): string[] {
  const args = [...repoArgs(to), '--from-repo', from.url, '--no-lock'];
  if (from.sftpCommand) args.push('-o', `sftp.command=${from.sftpCommand}`);
  return [...args, 'init', '--copy-chunker-params'];
}

export function checkArgs(repo: RepoRef, readData: boolean): string[] {
  return [...repoArgs(repo), 'check', ...(readData ? ['--read-data'] : [])];
}

export function forgetArgs(repo: RepoRef, policy: Retention, tags: readonly string[]): string[] {
  // One group per call: restic's own grouping would split a source on host names and berth versions.
  return [...repoArgs(repo), 'forget', '--json', '--group-by', '', ...keepArgs(policy), '--tag', tags.join(',')];
}

function repoArgs(repo: RepoRef): string[] {
  return ['-r', repo.url, ...(repo.sftpCommand ? ['-o', `sftp.command=${repo.sftpCommand}`] : [])];
}

/** Environment for one command: no inherited RESTIC_*, passwords of both repositories. */
export function resticEnv(base: Readonly<Record<string, string | undefined>>, repo: RepoRef, from?: RepoRef): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !k.startsWith('RESTIC_')) env[k] = v;
  const put = (prefix: string, p: PasswordSource): void => {
    if (p.file) env[`${prefix}_FILE`] = p.file;
    else if (p.env) {
      const value = base[p.env];
      if (value === undefined) throw new ResticFailure('wrong-password', `environment variable ${p.env} (a repository password) is not set`, '');
      env[prefix] = value;
    }
  };
  put('RESTIC_PASSWORD', repo.password);
  if (from) put('RESTIC_FROM_PASSWORD', from.password);
  // Progress lines even without a terminal, once a second.
  env.RESTIC_PROGRESS_FPS = '1';
  return env;
}

/** Reads restic's stderr: which failure it is, in words a person can act on. */
export function classify(stderr: string): FailureKind {
  if (/wrong password or no key found/i.test(stderr)) return 'wrong-password';
  if (/Permission denied \(publickey|Host key verification failed|host key is known|requested strict checking|HOST IDENTIFICATION HAS CHANGED|no matching host key|Too many authentication failures/i.test(stderr)) {
    return 'auth';
  }
  if (/Is there a repository at the following location|unable to open config file/i.test(stderr)) return 'no-repository';
  if (/repository is already locked/i.test(stderr)) return 'locked';
  if (linkLost.test(stderr) || /Connection refused|connect to host|No route to host|Could not resolve hostname|timed out|unable to start the sftp session|Connection reset|Connection closed/i.test(stderr)) {
    return 'unreachable';
  }
  return 'failed';
}

/** Seen while restic runs: the ssh link is gone and restic would only retry against it for minutes. */
const linkLost = /connection lost|ssh command exited|broken pipe/i;

export function createRestic(opts: ResticOptions = {}): Restic {
  const bin = opts.bin ?? 'restic';
  const base = opts.env ?? process.env;
  const run = (args: string[], env: Record<string, string>, o: RunOptions = {}) => exec(bin, args, env, o);

  return {
    async snapshots(repo, o = {}) {
      const r = await run(snapshotsArgs(repo, o.noLock ?? false), resticEnv(base, repo), { signal: o.signal });
      if (r.code !== 0) throw failure(r.stderr, `restic snapshots of ${repo.url}`);
      return parseSnapshots(r.stdout);
    },
    async hasRepository(repo, signal) {
      // A local repository is a folder with a config file; no need to start restic to know.
      if (isLocalRepo(repo.url)) return fs.existsSync(path.join(repo.url, 'config'));
      const r = await run([...repoArgs(repo), '--no-lock', 'cat', 'config'], resticEnv(base, repo), { signal });
      if (r.code === 0) return true;
      const f = failure(r.stderr, `restic cat config of ${repo.url}`);
      if (f.kind === 'no-repository') return false;
      throw f;
    },
    async initFrom(repo, from, signal) {
      const r = await run(initArgs(repo, from), resticEnv(base, repo, from), { signal });
      if (r.code !== 0) throw failure(r.stderr, `restic init of ${repo.url}`);
    },
    async copy(to, from, ids, o = {}) {
      const p = o.progress ?? {};
      const onStdout = (line: string): void => {
        let m: RegExpExecArray | null;
        if ((m = /^snapshot ([0-9a-f]{8,}) of \[/.exec(line))) p.onSnapshot?.(m[1]!);
        else if ((m = /(\d+) \/ (\d+) packs copied/.exec(line))) p.onPacks?.(Number(m[1]), Number(m[2]));
        else if ((m = /^snapshot ([0-9a-f]{8,}) saved/.exec(line))) p.onSaved?.(m[1]!);
      };
      const r = await run(copyArgs(to, from, ids, o.limitDownloadKiB), resticEnv(base, to, from), {
        signal: o.signal,
        onStdout,
        abortOnStderr: linkLost,
      });
      if (r.code !== 0 || r.abortedOnStderr) throw failure(r.stderr, `restic copy from ${from.url}`, r.abortedOnStderr);
    },
    async check(repo, o = {}) {
      const r = await run(checkArgs(repo, o.readData ?? false), resticEnv(base, repo), { signal: o.signal });
      if (r.code !== 0 && classify(r.stderr) !== 'failed') throw failure(r.stderr, `restic check of ${repo.url}`);
      return { ok: r.code === 0, output: `${r.stdout}${r.stderr}` };
    },
    async forget(repo, policy, tags, signal) {
      const r = await run(forgetArgs(repo, policy, tags), resticEnv(base, repo), { signal });
      if (r.code !== 0) throw failure(r.stderr, `restic forget in ${repo.url}`);
      const groups = (JSON.parse(r.stdout.trim() || '[]') ?? []) as Array<{ keep?: unknown; remove?: unknown }>;
      const list = (v: unknown): Snapshot[] => (Array.isArray(v) ? parseSnapshots(JSON.stringify(v)) : []);
      return { keep: groups.flatMap((g) => list(g.keep)), remove: groups.flatMap((g) => list(g.remove)) };
    },
    async prune(repo, signal) {
      const r = await run([...repoArgs(repo), 'prune'], resticEnv(base, repo), { signal });
      if (r.code !== 0) throw failure(r.stderr, `restic prune of ${repo.url}`);
    },
    async unlockStale(repo, signal) {
      const r = await run([...repoArgs(repo), 'unlock'], resticEnv(base, repo), { signal });
      if (r.code !== 0) throw failure(r.stderr, `restic unlock of ${repo.url}`);
    },
  };
}

export function parseSnapshots(json: string): Snapshot[] {
  const raw = JSON.parse(json || '[]') as Array<Record<string, unknown>> | null;
  return (raw ?? []).map((s) => ({
    id: String(s.id),
    shortId: String(s.short_id ?? String(s.id).slice(0, 8)),
    timeMs: Date.parse(String(s.time)),
    tags: Array.isArray(s.tags) ? s.tags.map(String) : [],
    paths: Array.isArray(s.paths) ? s.paths.map(String) : [],
    hostname: String(s.hostname ?? ''),
    tree: String(s.tree ?? ''),
    ...(typeof s.original === 'string' ? { original: s.original } : {}),
  }));
}

function failure(stderr: string, what: string, linkWasLost = false): ResticFailure {
  const kind = linkWasLost ? 'unreachable' : classify(stderr);
  const detail = lastLines(stderr);
  return new ResticFailure(kind, `${what} failed${detail ? `: ${detail}` : ''}`, stderr);
}

/** The lines that say what went wrong: Fatal/ssh lines first, else the last line; never a Go stack. */
function lastLines(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const telling = lines.filter((l) => /^(Fatal|subprocess ssh|ssh:)|connection lost|denied|refused|wrong password|Is there a repository/i.test(l));
  const chosen = telling.length > 0 ? [...new Set(telling)].slice(-2) : lines.slice(-1);
  return chosen.join('; ').replace(/^Fatal: /, '').slice(0, 400);
}

interface RunOptions {
  readonly signal?: AbortSignal;
  readonly onStdout?: (line: string) => void;
  /** Stop restic (SIGINT, so it removes its own lock) when stderr matches. */
  readonly abortOnStderr?: RegExp;
}

interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly abortedOnStderr: boolean;
}

function exec(bin: string, args: string[], env: Record<string, string>, o: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (o.signal?.aborted) return reject(new ResticFailure('aborted', `restic ${args.find((a) => !a.startsWith('-')) ?? ''} was cancelled`, ''));
    const child = spawnTied(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let partial = '';
    let abortedOnStderr = false;
    let killTimer: NodeJS.Timeout | undefined;
    const stop = (): void => {
      if (child.exitCode !== null || killTimer) return;
      child.kill('SIGINT');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    };
    const onAbort = (): void => stop();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (!o.onStdout) return;
      const parts = (partial + d).split(/[\r\n]+/);
      partial = parts.pop() ?? '';
      for (const line of parts) if (line.trim()) o.onStdout(line.trim());
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (o.abortOnStderr && !abortedOnStderr && o.abortOnStderr.test(stderr)) {
        abortedOnStderr = true;
        stop();
      }
    });
    child.on('error', (err) =>
      reject(new ResticFailure('failed', `cannot run ${bin}: ${err.message} (is restic installed? Debian: apt install restic)`, '')),
    );
    child.on('close', (code) => {
      if (killTimer) clearTimeout(killTimer);
      o.signal?.removeEventListener('abort', onAbort);
      if (o.signal?.aborted) return reject(new ResticFailure('aborted', 'restic was cancelled', stderr));
      resolve({ code: code ?? -1, stdout, stderr, abortedOnStderr });
    });
  });
}
