/**
 * Raw `monitor:` config in, resolved config out: the raw sections plus the services become the
 * full, readonly list of probes and rules the agent runs, with defaults applied in one place
 * (every service gets a container-state probe, routed ones an HTTP probe). Problems are reported
 * with file:line through the loader's IssueList.
 */
import { Cron } from 'croner';
import type { EdgeConfig, Service } from './model.js';
import {
  type AlertSettings,
  type MonitorConfig,
  monitorDefaults,
  type ProbeSpec,
  type RawMonitor,
  type RawServiceMonitor,
  type RuleSpec,
  type Severity,
  type Target,
} from './monitor-schema.js';
import { defaultDatabasePort } from './backup-schema.js';
import type { IssueList } from './positions.js';

type Fail = (path: ReadonlyArray<string | number>, message: string) => void;

export interface MonitorInput {
  readonly raw: RawMonitor | undefined;
  readonly perService: Readonly<Record<string, RawServiceMonitor | undefined>>;
  readonly services: Readonly<Record<string, Service>>;
  readonly edge: EdgeConfig;
  /** True on a backup host: berth.yaml has `backup.replicate`. */
  readonly replicating?: boolean;
  /** The backup sources (with the implicit config one); undefined without a `backup:` section. */
  readonly backupSources?: readonly string[];
  /** The sources backed up on a schedule of their own: source → cron. */
  readonly backupSchedules?: Readonly<Record<string, string>>;
}

export function resolveMonitor(input: MonitorInput, berthRoot: unknown, issues: IssueList): MonitorConfig {
  const fail: Fail = (p, message) => issues.at(berthRoot, [...p], message);
  const raw = input.raw ?? {};
  const d = monitorDefaults;
  const probes: ProbeSpec[] = [];
  for (const [name, service] of Object.entries(input.services)) probes.push(...serviceProbes(service, input.perService[name], raw, input.edge, fail));
  probes.push(...hostProbes(raw));
  probes.push(...replicationProbe(raw, input.replicating ?? false, fail));
  probes.push(...defaultBackupProbe(raw, input.backupSources, fail).map((spec) => heldToSchedules(spec, input.backupSchedules, false)));
  for (const [name, p] of Object.entries(raw.probes ?? {})) {
    const at = (k: string[], m: string) => fail(['monitor', 'probes', name, ...k], m);
    if (p.type === 'backup' && !backupProbeChecks(p, input.backupSources, at)) continue;
    const spec = customProbeSpec(name, p, input.services, at);
    // A backup probe without `source:` watches every source of the project.
    if (spec) probes.push(spec.kind === 'backup' ? heldToSchedules(!spec.source && input.backupSources ? { ...spec, sources: input.backupSources } : spec, input.backupSchedules, p.source !== undefined && p.max_age !== undefined) : spec);
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
  out.push(...routeTlsProbes(service, raw, common, fail));
  return out;
}

/**
 * Every host of a route served over TLS (`route.tls`) gets a certificate-expiry probe, unless
 * `monitor.tls: false`; severity warning, hourly, 14 days of warning unless overridden.
 */
function routeTlsProbes(service: Service, raw: RawServiceMonitor | undefined, common: AlertSettings & { readonly labels: Record<string, string> }, fail: Fail): ProbeSpec[] {
  const d = monitorDefaults;
  const own = raw?.tls;
  const at = service.route?.tls;
  if (own === false) return [];
  if (!at) {
    if (own !== undefined) fail(['services', service.name, 'monitor', 'tls'], 'the service has no `route.tls`: nothing serves its certificate; set route.tls or drop this');
    return [];
  }
  const host = at.hostIp === '0.0.0.0' || at.hostIp === '::' ? '127.0.0.1' : at.hostIp;
  const names = service.route!.hosts.length > 0 ? service.route!.hosts : ['localhost'];
  return names.map((name) => ({
    ...common,
    ...opt('runbook', own?.runbook ?? common.runbook),
    forMs: own?.for ?? common.forMs,
    severity: own?.severity ?? 'warning',
    labels: { ...common.labels, ...(own?.labels ?? {}) },
    service: service.name,
    kind: 'tls' as const,
    id: `tls:${service.name}:${name}`,
    target: { host, port: at.hostPort },
    serverName: name.replace(/^\*\./, 'probe.'),
    warnDays: own?.warn_days ?? d.tlsWarnDays,
    intervalMs: own?.interval ?? d.tlsIntervalMs,
    timeoutMs: own?.timeout ?? d.timeoutMs,
  }));
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

/** On a backup host, the replica's state (`replicate/status.ts`) as a probe, unless `monitor.replication: false`. */
function replicationProbe(top: RawMonitor, replicating: boolean, fail: Fail): ProbeSpec[] {
  const r = top.replication;
  if (r === false) return [];
  if (!replicating) {
    if (r) fail(['monitor', 'replication'], 'this project does not replicate (no `backup.replicate` in berth.yaml)');
    return [];
  }
  return [{ ...alertSettings(r), severity: r?.severity ?? 'warning', id: 'replication', kind: 'replication', intervalMs: r?.interval ?? monitorDefaults.replicationIntervalMs, timeoutMs: monitorDefaults.timeoutMs }];
}

/**
 * With a `backup:` section, every source of the project as one probe (`backup`), unless
 * `monitor.backup: false` or a probe of `monitor.probes` already watches every source. It alerts
 * at once (no `for`): a failure the nightly job still retries is not one yet (the probe reads the
 * retry's time from the run), so a database that was restarting at 02:00 and is backed up at 02:10
 * alerts nobody, while a failed verify or the retry's own failure alerts within the probe interval.
 */
function defaultBackupProbe(top: RawMonitor, sources: readonly string[] | undefined, fail: Fail): BackupProbeSpec[] {
  const b = top.backup;
  if (b === false) return [];
  if (!sources) {
    if (b) fail(['monitor', 'backup'], 'this project has no `backup:` section: there are no backups to watch');
    return [];
  }
  const declared = Object.entries(top.probes ?? {});
  const watchingAll = declared.find(([, p]) => p.type === 'backup' && p.source === undefined);
  if (watchingAll) {
    if (b) fail(['monitor', 'backup'], `monitor.probes.${watchingAll[0]} watches every backup source already; tune that one, or remove it and keep this`);
    return [];
  }
  if (declared.some(([name]) => name === 'backup')) {
    fail(['monitor', 'probes', 'backup'], 'the id `backup` is the default backup probe’s; name this probe otherwise, or set `monitor.backup: false`');
    return [];
  }
  const d = monitorDefaults;
  return [{ ...alertSettings(b), severity: b?.severity ?? 'warning', id: 'backup', kind: 'backup', sources, maxAgeMs: b?.max_age ?? d.backupMaxAgeMs, intervalMs: b?.interval ?? d.backupIntervalMs, timeoutMs: d.timeoutMs }];
}

type BackupProbeSpec = Extract<ProbeSpec, { kind: 'backup' }>;

/**
 * A source backed up on a schedule of its own (every 15 minutes, say) is held to that schedule:
 * its newest good backup may be at most twice the longest gap between two of its runs old, not
 * the nightly `max_age` (26 h by default, which would hide a day of missed runs, or alert on a
 * weekly source). A probe of one source with its own `max_age` keeps that.
 */
function heldToSchedules(spec: BackupProbeSpec, schedules: Readonly<Record<string, string>> | undefined, explicit: boolean): BackupProbeSpec {
  if (explicit || !schedules) return spec;
  const watched = spec.source ? [spec.source] : (spec.sources ?? []);
  const limits = Object.fromEntries(watched.flatMap((s) => (schedules[s] ? [[s, 2 * longestGapMs(schedules[s])]] : [])));
  return Object.keys(limits).length ? { ...spec, sourceMaxAgeMs: limits } : spec;
}

/** Per cron, its longest gap from now: each probe of the source and each reload of berth.yaml would work it out again (3–6 ms each). */
const gapOfCron = new Map<string, number>();

/** The longest time between two consecutive runs of `cron` over its next 100 runs (from now: worked out once per process). */
export function longestGapMs(cron: string, from?: Date): number {
  if (from) return gapOver(cron, from);
  let gap = gapOfCron.get(cron);
  if (gap === undefined) gapOfCron.set(cron, (gap = gapOver(cron, new Date())));
  return gap;
}

function gapOver(cron: string, from: Date): number {
  const runs = new Cron(cron, { paused: true }).nextRuns(100, from).map((d) => d.getTime());
  let gap = 0;
  for (let i = 1; i < runs.length; i++) gap = Math.max(gap, runs[i]! - runs[i - 1]!);
  return gap;
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

/** A backup probe reads this host's backup records: there must be a `backup:` section, and its `source:` one of its sources. */
function backupProbeChecks(p: RawProbe, sources: readonly string[] | undefined, fail: (k: string[], m: string) => void): boolean {
  if (!sources) {
    fail(['type'], 'a backup probe watches the backups of this project, but berth.yaml has no `backup:` section');
    return false;
  }
  if (p.source !== undefined && !sources.includes(p.source)) {
    fail(['source'], `unknown backup source \`${p.source}\`; sources are: ${sources.join(', ')}`);
    return false;
  }
  return true;
}

function customProbeSpec(name: string, p: RawProbe, services: Readonly<Record<string, Service>>, fail: (k: string[], m: string) => void): ProbeSpec | undefined {
  const d = monitorDefaults;
  if (p.service !== undefined && !services[p.service]) {
    fail(['service'], `unknown service \`${p.service}\`; services are: ${Object.keys(services).join(', ')}`);
    return undefined;
  }
  const base = { ...alertSettings(p), labels: { ...(p.labels ?? {}), ...(p.service ? { service: p.service } : {}) }, id: name, intervalMs: p.interval ?? d.intervalMs, timeoutMs: p.timeout ?? d.timeoutMs, ...opt('service', p.service) };
  const target = (): Target | undefined => {
    const defaultPorts: Record<string, number> = { ...defaultDatabasePort, tls: 443 };
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
