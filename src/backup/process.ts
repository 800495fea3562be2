/** Child processes for dumps and restic: argv as data, bounded waits, stderr kept for the error message. */
import type { ChildProcess, StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import { spawnTied } from '../lib/child.js';
import { BerthError } from '../lib/errors.js';

export interface Cmd {
  readonly file: string;
  readonly args: readonly string[];
  /** Added to the inherited environment. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface Captured {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function describe(cmd: Cmd): string {
  return [cmd.file, ...cmd.args].join(' ');
}

export function start(cmd: Cmd, stdio: StdioOptions = ['pipe', 'pipe', 'pipe']): ChildProcess {
  const env = { ...process.env, ...cmd.env };
  requireInstalled(cmd.file, env.PATH);
  return spawnTied(cmd.file, cmd.args, { stdio, env });
}

/** Debian packages of the tools berth runs, for the hint when one is missing. */
const packageOf: Readonly<Record<string, string>> = {
  restic: 'restic',
  docker: 'docker.io',
  'mariadb-dump': 'mariadb-client',
  mariadb: 'mariadb-client',
  mysqldump: 'mariadb-client',
  mysql: 'mariadb-client',
  pg_dump: 'postgresql-client',
  pg_dumpall: 'postgresql-client',
  pg_restore: 'postgresql-client',
  psql: 'postgresql-client',
  'redis-cli': 'redis-tools',
  ssh: 'openssh-client',
  tar: 'tar',
};
/** Tools found so far (a missing one is looked up again: the agent runs for months, and it may be installed meanwhile). */
const installed = new Set<string>();

/** A tool that is not there is named as such; else the child's error ("setpriv: failed to execute …") would be all one sees. */
function requireInstalled(file: string, pathVar: string | undefined): void {
  const key = `${file}\0${pathVar ?? ''}`;
  if (installed.has(key)) return;
  const candidates = file.includes('/') ? [file] : (pathVar ?? '').split(':').filter(Boolean).map((d) => `${d}/${file}`);
  const found = candidates.some((c) => {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      return fs.statSync(c).isFile();
    } catch {
      return false;
    }
  });
  if (!found) {
    const pkg = packageOf[file.split('/').pop()!];
    throw new BerthError('CONFIG', `${file} is not installed on this host (not found on PATH)`, pkg ? `install it (Debian: apt install ${pkg})` : 'install it, or put it on PATH');
  }
  installed.add(key);
}

/** Runs to completion (killed after `timeoutMs`), feeding `input` to stdin. Never rejects for a non-zero exit. */
export function capture(cmd: Cmd, opts: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<Captured> {
  return new Promise((resolve, reject) => {
    const child = start(cmd);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(opts.input ?? '');
  });
}

/** Collects a child's stderr (bounded) and resolves with its exit once it closes. */
export function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 64_000) stderr += d.toString('utf8');
  });
  return new Promise((resolve) => {
    child.on('error', (e) => resolve({ code: -1, signal: null, stderr: `${stderr}${e.message}` }));
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

/**
 * Drops what a child writes from now on: its stdout is unpiped and read to its end. A child's
 * 'close' waits for its stdout to end, which a stream left paused with data never does.
 */
export function discardOutput(child: ChildProcess): void {
  child.stdout?.unpipe();
  child.stdout?.resume();
}

/**
 * Stops a child the way restic needs: SIGINT (restic removes its lock then; on SIGTERM it leaves
 * the lock file), and SIGKILL if it has not exited `graceMs` later. Resolves on its exit. Its
 * output from now on is dropped.
 */
export function interrupt(child: ChildProcess, graceMs = 10_000): Promise<void> {
  discardOutput(child);
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const stubborn = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(stubborn);
      resolve();
    });
    child.kill('SIGINT');
  });
}
