/**
 * The edge's listeners: berth.yaml `edge.listen` entries plus each routed service's own
 * published route port (which the edge takes over from the service), and the host-port clash
 * check over everything that binds a host port.
 */
import type { SourcePos } from '../lib/errors.js';
import type { RawBerth } from './berth-schema.js';
import { defaultEdgeImage, type EdgeConfig, type EdgeListener, type PortMapping, type Service } from './model.js';
import type { ServiceDraft } from './normalize-service.js';
import { type ConfigPath, formatPath, type IssueList } from './positions.js';

/** Used when routes have host names and berth.yaml names no listener. */
export const defaultListen = { hostIp: '0.0.0.0', hostPort: 80 } as const;

interface Binding {
  readonly hostIp: string;
  readonly hostPort: number;
  readonly protocol: 'tcp' | 'udp';
  readonly owner: string;
  readonly path: string;
  readonly pos?: SourcePos;
}

export interface EdgeInput {
  readonly services: Readonly<Record<string, Service>>;
  readonly drafts: Readonly<Record<string, ServiceDraft>>;
  readonly berth: RawBerth;
  readonly composeRoot: unknown;
  readonly berthRoot: unknown;
}

/** Returns the edge and the services without the ports the edge now owns. */
export function resolveEdge(
  input: EdgeInput,
  issues: IssueList,
): { edge: EdgeConfig; services: Record<string, Service> } {
  const bindings: Binding[] = listenBindings(input, issues);
  const listeners: EdgeListener[] = bindings.map(({ hostIp, hostPort }) => ({ hostIp, hostPort }));
  const services: Record<string, Service> = {};
  for (const [name, service] of Object.entries(input.services)) {
    const kept: PortMapping[] = [];
    for (const { port, path } of input.drafts[name]?.portPaths ?? []) {
      if (port.hostPort === undefined) {
        kept.push(port);
        continue;
      }
      const hostIp = port.hostIp ?? '0.0.0.0';
      const at = where(input.composeRoot, path, issues);
      bindings.push({ hostIp, hostPort: port.hostPort, protocol: port.protocol, owner: name, ...at });
      if (takenByEdge(service, port)) listeners.push({ hostIp, hostPort: port.hostPort, defaultService: name });
      else kept.push(port);
    }
    services[name] = { ...service, ports: kept };
  }
  reportClashes(bindings, issues);
  return { edge: { image: input.berth.edge?.image ?? defaultEdgeImage, listeners }, services };
}

function takenByEdge(service: Service, port: PortMapping): boolean {
  return service.route !== undefined && port.protocol === 'tcp' && port.containerPort === service.route.port;
}

function listenBindings(input: EdgeInput, issues: IssueList): Binding[] {
  const listen = input.berth.edge?.listen;
  if (listen) {
    return listen.map((l, i) => {
      const at = where(input.berthRoot, ['edge', 'listen', i], issues);
      return { ...l, protocol: 'tcp', owner: 'edge.listen', ...at };
    });
  }
  const hasHosts = Object.values(input.services).some((s) => (s.route?.hosts.length ?? 0) > 0);
  if (!hasHosts) return [];
  return [{ ...defaultListen, protocol: 'tcp', owner: 'the default edge listener', path: 'edge.listen' }];
}

function where(root: unknown, path: ConfigPath, issues: IssueList): { path: string; pos?: SourcePos } {
  const pos = issues.index.locate(root, path);
  return pos ? { path: formatPath(path), pos } : { path: formatPath(path) };
}

/** Two bindings clash on the same protocol and port when their addresses are equal or either is a wildcard. */
function reportClashes(bindings: readonly Binding[], issues: IssueList): void {
  bindings.forEach((b, i) => {
    const first = bindings.slice(0, i).find((a) => clashes(a, b));
    if (!first) return;
    const also = first.pos ? ` (also at ${first.pos.file}:${first.pos.line}:${first.pos.col})` : '';
    const message = `port clash: host port ${b.hostPort} is published by ${first.owner} and ${b.owner}${also}`;
    issues.add({ pos: b.pos, path: b.path, message });
  });
}

const wildcards = new Set(['0.0.0.0', '::', '']);

function clashes(a: Binding, b: Binding): boolean {
  if (a.hostPort !== b.hostPort || a.protocol !== b.protocol) return false;
  return a.hostIp === b.hostIp || wildcards.has(a.hostIp) || wildcards.has(b.hostIp);
}
