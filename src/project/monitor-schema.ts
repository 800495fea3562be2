/**
 * berth.yaml `monitor:` (and `services.<name>.monitor`): what the agent watches and when it
 * alerts — the zod schemas, the resolved model and the defaults. `monitor-resolve.ts` turns the
 * raw sections plus the services into the full, readonly list of probes and rules.
 */
import { z } from 'zod';
import { type Listen, listenSpec as berthListen, statusRange as berthStatus } from './berth-schema.js';
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
  tls: z
    .union([z.literal(false), section({ warn_days: count.optional().describe('default 14'), ...probeTimings, ...alerting })])
    .optional()
    .describe('certificate-expiry probe of each host of a `route.tls` (default on; severity warning, every 1h)'),
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
  source: text.optional().describe('backup: the backup source name (default: every source of the project)'),
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
  replication: z
    .union([z.literal(false), section({ interval: duration.optional(), ...alerting })])
    .optional()
    .describe('on a backup host (backup.replicate): the replica as a probe, failing when the last pull failed or the newest copy is older than max_lag (default on; severity warning, every 1m)'),
  backup: z
    .union([z.literal(false), section({ interval: duration.optional(), max_age: duration.optional().describe('the newest good backup of each source must be younger (default 26h)'), ...alerting })])
    .optional()
    .describe('with a `backup:` section: every source as a probe, failing when its last backup failed or came out suspect, its newest good one is older than max_age, or a verify failed (default on; severity warning, every 15s)'),
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
    | {
        readonly kind: 'backup';
        readonly source?: string;
        /** Without `source`: every source of the project, each watched. */
        readonly sources?: readonly string[];
        readonly maxAgeMs: number;
        /** A source with a schedule of its own is held to its own limit (twice the longest gap between its runs), not `maxAgeMs`. */
        readonly sourceMaxAgeMs?: Readonly<Record<string, number>>;
      }
    | { readonly kind: 'replication' }
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
  tlsIntervalMs: 3_600_000,
  backupMaxAgeMs: 26 * 3_600_000,
  backupIntervalMs: 15_000,
  /** How long after its due time a retry of the nightly job may take before the failure it retries alerts. */
  backupRetryRunMs: 5 * 60_000,
  replicationIntervalMs: 60_000,
  peerIntervalMs: 10_000,
  peerTimeoutMs: 60_000,
} as const;

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
