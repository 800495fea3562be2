/**
 * What berth needs from a container engine. One implementation today (`docker.ts`, Docker
 * Engine API through dockerode); Swarm would be a second one behind the same interface.
 */
import type Docker from 'dockerode';

export type ContainerCreateSpec = Docker.ContainerCreateOptions & { name: string };

export interface ContainerInfo {
  readonly id: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Docker state: created, running, restarting, exited, dead, paused, removing. */
  readonly state: string;
  readonly running: boolean;
  /** Docker health status when the container has a healthcheck. */
  readonly health?: 'starting' | 'healthy' | 'unhealthy';
  /** Last healthcheck output, for error messages. */
  readonly healthLog?: string;
  readonly imageId: string;
  readonly imageRef: string;
  readonly startedAt?: Date;
  readonly finishedAt?: Date;
  readonly exitCode: number;
  readonly restartCount: number;
  readonly oomKilled: boolean;
  /** Network engine name → IPv4 address. */
  readonly ips: Readonly<Record<string, string>>;
  /** Published host ports by container port ("80/tcp" → [8080]). */
  readonly ports: Readonly<Record<string, readonly number[]>>;
}

export interface ImageInfo {
  readonly id: string;
  readonly repoTags: readonly string[];
  readonly repoDigests: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

export interface NetworkSpec {
  readonly name: string;
  readonly driver?: string;
  readonly internal: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly driverOpts?: Readonly<Record<string, string>>;
  readonly enableIpv6?: boolean;
  readonly ipam?: {
    readonly driver?: string;
    readonly config: ReadonlyArray<{ readonly subnet?: string; readonly ipRange?: string; readonly gateway?: string; readonly auxAddresses?: Readonly<Record<string, string>> }>;
  };
}

export interface VolumeSpec {
  readonly name: string;
  readonly driver?: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface LogOptions {
  readonly tail?: number;
  readonly since?: number;
  readonly follow?: boolean;
  readonly timestamps?: boolean;
}

/** One event from the engine's events stream (containers only, for now). */
export interface EngineEvent {
  /** die, oom, start, restart, health_status: healthy, kill, stop, destroy… */
  readonly action: string;
  readonly id: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Set on `die`. */
  readonly exitCode?: number;
  /** Engine time of the event, ms since the epoch. */
  readonly timeMs: number;
}

export interface EventFilter {
  /** Only containers carrying every given label. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Only these actions (Docker's `event` filter, e.g. "die", "oom", "health_status"). */
  readonly actions?: readonly string[];
  /** Replay events since this time (ms since the epoch), then keep streaming. */
  readonly sinceMs?: number;
}

export interface EventSubscription {
  /** Settles when the stream ends: resolves after close(), rejects if the engine connection fails. */
  readonly done: Promise<void>;
  close(): void;
}

/** One-shot resource sample of a container (cumulative CPU counters: diff two samples). */
export interface ContainerStats {
  readonly cpuTotalNs: number;
  readonly systemCpuNs: number;
  readonly onlineCpus: number;
  /** The container's CPU limit in cores, when it has one. */
  readonly cpuLimitCores?: number;
  /** Usage without the reclaimable page cache, as `docker stats` shows it. */
  readonly memoryBytes: number;
  /** The container's memory limit, else the host's memory. */
  readonly memoryLimitBytes: number;
}

export interface Engine {
  ping(): Promise<void>;
  inspectImage(ref: string): Promise<ImageInfo | undefined>;
  pullImage(ref: string): Promise<void>;
  tagImage(imageId: string, repo: string, tag: string): Promise<void>;
  removeImage(ref: string): Promise<void>;
  listImageTags(repo: string): Promise<string[]>;
  ensureNetwork(spec: NetworkSpec): Promise<boolean>;
  networkExists(name: string): Promise<boolean>;
  volumeExists(name: string): Promise<boolean>;
  removeNetwork(name: string): Promise<void>;
  ensureVolume(spec: VolumeSpec): Promise<boolean>;
  removeVolume(name: string): Promise<void>;
  createContainer(spec: ContainerCreateSpec): Promise<string>;
  connectNetwork(containerId: string, network: string, aliases: readonly string[], address?: { readonly ipv4Address?: string; readonly ipv6Address?: string }): Promise<void>;
  startContainer(id: string): Promise<void>;
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  removeContainer(id: string): Promise<void>;
  signalContainer(id: string, signal: string): Promise<void>;
  inspectContainer(idOrName: string): Promise<ContainerInfo | undefined>;
  /** All containers (running or not) carrying every given label. */
  listContainers(labels: Readonly<Record<string, string>>): Promise<ContainerInfo[]>;
  /** Demultiplexed log text (stdout and stderr interleaved). */
  logs(id: string, options: LogOptions): Promise<string>;
  followLogs(id: string, options: LogOptions, onChunk: (text: string) => void, signal: AbortSignal): Promise<void>;
  /** Open the engine's events stream; resolves once the stream is open (no event is missed after that). */
  subscribeEvents(filter: EventFilter, onEvent: (event: EngineEvent) => void): Promise<EventSubscription>;
  /** A one-shot resource sample; undefined when the container is gone or not running. */
  containerStats(id: string): Promise<ContainerStats | undefined>;
}
