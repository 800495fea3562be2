/** Child processes for the deploy benchmark: the berth CLI (stderr lines stamped live), docker, docker events. */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const berthBin = path.join(repoRoot, 'bin/berth.js');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface StampedLine {
  /** performance.now() when the line reached this process. */
  readonly t: number;
  readonly line: string;
}

export interface ProcResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly lines: StampedLine[];
  readonly startedAt: number;
  readonly endedAt: number;
}

export interface LiveProc {
  readonly child: ChildProcess;
  readonly lines: StampedLine[];
  readonly done: Promise<ProcResult>;
}

/** Run a command; stderr is split into lines stamped on arrival. Killed after `timeoutMs`. */
export function run(cmd: string, args: readonly string[], timeoutMs = 120_000): LiveProc {
  const startedAt = performance.now();
  const child = spawn(cmd, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: StampedLine[] = [];
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => {
    const t = performance.now();
    stderr += d;
    const parts = (partial + d.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) lines.push({ t, line });
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<ProcResult>((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      if (partial) lines.push({ t: performance.now(), line: partial });
      resolve({ code: code ?? -1, stdout, stderr, lines, startedAt, endedAt: performance.now() });
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: `${stderr}${err.message}\n`, lines, startedAt, endedAt: performance.now() });
    });
  });
  return { child, lines, done };
}

export function berth(dir: string, args: readonly string[], timeoutMs = 120_000): LiveProc {
  return run(process.execPath, [berthBin, '-C', dir, ...args], timeoutMs);
}

export async function docker(args: readonly string[], timeoutMs = 60_000): Promise<ProcResult> {
  return run('docker', args, timeoutMs).done;
}

/** Like docker() but throws on a non-zero exit. */
export async function dockerOk(args: readonly string[], timeoutMs = 60_000): Promise<ProcResult> {
  const r = await docker(args, timeoutMs);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface DockerEvent {
  /** Event time on this process's performance.now() timeline. */
  readonly t: number;
  readonly action: string;
  readonly name: string;
  readonly exitCode?: string;
}

export interface EventWatch {
  readonly events: DockerEvent[];
  /** Resolves once `docker events` is running (it prints nothing until an event, so: a short grace). */
  readonly ready: Promise<void>;
  stop(): void;
}

/** `docker events` for container die events of one berth project, timestamped by the daemon (timeNano). */
export function watchDies(project: string, maxMs: number): EventWatch {
  const child = spawn('docker', ['events', '--filter', 'type=container', '--filter', 'event=die', '--filter', `label=berth.project=${project}`, '--format', '{{json .}}'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const events: DockerEvent[] = [];
  let partial = '';
  child.stdout.on('data', (d: Buffer) => {
    const parts = (partial + d.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      if (!line.trim()) continue;
      try {
        const e = JSON.parse(line) as { timeNano?: number; time?: number; Action?: string; Actor?: { Attributes?: Record<string, string> } };
        const epochMs = e.timeNano ? e.timeNano / 1e6 : (e.time ?? 0) * 1000;
        const attrs = e.Actor?.Attributes ?? {};
        events.push({ t: epochMs - performance.timeOrigin, action: e.Action ?? '', name: attrs.name ?? '', exitCode: attrs.exitCode });
      } catch {
        // not JSON: ignore
      }
    }
  });
  const timer = setTimeout(() => child.kill(), maxMs);
  return {
    events,
    ready: sleep(300),
    stop() {
      clearTimeout(timer);
      child.kill();
    },
  };
}

/** formatMs() output ("340 ms", "1.2 s", "1m3s") back to milliseconds. */
export function parseFormattedMs(s: string): number | undefined {
  let m = /^([\d.]+) ms$/.exec(s);
  if (m) return Number(m[1]);
  m = /^([\d.]+) s$/.exec(s);
  if (m) return Number(m[1]) * 1000;
  m = /^(\d+)m(\d+)s$/.exec(s);
  if (m) return Number(m[1]) * 60_000 + Number(m[2]) * 1000;
  return undefined;
}
