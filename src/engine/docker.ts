/** Docker Engine API adapter (dockerode). Maps engine failures to BerthError('ENGINE'). */
import type Docker from 'dockerode';
import { PassThrough } from 'node:stream';
import { BerthError } from '../lib/errors.js';
import type { ContainerCreateSpec, ContainerInfo, ContainerStats, Engine, EngineEvent, EventFilter, EventSubscription, ImageInfo, LogOptions, NetworkSpec, VolumeSpec } from './engine.js';

export interface DockerEngineOptions {
  /** Unix socket path; default DOCKER_HOST (unix://) or /var/run/docker.sock. */
  readonly socketPath?: string;
}

export function createDockerEngine(options: DockerEngineOptions = {}): Engine {
  const socketPath = options.socketPath ?? socketFromEnv(process.env.DOCKER_HOST) ?? '/var/run/docker.sock';
  // Loaded on first use: processes that only read through docker-read.ts (the agent) never load it.
  let instance: Docker | undefined;
  const load = async (): Promise<Docker> => (instance ??= new (await import('dockerode')).default({ socketPath }));
  const wrapped = engineErrorWrapper(socketPath);
  const wrap = <T>(what: string, run: (docker: Docker) => Promise<T>): Promise<T> => wrapped(what, async () => run(await load()));

  return {
    ping: () => wrap('ping', async (docker) => void (await docker.ping())),
    inspectImage: (ref) => wrap(`inspect image ${ref}`, (docker) => inspectImage(docker, ref)),
    pullImage: (ref) => wrap(`pull ${ref}`, (docker) => pullImage(docker, ref)),
    tagImage: (id, repo, tag) => wrap(`tag ${id}`, async (docker) => void (await docker.getImage(id).tag({ repo, tag }))),
    removeImage: (ref) => wrap(`remove image ${ref}`, (docker) => ignore404(docker.getImage(ref).remove({ noprune: true }))),
    listImageTags: (repo) =>
      wrap('list images', async (docker) => {
        const images = await docker.listImages({ filters: { reference: [repo] } });
        return images.flatMap((i) => i.RepoTags ?? []).filter((t) => t.startsWith(`${repo}:`));
      }),
    ensureNetwork: (spec) => wrap(`network ${spec.name}`, (docker) => ensureNetwork(docker, spec)),
    networkExists: (name) => wrap(`network ${name}`, async (docker) => (await ignore404(docker.getNetwork(name).inspect())) !== undefined),
    removeNetwork: (name) => wrap(`remove network ${name}`, (docker) => ignore404(docker.getNetwork(name).remove())),
    volumeExists: (name) => wrap(`volume ${name}`, async (docker) => (await ignore404(docker.getVolume(name).inspect())) !== undefined),
    ensureVolume: (spec) => wrap(`volume ${spec.name}`, (docker) => ensureVolume(docker, spec)),
    removeVolume: (name) => wrap(`remove volume ${name}`, (docker) => ignore404(docker.getVolume(name).remove())),
    createContainer: (spec) => wrap(`create ${spec.name}`, async (docker) => (await docker.createContainer(spec)).id),
    connectNetwork: (id, network, aliases, address) =>
      wrap(`connect ${id} to ${network}`, async (docker) => {
        const ipam = address?.ipv4Address || address?.ipv6Address ? { IPAMConfig: { IPv4Address: address.ipv4Address, IPv6Address: address.ipv6Address } } : {};
        await docker.getNetwork(network).connect({ Container: id, EndpointConfig: { Aliases: [...aliases], ...ipam } });
      }),
    startContainer: (id) => wrap(`start ${id}`, async (docker) => void (await ignore304(docker.getContainer(id).start()))),
    stopContainer: (id, t) => wrap(`stop ${id}`, async (docker) => void (await ignore304(ignore404(docker.getContainer(id).stop({ t }))))),
    removeContainer: (id) => wrap(`remove ${id}`, async (docker) => void (await ignore404(docker.getContainer(id).remove({ force: true, v: false })))),
    signalContainer: (id, signal) => wrap(`signal ${id}`, async (docker) => void (await docker.getContainer(id).kill({ signal }))),
    inspectContainer: (id) =>
      wrap(`inspect ${id}`, async (docker) => {
        const raw = await ignore404(docker.getContainer(id).inspect());
        return raw ? toContainerInfo(raw) : undefined;
      }),
    listContainers: (labels) => wrap('list containers', (docker) => listContainers(docker, labels)),
    logs: (id, o) => wrap(`logs ${id}`, (docker) => readLogs(docker, id, o)),
    followLogs: (id, o, onChunk, signal) => wrap(`logs ${id}`, (docker) => followLogs(docker, id, o, onChunk, signal)),
    subscribeEvents: (filter, onEvent) => wrap('events', (docker) => subscribeEvents(docker, filter, onEvent)),
    containerStats: (id) => wrap(`stats ${id}`, (docker) => containerStats(docker, id)),
  };
}

function socketFromEnv(dockerHost: string | undefined): string | undefined {
  return dockerHost?.startsWith('unix://') ? dockerHost.slice('unix://'.length) : undefined;
}

function engineErrorWrapper(socketPath: string) {
  return async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      if (err instanceof BerthError) throw err;
      const e = err as { code?: string; statusCode?: number; json?: { message?: string }; message?: string };
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'EACCES') {
        throw new BerthError(
          'ENGINE',
          `cannot reach the Docker engine at ${socketPath} (${e.code})`,
          e.code === 'EACCES'
            ? 'run berth as root or as a member of the docker group'
            : 'start dockerd (e.g. `systemctl start docker`) or set DOCKER_HOST=unix:///path/to/docker.sock',
          { cause: err },
        );
      }
      const detail = e.json?.message ?? e.message ?? String(err);
      throw new BerthError('ENGINE', `docker: ${what} failed: ${detail.trim()}`, undefined, { cause: err });
    }
  };
}

async function ignore404<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw err;
  }
}

async function ignore304<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 304) return undefined;
    throw err;
  }
}

async function inspectImage(docker: Docker, ref: string): Promise<ImageInfo | undefined> {
  const raw = await ignore404(docker.getImage(ref).inspect());
  if (!raw) return undefined;
  return {
    id: raw.Id,
    repoTags: raw.RepoTags ?? [],
    repoDigests: raw.RepoDigests ?? [],
    labels: raw.Config?.Labels ?? {},
  };
}

async function pullImage(docker: Docker, ref: string): Promise<void> {
  const stream = await docker.pull(ref);
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())),
  );
}

async function ensureNetwork(docker: Docker, spec: NetworkSpec): Promise<boolean> {
  if (await ignore404(docker.getNetwork(spec.name).inspect())) return false;
  await docker.createNetwork({
    Name: spec.name,
    Driver: spec.driver ?? 'bridge',
    Internal: spec.internal,
    CheckDuplicate: true,
    Labels: { ...spec.labels },
    Options: spec.driverOpts && { ...spec.driverOpts },
    EnableIPv6: spec.enableIpv6,
    IPAM: spec.ipam && {
      Driver: spec.ipam.driver ?? 'default',
      Config: spec.ipam.config.map((p) => ({ Subnet: p.subnet, IPRange: p.ipRange, Gateway: p.gateway, AuxiliaryAddresses: p.auxAddresses && { ...p.auxAddresses } })),
    },
  });
  return true;
}

async function ensureVolume(docker: Docker, spec: VolumeSpec): Promise<boolean> {
  if (await ignore404(docker.getVolume(spec.name).inspect())) return false;
  await docker.createVolume({ Name: spec.name, Driver: spec.driver ?? 'local', Labels: { ...spec.labels } });
  return true;
}

async function listContainers(docker: Docker, labels: Readonly<Record<string, string>>): Promise<ContainerInfo[]> {
  const label = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  const list = await docker.listContainers({ all: true, filters: { label } });
  const infos = await Promise.all(list.map((c) => ignore404(docker.getContainer(c.Id).inspect())));
  return infos.filter((i): i is Docker.ContainerInspectInfo => i !== undefined).map(toContainerInfo);
}

export function toContainerInfo(raw: Docker.ContainerInspectInfo): ContainerInfo {
  const health = (raw.State as { Health?: { Status?: string; Log?: Array<{ Output?: string }> } }).Health;
  const status = health?.Status;
  const ips: Record<string, string> = {};
  for (const [name, net] of Object.entries(raw.NetworkSettings?.Networks ?? {})) {
    if (net?.IPAddress) ips[name] = net.IPAddress;
  }
  return {
    id: raw.Id,
    name: raw.Name.replace(/^\//, ''),
    labels: raw.Config?.Labels ?? {},
    state: raw.State.Status,
    running: raw.State.Running,
    health: status === 'starting' || status === 'healthy' || status === 'unhealthy' ? status : undefined,
    healthLog: health?.Log?.at(-1)?.Output?.trim(),
    imageId: raw.Image,
    imageRef: raw.Config?.Image ?? raw.Image,
    startedAt: validDate(raw.State.StartedAt),
    finishedAt: validDate(raw.State.FinishedAt),
    exitCode: raw.State.ExitCode,
    restartCount: raw.RestartCount,
    oomKilled: raw.State.OOMKilled,
    ips,
    ports: Object.fromEntries(
      Object.entries(raw.NetworkSettings?.Ports ?? {}).map(([k, v]) => [k, (v ?? []).map((b) => Number(b.HostPort)).filter((n) => n > 0)]),
    ),
  };
}

function validDate(s: string | undefined): Date | undefined {
  if (!s || s.startsWith('0001-')) return undefined;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

function logParams(o: LogOptions) {
  // dockerode's typings want a number; the engine also accepts "all".
  const tail = (o.tail ?? 'all') as unknown as number;
  return { stdout: true, stderr: true, tail, since: o.since ?? 0, timestamps: o.timestamps ?? false };
}

async function readLogs(docker: Docker, id: string, o: LogOptions): Promise<string> {
  const container = docker.getContainer(id);
  const info = await container.inspect();
  const buf: Buffer = await container.logs({ ...logParams(o), follow: false });
  return info.Config.Tty ? buf.toString('utf8') : demux(buf);
}

/** Docker's multiplexed log framing: 8-byte header (stream, 0,0,0, size BE32) per frame. */
export function demux(buf: Buffer): string {
  const parts: string[] = [];
  let offset = 0;
  while (offset + 8 <= buf.length) {
    const size = buf.readUInt32BE(offset + 4);
    parts.push(buf.subarray(offset + 8, offset + 8 + size).toString('utf8'));
    offset += 8 + size;
  }
  return parts.join('');
}

async function followLogs(
  docker: Docker,
  id: string,
  o: LogOptions,
  onChunk: (text: string) => void,
  signal: AbortSignal,
): Promise<void> {
  const container = docker.getContainer(id);
  const stream = (await container.logs({ ...logParams(o), follow: true })) as unknown as NodeJS.ReadableStream & { destroy(): void };
  const out = new PassThrough();
  out.on('data', (d: Buffer) => onChunk(d.toString('utf8')));
  docker.modem.demuxStream(stream, out, out);
  await new Promise<void>((resolve) => {
    const stop = () => {
      stream.destroy();
      resolve();
    };
    if (signal.aborted) return stop();
    signal.addEventListener('abort', stop, { once: true });
    stream.on('end', resolve);
    stream.on('close', resolve);
  });
}

interface RawEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  timeNano?: number;
  time?: number;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

async function subscribeEvents(docker: Docker, filter: EventFilter, onEvent: (event: EngineEvent) => void): Promise<EventSubscription> {
  const filters: Record<string, string[]> = { type: ['container'] };
  if (filter.labels) filters.label = Object.entries(filter.labels).map(([k, v]) => `${k}=${v}`);
  if (filter.actions) filters.event = [...filter.actions];
  const opts: { filters: Record<string, string[]>; since?: number } = { filters };
  if (filter.sinceMs !== undefined) opts.since = Math.floor(filter.sinceMs / 1000);
  const stream = (await docker.getEvents(opts)) as unknown as NodeJS.ReadableStream & { destroy(): void };
  let closed = false;
  let pending = '';
  const done = new Promise<void>((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (!line) continue;
        const event = toEngineEvent(JSON.parse(line) as RawEvent);
        if (event) onEvent(event);
      }
    });
    stream.on('error', (err: Error) => (closed ? resolve() : reject(err)));
    stream.on('end', () => (closed ? resolve() : reject(new Error('the Docker events stream ended'))));
    stream.on('close', () => (closed ? resolve() : reject(new Error('the Docker events stream closed'))));
  });
  done.catch(() => undefined); // callers that only close() must not see an unhandled rejection
  return {
    done,
    close: () => {
      closed = true;
      stream.destroy();
    },
  };
}

export function toEngineEvent(raw: RawEvent): EngineEvent | undefined {
  if ((raw.Type ?? 'container') !== 'container') return undefined;
  const attrs = raw.Actor?.Attributes ?? {};
  const id = raw.Actor?.ID ?? raw.id;
  const action = raw.Action ?? raw.status;
  if (!id || !action) return undefined;
  const { name = '', exitCode, ...rest } = attrs;
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(rest)) if (k !== 'image') labels[k] = v;
  const timeMs = raw.timeNano ? Math.floor(raw.timeNano / 1e6) : (raw.time ?? 0) * 1000;
  return { action, id, name, labels, timeMs, ...(exitCode !== undefined ? { exitCode: Number(exitCode) } : {}) };
}

interface RawStats {
  cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
}

async function containerStats(docker: Docker, id: string): Promise<ContainerStats | undefined> {
  const c = docker.getContainer(id);
  const info = await ignore404(c.inspect());
  if (!info?.State.Running) return undefined;
  // one-shot: dockerd answers at once instead of sampling twice a second apart.
  const raw = (await ignore404(c.stats({ stream: false, 'one-shot': true } as { stream: false }))) as RawStats | undefined;
  if (!raw?.cpu_stats) return undefined;
  const mem = raw.memory_stats ?? {};
  const cache = mem.stats?.inactive_file ?? mem.stats?.total_inactive_file ?? 0;
  const nano = info.HostConfig?.NanoCpus ?? 0;
  return {
    cpuTotalNs: raw.cpu_stats.cpu_usage?.total_usage ?? 0,
    systemCpuNs: raw.cpu_stats.system_cpu_usage ?? 0,
    onlineCpus: raw.cpu_stats.online_cpus ?? 1,
    ...(nano > 0 ? { cpuLimitCores: nano / 1e9 } : {}),
    memoryBytes: Math.max(0, (mem.usage ?? 0) - cache),
    memoryLimitBytes: mem.limit ?? 0,
  };
}
