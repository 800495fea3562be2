/**
 * Integration test harness: real dockerd, real HAProxy edge, the real CLI as a child process.
 * Each test project gets its own short temp dir, project name and loopback ports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const berthBin = path.join(repoRoot, 'bin/berth.js');

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface TestProject {
  readonly dir: string;
  readonly name: string;
  readonly edgePort: number;
  berth(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<RunResult>;
  spawnBerth(args: readonly string[], env?: NodeJS.ProcessEnv): ChildProcess & { output: () => string; done: Promise<number> };
  write(file: string, content: string): void;
  get(pathname?: string, host?: string): Promise<{ status: number; body: string }>;
  cleanup(): Promise<void>;
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

/**
 * A berth command that has not ended after this long hangs: it is killed, so its test fails with
 * what it printed instead of holding the test file (and CI) open after the test timed out.
 */
const hungAfterMs = 300_000;

export function runBerth(cwd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [berthBin, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const hung = setTimeout(() => {
      stderr += `\n[test harness: berth ${args.join(' ')} still running after ${hungAfterMs / 1000} s: killed]\n`;
      child.kill('SIGKILL');
    }, hungAfterMs);
    hung.unref();
    child.on('close', (code) => {
      clearTimeout(hung);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** Fill `{{EDGE_PORT}}`, `{{NAME}}` and `{{PORT2}}` placeholders. */
export async function createTestProject(files: Readonly<Record<string, string>>): Promise<TestProject> {
  const name = `bt${randomBytes(3).toString('hex')}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-'));
  const edgePort = await freePort();
  const port2 = await freePort();
  const fill = (s: string) => s.replaceAll('{{EDGE_PORT}}', String(edgePort)).replaceAll('{{NAME}}', name).replaceAll('{{PORT2}}', String(port2));
  const write = (file: string, content: string) => fs.writeFileSync(path.join(dir, file), fill(content));
  for (const [f, c] of Object.entries(files)) write(f, c);
  const base = ['-C', dir];
  return {
    dir,
    name,
    edgePort,
    write,
    berth: (args, env) => runBerth(dir, [...base, ...args], env),
    spawnBerth(args, env) {
      const child = spawn(process.execPath, [berthBin, ...base, ...args], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      child.stderr!.on('data', (d) => (out += d));
      const done = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
      return Object.assign(child, { output: () => out, done });
    },
    get: (pathname = '/', host = 'app.localhost') => httpGet(edgePort, pathname, host),
    async cleanup() {
      await runBerth(dir, [...base, 'down', '--volumes', '-q']);
      await dockerCleanup(name);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function httpGet(port: number, pathname: string, host: string, agent?: http.Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathname, headers: { host }, agent: agent ?? false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      // A response cut off mid-body (the upstream died) ends with 'close' but no 'end'.
      res.on('close', () => {
        if (!res.complete) reject(new Error('response aborted'));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export interface LoadResult {
  requests: number;
  non2xx: number;
  errors: number;
  bodies: Map<string, number>;
}

/** Keep-alive request loop through the edge until `signal` aborts (bounded by maxMs anyway). */
export async function loadUntil(port: number, host: string, signal: AbortSignal, maxMs = 60_000, concurrency = 4): Promise<LoadResult> {
  const result: LoadResult = { requests: 0, non2xx: 0, errors: 0, bodies: new Map() };
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const deadline = Date.now() + maxMs;
  const worker = async () => {
    while (!signal.aborted && Date.now() < deadline) {
      try {
        const r = await httpGet(port, '/', host, agent);
        result.requests++;
        if (r.status < 200 || r.status > 299) result.non2xx++;
        else result.bodies.set(r.body.trim(), (result.bodies.get(r.body.trim()) ?? 0) + 1);
      } catch {
        result.requests++;
        result.errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return result;
}

export async function dockerCleanup(project: string): Promise<void> {
  const sh = (cmd: string) => new Promise<void>((resolve) => spawn('sh', ['-c', cmd], { stdio: 'ignore' }).on('close', () => resolve()));
  await sh(`docker ps -aq --filter label=berth.project=${project} | xargs -r docker rm -f`);
  await sh(`docker network ls -q --filter label=berth.project=${project} | xargs -r docker network rm`);
  await sh(`docker volume ls -q --filter label=berth.project=${project} | xargs -r docker volume rm`);
  await sh(`docker images --format '{{.Repository}}:{{.Tag}}' | grep '^berth-keep/${project}-' | xargs -r docker rmi`);
}

export function dockerPs(project: string): Promise<string[]> {
  return new Promise((resolve) => {
    let out = '';
    const c = spawn('docker', ['ps', '-a', '--filter', `label=berth.project=${project}`, '--format', '{{.Names}} {{.State}}']);
    c.stdout.on('data', (d) => (out += d));
    c.on('close', () => resolve(out.split('\n').filter(Boolean).sort()));
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export const webStack = {
  'compose.yaml': `
services:
  web:
    image: berth-test/app:v1
    ports: ["127.0.0.1:{{PORT2}}:80"]
    restart: unless-stopped
    environment:
      DIES_AFTER: "2"
`,
  'berth.yaml': `
name: {{NAME}}
edge:
  listen: ["127.0.0.1:{{EDGE_PORT}}"]
services:
  web:
    route: { hosts: [app.localhost], port: 80 }
    health: { path: /healthz, interval: 500ms, timeout: 1s }
    deploy: { drain: 1s, verify: 3s, health_timeout: 10s }
`,
};
