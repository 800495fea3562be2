/**
 * berth.yaml `monitor:` (and `services.<name>.monitor`): what the agent watches and when it
 * alerts. Raw config in, resolved config out: `resolveMonitor` turns the raw sections plus the
 * services into the full, readonly list of probes and rules the agent runs, with defaults
 * applied in one place (every service gets a container-state probe, routed ones an HTTP probe).
 */
import { z } from 'zod';
import { type Listen, listenSpec as berthListen, statusRange as berthStatus } from './berth-schema.js';
import type { EdgeConfig, Service } from './model.js';
import type { IssueList } from './positions.js';
import { bool, count, duration, leaf, port, section, SpecError, text } from './schema-kit.js';

export type Severity = 'critical' | 'warning' | 'info';
// Lazy: berth-schema.ts imports this file, so its leaves are not defined yet when this one loads.
const listenSpec = z.lazy(() => berthListen);
const statusRange = z.lazy(() => berthStatus);
const severity = z.enum(['critical', 'warning', 'info']);
const labels = z.record(text);
const percent = leaf('a percentage between 1 and 100', (v) => {
  const n = typeof v === 'string' ? Number(v.replace(/%$/, '')) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0 || n > 100) throw new SpecError();
  return n;
});
const regex = leaf('a regular expression', (v) => {
  if (typeof v !== 'string') throw new SpecError();
  try {
    new RegExp(v);
  } catch (err) {
    throw new SpecError(`should be a regular expression (${(err as Error).message})`);
  }
  return v;
});

export type CompareOp = '>' | '>=' | '<' | '<=' | '==' | '!=';
export interface ValueCondition {
  readonly op: CompareOp;
  readonly threshold: number;
}

/** `"value > 90"`, `"> 90"` or `"down"` (the probe fails). */
export const conditionSpec = leaf<ValueCondition | 'down'>('"down" or a comparison like "value > 90"', (v) => {
  if (v === 'down') return 'down';
  const m = typeof v === 'string' ? /^\s*(?:value\s*)?(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$/.exec(v) : null;
  if (!m) throw new SpecError();
  return { op: m[1] as CompareOp, threshold: Number(m[2]) };
});

/** Alerting settings every probe and rule shares. */
const alerting = {
  for: duration.optional().describe('how long the condition must hold before the alert fires (default 0s)'),
  severity: severity.optional().describe('default critical'),
  labels: labels.optional().describe('extra labels on the alert (used by group_by and silences)'),
  runbook: text.optional().describe('URL or text put in the notification'),
};

const probeTimings = {
  interval: duration.optional().describe('default 10s (HTTP: at least 1s)'),
  timeout: duration.optional().describe('default 5s'),
};

const httpChecks = {
  status: statusRange.optional().describe('default "200-399"'),
  body: regex.optional().describe('the body must match this regular expression'),
  latency: duration.optional().describe('slower answers count as failures'),
};

const serviceHttp = section({
  path: text.optional().describe('default: services.<name>.health.path, else /'),
  port: port.optional(),
  ...probeTimings,
  ...httpChecks,
});

export const serviceMonitorSchema = section({
  container: bool.optional().describe('container-state probe from the Docker events stream (default true)'),
  http: z.union([z.literal(false), serviceHttp]).optional().describe('HTTP probe; default on for routed services'),
  stats: z.union([z.literal(false), section({ cpu: percent.optional(), memory: percent.optional(), interval: duration.optional() })]).optional(),
  ...alerting,
});

const customProbe = section({
  type: z.enum(['http', 'tcp', 'mariadb', 'postgres', 'redis', 'tls', 'backup', 'query']),
  service: text.optional().describe('the service this probe is about; also its target address when host is not set'),
  url: text.optional().describe('http/query: the URL; query with driver: the database URL'),
  host: text.optional(),
  port: port.optional(),
  server_name: text.optional().describe('tls: SNI name, default host'),
  warn_days: count.optional().describe('tls: fail when the certificate expires in fewer days (default 14)'),
  source: text.optional().describe('backup: the backup source name (default: any)'),
  max_age: duration.optional().describe('backup: the newest good backup must be younger (default 26h)'),
  driver: z.enum(['postgres', 'mariadb']).optional().describe('query: run `sql` on this database'),
  sql: text.optional().describe('query: returns one numeric value'),
  json_path: text.optional().describe('query over HTTP: dotted path to a number in the JSON body, e.g. data.utilisation'),
  condition: conditionSpec.optional().describe('query: when the value is bad, e.g. "value > 90"'),
  ...probeTimings,
  ...httpChecks,
  ...alerting,
});

const ruleSchema = section({
  probe: text.describe('probe id or glob, e.g. "http:*" or "container:web"'),
  condition: conditionSpec.optional().describe('"down" (default) or a comparison on the probe value'),
  summary: text.optional(),
  ...alerting,
});

export const monitorSchema = section({
  listen: listenSpec.optional().describe('HTTP address of /healthz, /metrics and /heartbeat; default 127.0.0.1:9464'),
  group_by: z.array(text).optional().describe('labels that make one incident; default [project]'),
  group_wait: duration.optional().describe('wait this long for more alerts of a new incident (default 500ms)'),
  group_interval: duration.optional().describe('minimum time between updates of one incident (default 30s)'),
  repeat_interval: duration.optional().describe('re-send a still-firing incident this often (default 4h)'),
  log_lines: count.optional().describe('container log lines in a notification (default 20)'),
  restart_loop: section({ count: count.optional(), window: duration.optional() }).optional(),
  host: z.union([z.literal(false), section({ cpu: percent.optional(), memory: percent.optional(), disk: percent.optional(), paths: z.array(text).optional(), interval: duration.optional(), ...alerting })]).optional(),
  stats: z.union([z.literal(false), section({ cpu: percent.optional(), memory: percent.optional(), interval: duration.optional(), ...alerting })]).optional(),
  peer: section({
    url: text.describe('the other agent, e.g. http://10.0.0.2:9464'),
    name: text.optional().describe('default: the peer URL host'),
    interval: duration.optional().describe('heartbeat period (default 10s)'),
    timeout: duration.optional().describe('alert when the peer is silent this long (default 60s)'),
    token_env: text.optional().describe('environment variable holding a shared secret both agents send and require'),
    ...alerting,
  }).optional(),
  probes: z.record(customProbe).optional(),
  rules: z.record(ruleSchema).optional(),
});

export type RawMonitor = z.output<typeof monitorSchema>;
export type RawServiceMonitor = z.output<typeof serviceMonitorSchema>;

// ---- resolved model ----

export interface AlertSettings {
  readonly forMs: number;
  readonly severity: Severity;
  readonly labels: Readonly<Record<string, string>>;
  readonly runbook?: string;
  /** false: the probe is only shown and exported, no alert of its own. */
  readonly alert: boolean;
}

/** Where a probe connects: a fixed address, or the running container of a service. */
export type Target = { readonly host: string; readonly port: number } | { readonly service: string; readonly port: number };

interface ProbeBase extends AlertSettings {
  readonly id: string;
  readonly service?: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

export interface HttpCheck {
  readonly statusMin: number;
  readonly statusMax: number;
  readonly body?: string;
  readonly latencyMs?: number;
}

export type ProbeSpec = ProbeBase &
  (
    | { readonly kind: 'container' }
    | ({ readonly kind: 'http'; readonly url?: string; readonly hostHeader?: string; readonly target?: Target; readonly path: string } & HttpCheck)
    | { readonly kind: 'tcp'; readonly target: Target }
    | { readonly kind: 'mariadb' | 'postgres' | 'redis'; readonly target: Target }
    | { readonly kind: 'tls'; readonly target: Target; readonly serverName: string; readonly warnDays: number }
    | { readonly kind: 'host'; readonly metric: 'cpu' | 'memory' | 'disk'; readonly path?: string; readonly threshold: number }
    | { readonly kind: 'stats'; readonly cpu: number; readonly memory: number }
    | { readonly kind: 'backup'; readonly source?: string; readonly maxAgeMs: number }
    | { readonly kind: 'query'; readonly driver?: 'postgres' | 'mariadb'; readonly url: string; readonly sql?: string; readonly jsonPath?: string; readonly condition: ValueCondition }
  );

export type ProbeKind = ProbeSpec['kind'];

export interface RuleSpec {
  readonly name: string;
  readonly probe: string;
  readonly condition: ValueCondition | 'down';
  readonly summary?: string;
  readonly forMs: number;
  readonly severity: Severity;
  readonly labels: Readonly<Record<string, string>>;
  readonly runbook?: string;
}

export interface MonitorConfig {
  readonly listen: Listen;
  readonly groupBy: readonly string[];
  readonly groupWaitMs: number;
  readonly groupIntervalMs: number;
  readonly repeatIntervalMs: number;
  readonly logLines: number;
  readonly restartLoop: { readonly count: number; readonly windowMs: number };
  readonly peer?: AlertSettings & { readonly url: string; readonly name: string; readonly intervalMs: number; readonly timeoutMs: number; readonly tokenEnv?: string };
  readonly probes: readonly ProbeSpec[];
  readonly rules: readonly RuleSpec[];
}

export const monitorDefaults = {
  listen: { hostIp: '127.0.0.1', hostPort: 9464 },
  groupBy: ['project'],
  groupWaitMs: 500,
  groupIntervalMs: 30_000,
  repeatIntervalMs: 4 * 3_600_000,
  logLines: 20,
  restartLoop: { count: 3, windowMs: 5 * 60_000 },
  intervalMs: 10_000,
  timeoutMs: 5_000,
  minHttpIntervalMs: 1_000,
  threshold: 80,
  resourceIntervalMs: 15_000,
  statsIntervalMs: 30_000,
  resourceForMs: 60_000,
  tlsWarnDays: 14,
  backupMaxAgeMs: 26 * 3_600_000,
  peerIntervalMs: 10_000,
  peerTimeoutMs: 60_000,
} as const;

type Fail = (path: ReadonlyArray<string | number>, message: string) => void;

export interface MonitorInput {
  readonly raw: RawMonitor | undefined;
  readonly perService: Readonly<Record<string, RawServiceMonitor | undefined>>;
  readonly services: Readonly<Record<string, Service>>;
  readonly edge: EdgeConfig;
}

export function resolveMonitor(input: MonitorInput, berthRoot: unknown, issues: IssueList): MonitorConfig {
  const fail: Fail = (p, message) => issues.at(berthRoot, [...p], message);
  const raw = input.raw ?? {};
  const d = monitorDefaults;
  const probes: ProbeSpec[] = [];
  for (const [name, service] of Object.entries(input.services)) probes.push(...serviceProbes(service, input.perService[name], raw, input.edge, fail));
  probes.push(...hostProbes(raw));
  for (const [name, p] of Object.entries(raw.probes ?? {})) {
    const spec = customProbeSpec(name, p, input.services, (k, m) => fail(['monitor', 'probes', name, ...k], m));
    if (spec) probes.push(spec);
  }
  const ids = probes.map((p) => p.id);
  const rules: RuleSpec[] = [];
  for (const [name, r] of Object.entries(raw.rules ?? {})) {
    if (!ids.some((id) => globMatch(r.probe, id))) {
      fail(['monitor', 'rules', name, 'probe'], `matches no probe; probes are: ${ids.join(', ') || '(none)'}`);
      continue;
    }
    rules.push({ name, probe: r.probe, condition: r.condition ?? 'down', forMs: r.for ?? 0, severity: r.severity ?? 'critical', labels: r.labels ?? {}, ...opt('summary', r.summary), ...opt('runbook', r.runbook) });
  }
  return {
    listen: raw.listen ?? d.listen,
    groupBy: raw.group_by ?? d.groupBy,
    groupWaitMs: raw.group_wait ?? d.groupWaitMs,
    groupIntervalMs: raw.group_interval ?? d.groupIntervalMs,
    repeatIntervalMs: raw.repeat_interval ?? d.repeatIntervalMs,
    logLines: raw.log_lines ?? d.logLines,
    restartLoop: { count: raw.restart_loop?.count ?? d.restartLoop.count, windowMs: raw.restart_loop?.window ?? d.restartLoop.windowMs },
    ...(raw.peer ? { peer: resolvePeer(raw.peer) } : {}),
    probes,
    rules,
  };
}

function alertSettings(raw: { for?: number; severity?: Severity; labels?: Record<string, string>; runbook?: string } | undefined, forMs = 0): AlertSettings {
  return { forMs: raw?.for ?? forMs, severity: raw?.severity ?? 'critical', labels: raw?.labels ?? {}, alert: true, ...opt('runbook', raw?.runbook) };
}

function resolvePeer(p: NonNullable<RawMonitor['peer']>): NonNullable<MonitorConfig['peer']> {
  let name = p.name;
  if (!name) {
    try {
      name = new URL(p.url).host;
    } catch {
      name = p.url;
    }
  }
  return { ...alertSettings(p), url: p.url.replace(/\/+$/, ''), name, intervalMs: p.interval ?? monitorDefaults.peerIntervalMs, timeoutMs: p.timeout ?? monitorDefaults.peerTimeoutMs, ...opt('tokenEnv', p.token_env) };
}

function serviceProbes(service: Service, raw: RawServiceMonitor | undefined, top: RawMonitor, edge: EdgeConfig, fail: Fail): ProbeSpec[] {
  const d = monitorDefaults;
  const base = alertSettings(raw);
  const labels = { ...base.labels, service: service.name };
  const out: ProbeSpec[] = [];
  const common = { ...base, labels, service: service.name, timeoutMs: d.timeoutMs };
  if (raw?.container !== false) out.push({ ...common, kind: 'container', id: `container:${service.name}`, intervalMs: 0 });
  const http = raw?.http;
  if (http !== false && (http !== undefined || service.route)) {
    const port = http?.port ?? service.probe?.port ?? service.route?.port ?? service.ports.find((x) => x.protocol === 'tcp')?.containerPort ?? service.expose[0];
    const path = http?.path ?? service.probe?.path ?? '/';
    const interval = http?.interval ?? (http ? d.intervalMs : Math.max(service.probe?.intervalMs ?? 0, d.intervalMs));
    if (port === undefined) fail(['services', service.name, 'monitor', 'http'], 'the service has no route and no port; set `port`');
    else if (interval < d.minHttpIntervalMs) fail(['services', service.name, 'monitor', 'http', 'interval'], 'should be at least 1s');
    else {
      const viaEdge = edgeAddress(service, edge);
      out.push({
        ...common,
        kind: 'http',
        id: `http:${service.name}`,
        intervalMs: interval,
        timeoutMs: http?.timeout ?? service.probe?.timeoutMs ?? d.timeoutMs,
        path,
        statusMin: http?.status?.min ?? service.probe?.statusMin ?? 200,
        statusMax: http?.status?.max ?? service.probe?.statusMax ?? 399,
        ...opt('body', http?.body),
        ...opt('latencyMs', http?.latency),
        ...(viaEdge ? { url: `http://${viaEdge.address}${path}`, ...opt('hostHeader', viaEdge.host) } : { target: { service: service.name, port } }),
      });
    }
  }
  const own = raw?.stats;
  if (own !== false && (own !== undefined || top.stats !== false)) {
    const topStats = top.stats === false ? undefined : top.stats;
    out.push({
      ...common,
      ...alertSettings(topStats, d.resourceForMs),
      labels,
      severity: topStats?.severity ?? 'warning',
      kind: 'stats',
      id: `stats:${service.name}`,
      cpu: own?.cpu ?? topStats?.cpu ?? d.threshold,
      memory: own?.memory ?? topStats?.memory ?? d.threshold,
      intervalMs: own?.interval ?? topStats?.interval ?? d.statsIntervalMs,
    });
  }
  return out;
}

/** Routed services are probed the way users reach them: through the edge, with the route's host name. */
function edgeAddress(service: Service, edge: EdgeConfig): { address: string; host?: string } | undefined {
  if (!service.route) return undefined;
  const own = edge.listeners.find((l) => l.defaultService === service.name);
  const shared = edge.listeners.find((l) => l.defaultService === undefined);
  const listener = service.route.hosts.length > 0 && shared ? shared : own;
  if (!listener) return undefined;
  const ip = listener.hostIp === '0.0.0.0' || listener.hostIp === '::' ? '127.0.0.1' : listener.hostIp;
  const address = `${ip.includes(':') ? `[${ip}]` : ip}:${listener.hostPort}`;
  return listener === shared && service.route.hosts[0] ? { address, host: service.route.hosts[0].replace(/^\*\./, 'probe.') } : { address };
}

function hostProbes(top: RawMonitor): ProbeSpec[] {
  if (top.host === false) return [];
  const d = monitorDefaults;
  const h = top.host;
  const common = { ...alertSettings(h, d.resourceForMs), severity: h?.severity ?? ('warning' as const), intervalMs: h?.interval ?? d.resourceIntervalMs, timeoutMs: d.timeoutMs };
  const out: ProbeSpec[] = [
    { ...common, kind: 'host', id: 'host:cpu', metric: 'cpu', threshold: h?.cpu ?? d.threshold },
    { ...common, kind: 'host', id: 'host:memory', metric: 'memory', threshold: h?.memory ?? d.threshold },
  ];
  for (const p of h?.paths ?? ['/']) out.push({ ...common, kind: 'host', id: `host:disk:${p}`, metric: 'disk', path: p, threshold: h?.disk ?? d.threshold });
  return out;
}

type RawProbe = NonNullable<RawMonitor['probes']>[string];

function customProbeSpec(name: string, p: RawProbe, services: Readonly<Record<string, Service>>, fail: (k: string[], m: string) => void): ProbeSpec | undefined {
  const d = monitorDefaults;
  if (p.service !== undefined && !services[p.service]) {
    fail(['service'], `unknown service \`${p.service}\`; services are: ${Object.keys(services).join(', ')}`);
    return undefined;
  }
  const base = { ...alertSettings(p), labels: { ...(p.labels ?? {}), ...(p.service ? { service: p.service } : {}) }, id: name, intervalMs: p.interval ?? d.intervalMs, timeoutMs: p.timeout ?? d.timeoutMs, ...opt('service', p.service) };
  const target = (): Target | undefined => {
    const defaultPorts: Record<string, number> = { mariadb: 3306, postgres: 5432, redis: 6379, tls: 443 };
    const port = p.port ?? defaultPorts[p.type];
    if (port === undefined) return void fail(['port'], 'is required for this probe type');
    if (p.host) return { host: p.host, port };
    if (p.service) return { service: p.service, port };
    return void fail(['host'], 'set `host` (or `service` to reach its container)');
  };
  switch (p.type) {
    case 'http': {
      if (!p.url) return void fail(['url'], 'is required for an http probe');
      if (base.intervalMs < d.minHttpIntervalMs) return void fail(['interval'], 'should be at least 1s');
      return { ...base, kind: 'http', url: p.url, path: '', statusMin: p.status?.min ?? 200, statusMax: p.status?.max ?? 399, ...opt('body', p.body), ...opt('latencyMs', p.latency) };
    }
    case 'tcp': {
      const t = target();
      return t && { ...base, kind: 'tcp', target: t };
    }
    case 'mariadb':
    case 'postgres':
    case 'redis': {
      const t = target();
      return t && { ...base, kind: p.type, target: t };
    }
    case 'tls': {
      const t = target();
      return t && { ...base, kind: 'tls', target: t, serverName: p.server_name ?? p.host ?? 'localhost', warnDays: p.warn_days ?? d.tlsWarnDays };
    }
    case 'backup':
      return { ...base, kind: 'backup', maxAgeMs: p.max_age ?? d.backupMaxAgeMs, ...opt('source', p.source), intervalMs: p.interval ?? 60_000 };
    case 'query': {
      if (!p.url) return void fail(['url'], 'is required: the database URL (with `driver` and `sql`) or an HTTP URL (with `json_path`)');
      if (!p.condition || p.condition === 'down') return void fail(['condition'], 'is required: a comparison like "value > 90"');
      if (p.driver ? !p.sql : !p.json_path) return void fail([p.driver ? 'sql' : 'json_path'], p.driver ? 'is required with `driver`' : 'is required without `driver` (or set `driver` and `sql`)');
      return { ...base, kind: 'query', url: p.url, condition: p.condition, ...opt('driver', p.driver), ...opt('sql', p.sql), ...opt('jsonPath', p.json_path) };
    }
  }
}

/** `*` matches any run of characters; everything else literally. */
export function globMatch(glob: string, id: string): boolean {
  const re = new RegExp(`^${glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(id);
}

function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** A project that declares nothing to watch (for hand-built models). */
export const noMonitoring: MonitorConfig = {
  listen: monitorDefaults.listen,
  groupBy: monitorDefaults.groupBy,
  groupWaitMs: monitorDefaults.groupWaitMs,
  groupIntervalMs: monitorDefaults.groupIntervalMs,
  repeatIntervalMs: monitorDefaults.repeatIntervalMs,
  logLines: monitorDefaults.logLines,
  restartLoop: monitorDefaults.restartLoop,
  probes: [],
  rules: [],
};
