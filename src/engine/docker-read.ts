/**
 * The read side of the Docker Engine API (list, inspect, logs, events, stats) over the unix
 * socket with node:http alone. The agent watches through this, so the long-lived process does not
 * load dockerode (with ssh2, gRPC and protobuf it is ~20 MB of the daemon's memory); commands
 * that change containers keep using the dockerode adapter.
 */
import http from 'node:http';
import { BerthError } from '../lib/errors.js';
import { demux, toContainerInfo, toEngineEvent } from './docker.js';
import type { ContainerStats, Engine, EventSubscription } from './engine.js';

export type ReadEngine = Pick<Engine, 'ping' | 'inspectContainer' | 'listContainers' | 'logs' | 'subscribeEvents' | 'containerStats'>;

export function createDockerReadEngine(options: { socketPath?: string } = {}): ReadEngine {
  const socketPath = options.socketPath ?? (process.env.DOCKER_HOST?.startsWith('unix://') ? process.env.DOCKER_HOST.slice(7) : '/var/run/docker.sock');
  const get = (path: string) => request(socketPath, path);
  const getJson = async <T>(what: string, path: string): Promise<T | undefined> => {
    const { status, body } = await get(path);
    if (status === 404) return undefined;
    if (status >= 400) throw engineError(what, status, body);
    return JSON.parse(body.toString('utf8')) as T;
  };
  const inspectRaw = (id: string) => getJson<Parameters<typeof toContainerInfo>[0]>(`inspect ${id}`, `/containers/${encodeURIComponent(id)}/json`);

  return {
    async ping() {
      await get('/_ping');
    },
    async inspectContainer(id) {
      const raw = await inspectRaw(id);
      return raw ? toContainerInfo(raw) : undefined;
    },
    async listContainers(labels) {
      const filters = JSON.stringify({ label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) });
      const list = (await getJson<Array<{ Id: string }>>('list containers', `/containers/json?all=1&filters=${encodeURIComponent(filters)}`)) ?? [];
      const raws = await Promise.all(list.map((c) => inspectRaw(c.Id)));
      return raws.filter((r) => r !== undefined).map(toContainerInfo);
    },
    async logs(id, o) {
      const raw = await inspectRaw(id);
      if (!raw) throw new BerthError('ENGINE', `docker: logs ${id} failed: no such container`);
      const q = `stdout=1&stderr=1&tail=${o.tail ?? 'all'}&since=${o.since ?? 0}&timestamps=${o.timestamps ? 1 : 0}`;
      const { status, body } = await get(`/containers/${encodeURIComponent(id)}/logs?${q}`);
      if (status >= 400) throw engineError(`logs ${id}`, status, body);
      return raw.Config?.Tty ? body.toString('utf8') : demux(body);
    },
    async containerStats(id) {
      const raw = await inspectRaw(id);
      if (!raw?.State.Running) return undefined;
      const s = await getJson<RawStats>(`stats ${id}`, `/containers/${encodeURIComponent(id)}/stats?stream=false&one-shot=true`);
      return s?.cpu_stats ? toStats(s, raw.HostConfig?.NanoCpus ?? 0) : undefined;
    },
    subscribeEvents: (filter, onEvent) => {
      const filters: Record<string, string[]> = { type: ['container'] };
      if (filter.labels) filters.label = Object.entries(filter.labels).map(([k, v]) => `${k}=${v}`);
      if (filter.actions) filters.event = [...filter.actions];
      const since = filter.sinceMs !== undefined ? `&since=${Math.floor(filter.sinceMs / 1000)}` : '';
      return openEvents(socketPath, `/events?filters=${encodeURIComponent(JSON.stringify(filters))}${since}`, (line) => {
        const event = toEngineEvent(JSON.parse(line));
        if (event) onEvent(event);
      });
    },
  };
}

interface RawStats {
  cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
}

function toStats(raw: RawStats, nanoCpus: number): ContainerStats {
  const mem = raw.memory_stats ?? {};
  const cache = mem.stats?.inactive_file ?? mem.stats?.total_inactive_file ?? 0;
  return {
    cpuTotalNs: raw.cpu_stats?.cpu_usage?.total_usage ?? 0,
    systemCpuNs: raw.cpu_stats?.system_cpu_usage ?? 0,
    onlineCpus: raw.cpu_stats?.online_cpus ?? 1,
    ...(nanoCpus > 0 ? { cpuLimitCores: nanoCpus / 1e9 } : {}),
    memoryBytes: Math.max(0, (mem.usage ?? 0) - cache),
    memoryLimitBytes: mem.limit ?? 0,
  };
}

function request(socketPath: string, path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path, headers: { host: 'docker' }, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('the Docker engine did not answer within 30 s')));
    req.on('error', (err) => reject(unreachable(socketPath, err)));
  });
}

function openEvents(socketPath: string, path: string, onLine: (line: string) => void): Promise<EventSubscription> {
  return new Promise((resolve, reject) => {
    let closed = false;
    const req = http.get({ socketPath, path, headers: { host: 'docker' } }, (res) => {
      if ((res.statusCode ?? 0) >= 400) {
        res.resume();
        return reject(engineError('events', res.statusCode ?? 0, Buffer.alloc(0)));
      }
      let pending = '';
      const done = new Promise<void>((ok, fail) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          pending += chunk;
          let nl: number;
          while ((nl = pending.indexOf('\n')) >= 0) {
            const line = pending.slice(0, nl).trim();
            pending = pending.slice(nl + 1);
            if (line) onLine(line);
          }
        });
        const end = (why: string) => (closed ? ok() : fail(new Error(why)));
        res.on('error', (err) => end(err.message));
        res.on('end', () => end('the Docker events stream ended'));
        res.on('close', () => end('the Docker events stream closed'));
      });
      done.catch(() => undefined);
      resolve({
        done,
        close() {
          closed = true;
          req.destroy();
        },
      });
    });
    req.on('error', (err) => reject(unreachable(socketPath, err)));
  });
}

function unreachable(socketPath: string, err: NodeJS.ErrnoException): Error {
  if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'EACCES') {
    return new BerthError('ENGINE', `cannot reach the Docker engine at ${socketPath} (${err.code})`, 'start dockerd or set DOCKER_HOST=unix:///path/to/docker.sock', { cause: err });
  }
  return err;
}

function engineError(what: string, status: number, body: Buffer): BerthError {
  let message = body.toString('utf8').trim();
  try {
    message = (JSON.parse(message) as { message?: string }).message ?? message;
  } catch {
    // plain text
  }
  return new BerthError('ENGINE', `docker: ${what} failed: ${message || `HTTP ${status}`}`);
}
