/**
 * Pure builder: Service model → Docker Engine create body. Never talks to the engine
 * (STYLE.md habit 1), so every mapping is unit-tested with structured assertions.
 */
import { createHash } from 'node:crypto';
import type { Project, Service } from '../../project/model.js';
import type { ContainerCreateSpec } from '../engine.js';
import { containerName, label, type Color } from '../labels.js';

export interface ContainerBuildOptions {
  readonly color: Color;
  readonly deploymentId: string;
  /** Resolved image ID (sha256:…): containers run the digest, never a moving tag. */
  readonly imageId: string;
  /** Routed services leave their published ports to the edge. */
  readonly publishPorts: boolean;
}

/** A network to join after create, as the engine's connect call needs it. */
export interface ExtraNetwork {
  /** Engine name. */
  readonly name: string;
  readonly aliases: readonly string[];
  /** Fixed addresses (EndpointConfig.IPAMConfig.IPv4Address / IPv6Address of the connect call). */
  readonly ipv4Address?: string;
  readonly ipv6Address?: string;
}

export interface BuiltContainer {
  readonly spec: ContainerCreateSpec;
  /** Networks to connect after create (the API takes one at create time); empty with a network mode. */
  readonly extraNetworks: readonly ExtraNetwork[];
  readonly configHash: string;
}

const ms = (v: number | undefined) => (v === undefined ? undefined : v * 1_000_000);

export function buildContainer(project: Project, service: Service, o: ContainerBuildOptions): BuiltContainer {
  // A network mode replaces the project networks (the loader leaves `networks` empty then).
  const memberships = service.networkMode ? [] : Object.entries(service.networks);
  const networks = memberships.map(([key, n]): ExtraNetwork => {
    const joined = { name: project.networks[key]?.name ?? `${project.name}_${key}`, aliases: [service.name, ...n.aliases] };
    return withoutUndefined({ ...joined, ipv4Address: n.ipv4Address, ipv6Address: n.ipv6Address });
  });
  const [first, ...rest] = networks;
  const body = colorNeutralBody(project, service, o);
  // Fixed addresses are part of the config; hashed only when set so other hashes stay as they were.
  const addresses = networks
    .filter((n) => n.ipv4Address !== undefined || n.ipv6Address !== undefined)
    .map(({ name, ipv4Address, ipv6Address }) => ({ name, ipv4Address, ipv6Address }));
  const configHash = hashConfig(body, o.imageId, addresses.length ? addresses : undefined);
  const spec: ContainerCreateSpec = {
    ...body,
    name: containerName(project.name, service.name, o.color),
    Labels: {
      ...body.Labels,
      [label.color]: o.color,
      [label.deployment]: o.deploymentId,
      [label.configHash]: configHash,
    },
    NetworkingConfig: first ? { EndpointsConfig: { [first.name]: endpoint(first) } } : undefined,
  };
  return { spec, extraNetworks: rest, configHash };
}

function endpoint(n: ExtraNetwork): { Aliases: string[]; IPAMConfig?: { IPv4Address?: string; IPv6Address?: string } } {
  const fixed = n.ipv4Address !== undefined || n.ipv6Address !== undefined;
  const IPAMConfig = withoutUndefined({ IPv4Address: n.ipv4Address, IPv6Address: n.ipv6Address });
  return fixed ? { Aliases: [...n.aliases], IPAMConfig } : { Aliases: [...n.aliases] };
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** Everything that defines the container except its color, name and deployment. */
function colorNeutralBody(project: Project, service: Service, o: ContainerBuildOptions): Omit<ContainerCreateSpec, 'name'> {
  // The loader refuses ports with a network mode; none are bound there either way.
  const published = o.publishPorts && !service.networkMode ? service.ports.filter((p) => p.hostPort !== undefined) : [];
  const exposed = [...service.ports.map((p) => `${p.containerPort}/${p.protocol}`), ...service.expose.map((p) => `${p}/tcp`)];
  return {
    Image: o.imageId,
    Cmd: service.command ? [...service.command] : undefined,
    Entrypoint: service.entrypoint ? [...service.entrypoint] : undefined,
    Env: Object.entries(service.environment).map(([k, v]) => `${k}=${v}`),
    User: service.user,
    WorkingDir: service.workingDir,
    Hostname: service.hostname,
    StopSignal: service.stopSignal,
    StopTimeout: service.stopGracePeriodMs === undefined ? undefined : Math.ceil(service.stopGracePeriodMs / 1000),
    ExposedPorts: Object.fromEntries(exposed.map((p) => [p, {}])),
    Healthcheck: service.healthcheck && {
      Test: [...service.healthcheck.test],
      Interval: ms(service.healthcheck.intervalMs),
      Timeout: ms(service.healthcheck.timeoutMs),
      Retries: service.healthcheck.retries,
      StartPeriod: ms(service.healthcheck.startPeriodMs),
    },
    Labels: {
      ...service.labels,
      [label.project]: project.name,
      [label.service]: service.name,
      [label.role]: 'service',
      [label.composeProject]: project.name,
      [label.composeService]: service.name,
      [label.composeOneoff]: 'False',
    },
    HostConfig: {
      NetworkMode: service.networkMode,
      PortBindings: portBindings(published),
      Mounts: mounts(project, service),
      Tmpfs: Object.keys(service.tmpfs).length ? { ...service.tmpfs } : undefined,
      RestartPolicy: { Name: service.restart === 'no' ? '' : service.restart },
      ReadonlyRootfs: service.readOnly,
      CapAdd: service.capAdd.length ? [...service.capAdd] : undefined,
      CapDrop: service.capDrop.length ? [...service.capDrop] : undefined,
      SecurityOpt: service.securityOpt.length ? [...service.securityOpt] : undefined,
      NanoCpus: service.limits.nanoCpus,
      Memory: service.limits.memoryBytes,
      PidsLimit: service.limits.pids,
      Init: service.init,
      Sysctls: service.sysctls && { ...service.sysctls },
    },
  };
}

function portBindings(ports: Service['ports']): Record<string, Array<{ HostIp: string; HostPort: string }>> | undefined {
  if (ports.length === 0) return undefined;
  const out: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const p of ports) {
    const key = `${p.containerPort}/${p.protocol}`;
    (out[key] ??= []).push({ HostIp: p.hostIp ?? '', HostPort: String(p.hostPort) });
  }
  return out;
}

function mounts(project: Project, service: Service) {
  const list = service.mounts
    .filter((m) => m.type !== 'tmpfs')
    .map((m) => ({
      Type: m.type as 'volume' | 'bind',
      Source: m.type === 'volume' ? (project.volumes[m.source ?? '']?.name ?? m.source ?? '') : (m.source ?? ''),
      Target: m.target,
      ReadOnly: m.readOnly,
    }));
  const tmpfs = service.mounts.filter((m) => m.type === 'tmpfs').map((m) => ({ Type: 'tmpfs' as const, Target: m.target, ReadOnly: false, Source: '' }));
  const secrets = service.secrets.map((s) => ({
    Type: 'bind' as const,
    Source: project.secrets[s.source]?.file ?? '',
    Target: s.target,
    ReadOnly: true,
  }));
  const all = [...list, ...tmpfs, ...secrets];
  return all.length ? all : undefined;
}

function hashConfig(body: object, imageId: string, addresses?: readonly object[]): string {
  return createHash('sha256').update(stableJson({ body, imageId, addresses })).digest('hex').slice(0, 16);
}

/** JSON with sorted keys and undefined dropped, so equal configs hash equally. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${stableJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}
