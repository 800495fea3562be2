/**
 * Compose `ports:` and `expose:` entries → `PortMapping`s. Short syntax
 * `[HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/PROTOCOL]` (ranges expand pairwise),
 * or the long form with target/published/host_ip/protocol.
 */
import { z } from 'zod';
import type { PortMapping } from './model.js';
import { byKind, port, section, SpecError, text, toPort } from './schema-kit.js';

const shortHint = 'should be a port like "8080:80", "127.0.0.1:8080:80/tcp" or "80"';

export function parsePortSpec(spec: string | number): PortMapping[] {
  if (typeof spec === 'number') return [mapping(checkedPort(spec, spec), 'tcp')];
  const [body = '', protocol = 'tcp', ...extra] = spec.trim().split('/');
  if (extra.length > 0 || (protocol !== 'tcp' && protocol !== 'udp')) {
    throw new SpecError(`${shortHint}; protocol must be tcp or udp, got "${spec}"`);
  }
  const { hostIp, host, container } = splitPortBody(body, spec);
  const containers = parseRange(container, spec);
  if (host === undefined || host === '') {
    return containers.map((containerPort) => mapping(containerPort, protocol, undefined, hostIp));
  }
  const hosts = parseRange(host, spec);
  if (hosts.length !== containers.length) {
    throw new SpecError(`host and container port ranges differ in length in "${spec}"`);
  }
  return containers.map((containerPort, i) => mapping(containerPort, protocol, hosts[i], hostIp));
}

/** A mapping without `undefined` members, so mappings compare and serialise cleanly. */
export function mapping(containerPort: number, protocol: 'tcp' | 'udp', hostPort?: number, hostIp?: string): PortMapping {
  return {
    containerPort,
    protocol,
    ...(hostPort === undefined ? {} : { hostPort }),
    ...(hostIp === undefined || hostIp === '' ? {} : { hostIp }),
  };
}

function splitPortBody(body: string, spec: string): { hostIp?: string; host?: string; container: string } {
  const v6 = /^\[([^\]]+)\]:([^:]*):([^:]+)$/.exec(body);
  if (v6) return { hostIp: v6[1], host: v6[2], container: v6[3] as string };
  const parts = body.split(':');
  if (parts.length === 1) return { container: parts[0] as string };
  if (parts.length === 2) return { host: parts[0], container: parts[1] as string };
  if (parts.length === 3 && parts[0]) return { hostIp: parts[0], host: parts[1], container: parts[2] as string };
  throw new SpecError(`${shortHint}, got "${spec}" (write IPv6 addresses in brackets)`);
}

function parseRange(text: string, spec: string): number[] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  if (!m) throw new SpecError(`${shortHint}, got "${spec}"`);
  const start = checkedPort(m[1], spec);
  const end = m[2] === undefined ? start : checkedPort(m[2], spec);
  if (end < start) throw new SpecError(`port range ${text} ends before it starts in "${spec}"`);
  return Array.from({ length: end - start + 1 }, (_, i) => start + i);
}

function checkedPort(value: unknown, spec: string | number): number {
  try {
    return toPort(value);
  } catch {
    throw new SpecError(`port ${String(value)} is out of range 1-65535 in "${spec}"`);
  }
}

const longPort = section({
  target: port,
  published: port.optional(),
  host_ip: text.optional(),
  protocol: z.enum(['tcp', 'udp']).optional(),
  mode: z.enum(['host', 'ingress']).optional().describe('accepted; without swarm it has no effect'),
}).transform((p): PortMapping[] => [mapping(p.target, p.protocol ?? 'tcp', p.published, p.host_ip)]);

/** One `ports:` item; ranges expand, so each item gives one or more mappings. */
export const portItem = byKind<PortMapping[]>('a port like "8080:80" or a mapping with target', {
  scalar: (v) => {
    if (typeof v === 'boolean') throw new SpecError();
    return parsePortSpec(v);
  },
  object: longPort,
});

/** One `expose:` item: `3000`, `"3000/tcp"` or `"3000-3005"`. */
export const exposeItem = byKind<number[]>('a container port like 3000 or "3000/tcp"', {
  scalar: (v) => {
    if (typeof v === 'boolean') throw new SpecError();
    if (String(v).includes(':')) throw new SpecError('expose takes container ports only, like 3000 or "3000/tcp"');
    return parsePortSpec(v).map((p) => p.containerPort);
  },
});
