/**
 * The one typed value every command works from (ARCHITECTURE.md "One model inside").
 * Produced by `loadProject()` from compose files + berth.yaml + .env; readonly throughout.
 * Durations are milliseconds, sizes bytes, CPU in nano-CPUs, as the Docker Engine API wants them.
 */
import type { SourcePos } from '../lib/errors.js';
import type { NotifyConfig } from './notify-schema.js';
import type { ReplicateConfig } from './replicate-schema.js';
import type { BackupConfig } from './backup-schema.js';
import type { MonitorConfig } from './monitor-schema.js';

export type DependsCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';
export type RestartPolicy = 'no' | 'always' | 'unless-stopped' | 'on-failure';

export interface PortMapping {
  /** Host port; undefined means "expose only / ephemeral". */
  readonly hostPort?: number;
  readonly hostIp?: string;
  readonly containerPort: number;
  readonly protocol: 'tcp' | 'udp';
}

export interface Mount {
  readonly type: 'volume' | 'bind' | 'tmpfs';
  /** Volume: the project-level volume key (or external name) ; bind: absolute host path; tmpfs: undefined. */
  readonly source?: string;
  readonly target: string;
  readonly readOnly: boolean;
  /** Bind: make the source folder when it is missing (Compose's short syntax, `bind.create_host_path`). */
  readonly createHostPath?: boolean;
}

export interface Healthcheck {
  /** Docker form: ["CMD", ...] | ["CMD-SHELL", "..."] | ["NONE"]. */
  readonly test: readonly string[];
  readonly intervalMs?: number;
  readonly timeoutMs?: number;
  readonly retries?: number;
  readonly startPeriodMs?: number;
}

export interface SecretMount {
  /** Project-level secret key. */
  readonly source: string;
  /** Absolute path inside the container (default /run/secrets/<source>). */
  readonly target: string;
}

export interface ResourceLimits {
  readonly nanoCpus?: number;
  readonly memoryBytes?: number;
  readonly pids?: number;
}

/** berth.yaml: how the edge reaches a service. */
export interface Route {
  readonly hosts: readonly string[];
  /** Container port the edge sends traffic to. */
  readonly port: number;
  /**
   * berth.yaml `route.tls`: where the route's host names are served over HTTPS. berth's edge
   * speaks plain HTTP, so this is a TLS terminator in front of it (or the service itself); berth
   * does not serve it, the agent checks its certificate (a default TLS-expiry probe per host).
   */
  readonly tls?: { readonly hostIp: string; readonly hostPort: number };
}

/** berth.yaml: the HTTP health probe used to gate a deploy (used when set; else Compose healthcheck). */
export interface HttpProbe {
  readonly path: string;
  readonly port: number;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Inclusive status range that counts as healthy. */
  readonly statusMin: number;
  readonly statusMax: number;
}

export interface DeployPolicy {
  /** How long in-flight requests may finish on the old color after a switch. */
  readonly drainMs: number;
  /** How long the new color is watched after the switch before the deploy counts as done. */
  readonly verifyMs: number;
  /** How long a new color may take to become healthy. */
  readonly healthTimeoutMs: number;
  /** Images of this many last successful deployments are kept from pruning. */
  readonly keepImages: number;
}

/** A service's membership of one project network (Compose long syntax under `services.X.networks`). */
export interface ServiceNetwork {
  readonly aliases: readonly string[];
  /** Fixed addresses (Compose `ipv4_address`/`ipv6_address`); only for services without an edge route. */
  readonly ipv4Address?: string;
  readonly ipv6Address?: string;
}

/** Compose `network_mode` values berth runs; only for services without an edge route. */
export type NetworkMode = 'host' | 'none';

export interface Service {
  readonly name: string;
  readonly image: string;
  readonly command?: readonly string[];
  readonly entrypoint?: readonly string[];
  /** env_file then environment, interpolated; values are strings. */
  readonly environment: Readonly<Record<string, string>>;
  /** Absolute paths of the service's `env_file` entries that exist (the config backup keeps them with include_env). */
  readonly envFiles?: readonly string[];
  readonly ports: readonly PortMapping[];
  readonly expose: readonly number[];
  readonly mounts: readonly Mount[];
  /**
   * Network key → membership. At least one entry (`default` when none declared), except with
   * `networkMode`, where it is always empty.
   */
  readonly networks: Readonly<Record<string, ServiceNetwork>>;
  /** Compose `network_mode: host|none`: the container joins no project network and publishes no ports. */
  readonly networkMode?: NetworkMode;
  readonly dependsOn: Readonly<Record<string, DependsCondition>>;
  readonly healthcheck?: Healthcheck;
  readonly restart: RestartPolicy;
  readonly user?: string;
  readonly workingDir?: string;
  readonly hostname?: string;
  readonly readOnly: boolean;
  readonly capAdd: readonly string[];
  readonly capDrop: readonly string[];
  readonly securityOpt: readonly string[];
  /** Mount point → options (Docker HostConfig.Tmpfs form). */
  readonly tmpfs: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly limits: ResourceLimits;
  readonly secrets: readonly SecretMount[];
  readonly stopSignal?: string;
  readonly stopGracePeriodMs?: number;
  /** Compose `init:` — run an init process as PID 1 (HostConfig.Init). */
  readonly init?: boolean;
  /** Namespaced kernel parameters (HostConfig.Sysctls). */
  readonly sysctls?: Readonly<Record<string, string>>;
  /** From berth.yaml. */
  readonly route?: Route;
  readonly probe?: HttpProbe;
  readonly deploy: DeployPolicy;
  /** Where the service is declared, for messages. */
  readonly pos?: SourcePos;
}

/** One address pool of a network's IPAM config (Docker `IPAM.Config[]`). */
export interface IpamPool {
  /** CIDR, e.g. `172.20.0.0/24`. */
  readonly subnet?: string;
  /** CIDR inside `subnet` that container addresses are allocated from. */
  readonly ipRange?: string;
  readonly gateway?: string;
  /** Host name → address reserved in the subnet (Docker `AuxiliaryAddresses`). */
  readonly auxAddresses?: Readonly<Record<string, string>>;
}

export interface Ipam {
  readonly driver?: string;
  readonly config: readonly IpamPool[];
}

export interface Network {
  readonly key: string;
  /** Engine name: `<project>_<key>` unless external or `name:` given. */
  readonly name: string;
  readonly external: boolean;
  readonly driver?: string;
  /** Compose `driver_opts` (Docker `Options`). */
  readonly driverOpts?: Readonly<Record<string, string>>;
  readonly internal: boolean;
  /** Compose `enable_ipv6` (Docker `EnableIPv6`); needed for IPv6 subnets and addresses. */
  readonly enableIpv6?: boolean;
  /** Compose `ipam` (Docker `IPAM`): custom subnets, needed for fixed service addresses. */
  readonly ipam?: Ipam;
  readonly labels: Readonly<Record<string, string>>;
}

export interface Volume {
  readonly key: string;
  readonly name: string;
  readonly external: boolean;
  readonly driver?: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface Secret {
  readonly key: string;
  /** Absolute path of the file holding the secret. */
  readonly file: string;
}

export interface EdgeListener {
  readonly hostIp: string;
  readonly hostPort: number;
  /** When set, requests with no matching host go to this service (a routed service's own published port). */
  readonly defaultService?: string;
}

export interface EdgeConfig {
  /** Image with haproxy ≥ 2.4 on PATH. */
  readonly image: string;
  /** Host-name routing listeners from berth.yaml, plus the published ports of routed services. */
  readonly listeners: readonly EdgeListener[];
}

export interface Project {
  /** Compose project name: [a-z0-9][a-z0-9_-]*. */
  readonly name: string;
  /** Absolute path of the project folder. */
  readonly dir: string;
  readonly composeFiles: readonly string[];
  readonly berthFile?: string;
  readonly stateDir: string;
  readonly services: Readonly<Record<string, Service>>;
  readonly networks: Readonly<Record<string, Network>>;
  readonly volumes: Readonly<Record<string, Volume>>;
  readonly secrets: Readonly<Record<string, Secret>>;
  readonly edge: EdgeConfig;
  /** berth.yaml `notify:`; absent when not configured. */
  readonly notify?: NotifyConfig;
  /** berth.yaml `backup.replicate`, only on a backup host. */
  readonly replicate?: ReplicateConfig;
  /** berth.yaml `backup:`; absent when not configured. */
  readonly backup?: BackupConfig;
  /** berth.yaml `monitor:` resolved: the agent's probes and rules. */
  readonly monitor: MonitorConfig;
}

export const defaultDeployPolicy = {
  drainMs: 10_000,
  verifyMs: 30_000,
  healthTimeoutMs: 120_000,
  keepImages: 5,
} as const satisfies DeployPolicy;

export const defaultEdgeImage = 'berth-haproxy:local';
