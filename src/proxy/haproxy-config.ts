/** Pure renderer: project routes + current slot addresses → haproxy.cfg text. */
import type { Project } from '../project/model.js';
import type { EdgeView } from './edge.js';

export const adminSocketInContainer = '/var/run/haproxy/admin.sock';
export const configDirInContainer = '/usr/local/etc/haproxy';

export function backendName(service: string): string {
  return `be_${service}`;
}

/** Routed services in a stable order. */
export function routedServices(project: Project): string[] {
  return Object.values(project.services)
    .filter((s) => s.route)
    .map((s) => s.name)
    .sort();
}

export function renderHaproxyConfig(project: Project, view: EdgeView): string {
  return [globalSection(), defaultsSection(), ...frontends(project), ...backends(project, view), noRouteBackend()].join('\n');
}

/** The config with addresses left out: when only this changes, a reload is needed. */
export function renderRoutesOnly(project: Project): string {
  return renderHaproxyConfig(project, {});
}

function globalSection(): string {
  return `global
  stats socket ${adminSocketInContainer} mode 600 level admin expose-fd listeners
  stats timeout 30s
  maxconn 4096
  hard-stop-after 60s
  log stdout format raw local0 notice
`;
}

function defaultsSection(): string {
  // retries + redispatch + retry-on: a request that hits a slot going away is retried on the other.
  // A short connect timeout also shortens HAProxy's retry turn-around (min(timeout connect, 1 s)):
  // containers are on a local bridge, and a dead slot's address otherwise stalls a request 3 s.
  return `defaults
  mode http
  log global
  option dontlognull
  timeout connect 500ms
  timeout client 60s
  timeout server 60s
  timeout http-request 10s
  timeout http-keep-alive 10s
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response response-timeout
`;
}

function frontends(project: Project): string[] {
  return project.edge.listeners.map((l) => {
    const lines = [`frontend fe_${l.hostPort}`, `  bind :${l.hostPort}`, '  http-request set-var(txn.host) req.hdr(host),field(1,:),lower'];
    for (const name of routedServices(project)) {
      const hosts = project.services[name]?.route?.hosts ?? [];
      if (hosts.length) lines.push(`  use_backend ${backendName(name)} if { var(txn.host) -m str ${hosts.map((h) => h.toLowerCase()).join(' ')} }`);
    }
    lines.push(`  default_backend ${l.defaultService ? backendName(l.defaultService) : 'be_no_route'}`);
    return lines.join('\n') + '\n';
  });
}

function backends(project: Project, view: EdgeView): string[] {
  return routedServices(project).map((name) => {
    const port = project.services[name]?.route?.port ?? 80;
    const state = view[name];
    const slot = (color: 'blue' | 'green') => {
      const addr = state?.slots[color];
      const enabled = addr && state?.active === color;
      return `  server ${color} ${addr?.ip ?? '127.0.0.1'}:${addr?.port ?? port}${enabled ? '' : ' disabled'}`;
    };
    return [`backend ${backendName(name)}`, '  balance roundrobin', slot('blue'), slot('green')].join('\n') + '\n';
  });
}

function noRouteBackend(): string {
  return `backend be_no_route
  http-request return status 404 content-type text/plain string "berth: no route for this host name\\n"
`;
}
