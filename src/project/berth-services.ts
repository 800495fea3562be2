/**
 * Applies berth.yaml's per-service settings (route, HTTP probe, deploy policy) to the services
 * read from Compose, with defaults in one place.
 */
import type { RawBerth, RawDeployPolicy } from './berth-schema.js';
import { type DeployPolicy, defaultDeployPolicy, type HttpProbe, type Route, type Service } from './model.js';
import type { ServiceBase } from './normalize-service.js';
import type { IssueList } from './positions.js';

export const probeDefaults = { intervalMs: 1_000, timeoutMs: 2_000, statusMin: 200, statusMax: 399 } as const;

export function applyBerthServices(
  bases: Readonly<Record<string, ServiceBase>>,
  /** Every service in the compose files, including any that failed validation. */
  names: readonly string[],
  berth: RawBerth,
  berthRoot: unknown,
  issues: IssueList,
): Record<string, Service> {
  for (const name of Object.keys(berth.services ?? {})) {
    if (!names.includes(name)) {
      const message = `berth.yaml has settings for unknown service \`${name}\`; services are: ${names.join(', ')}`;
      issues.at(berthRoot, ['services', name], message, 'key');
    }
  }
  const defaults = policy(defaultDeployPolicy, berth.deploy);
  const out: Record<string, Service> = {};
  for (const [name, base] of Object.entries(bases)) {
    const settings = berth.services?.[name];
    const fail = (key: string, message: string): void => issues.at(berthRoot, ['services', name, key], message, 'key');
    const route = settings?.route && resolveRoute(base, settings.route, fail);
    const probe = settings?.health && resolveProbe(base, settings.health, route, fail);
    out[name] = {
      ...base,
      ...(route ? { route } : {}),
      ...(probe ? { probe } : {}),
      deploy: policy(defaults, settings?.deploy),
    };
  }
  return out;
}

type Settings = NonNullable<NonNullable<RawBerth['services']>[string]>;
type Fail = (key: string, message: string) => void;

/** A replacement for stop-and-start only: what keeps two colors of a service from running side by side. */
function sideBySideBlocker(base: ServiceBase): { what: string; drop: string } | undefined {
  if (base.networkMode) return { what: `uses network_mode: ${base.networkMode}`, drop: 'network_mode' };
  for (const [key, n] of Object.entries(base.networks)) {
    for (const [field, address] of [['ipv4_address', n.ipv4Address], ['ipv6_address', n.ipv6Address]] as const) {
      if (address !== undefined) {
        return {
          what: `has a fixed ${field} (${address} on network \`${key}\`), which the two colors of a blue-green deploy cannot share`,
          drop: field,
        };
      }
    }
  }
  return undefined;
}

function resolveRoute(base: ServiceBase, raw: NonNullable<Settings['route']>, fail: Fail): Route | undefined {
  const blocker = sideBySideBlocker(base);
  if (blocker) {
    const message =
      `service \`${base.name}\` ${blocker.what}; the edge cannot route to it — remove the route ` +
      `(the service will then be replaced by stop-and-start) or drop ${blocker.drop}`;
    fail('route', message);
    return undefined;
  }
  const port = raw.port ?? defaultPort(base);
  if (port === undefined) {
    fail('route', `service \`${base.name}\` publishes and exposes no port; set \`route.port\``);
    return undefined;
  }
  const tls = raw.tls === true ? { hostIp: '0.0.0.0', hostPort: 443 } : raw.tls && (raw.tls.listen ?? { hostIp: '0.0.0.0', hostPort: 443 });
  return { hosts: raw.hosts ?? [], port, ...(tls ? { tls } : {}) };
}

function resolveProbe(
  base: ServiceBase,
  raw: NonNullable<Settings['health']>,
  route: Route | undefined,
  fail: Fail,
): HttpProbe | undefined {
  if (base.networkMode) {
    const message =
      `service \`${base.name}\` uses network_mode: ${base.networkMode}; berth's HTTP probe reaches a service at its ` +
      'address on a project network, which it has none of — use a Compose healthcheck instead, or drop network_mode';
    fail('health', message);
    return undefined;
  }
  const port = raw.port ?? route?.port ?? defaultPort(base);
  if (port === undefined) {
    fail('health', `service \`${base.name}\` publishes and exposes no port; set \`health.port\``);
    return undefined;
  }
  return {
    path: raw.path,
    port,
    intervalMs: raw.interval ?? probeDefaults.intervalMs,
    timeoutMs: raw.timeout ?? probeDefaults.timeoutMs,
    statusMin: raw.status?.min ?? probeDefaults.statusMin,
    statusMax: raw.status?.max ?? probeDefaults.statusMax,
  };
}

/** The first TCP port the service publishes, else the first it exposes. */
export function defaultPort(base: ServiceBase): number | undefined {
  return base.ports.find((p) => p.protocol === 'tcp')?.containerPort ?? base.expose[0];
}

function policy(base: DeployPolicy, raw: RawDeployPolicy | undefined): DeployPolicy {
  return {
    drainMs: raw?.drain ?? base.drainMs,
    verifyMs: raw?.verify ?? base.verifyMs,
    healthTimeoutMs: raw?.health_timeout ?? base.healthTimeoutMs,
    keepImages: raw?.keep_images ?? base.keepImages,
  };
}
