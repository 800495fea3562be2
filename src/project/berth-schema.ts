/**
 * berth.yaml: what Compose cannot say — how the edge routes to services, how a deploy is
 * gated by an HTTP probe, and deploy timings. Optional; snake_case keys; `x-*` allowed.
 */
import { z } from 'zod';
import { notifySchema } from './notify-schema.js';
import { backupSchema, serviceBackupSchema } from './backup-schema.js';
import { count, duration, leaf, port, section, SpecError, text } from './schema-kit.js';
import { monitorSchema, serviceMonitorSchema } from './monitor-schema.js';

export interface Listen {
  readonly hostIp: string;
  readonly hostPort: number;
}

/** `"8080"`, `8080`, `"127.0.0.1:8080"` or `"[::1]:8080"`. */
export const listenSpec = leaf<Listen>('a listener like "80" or "127.0.0.1:8080"', (v) => {
  const s = typeof v === 'number' ? String(v) : v;
  if (typeof s !== 'string') throw new SpecError();
  const m = /^(?:\[([^\]]+)\]:|([^:[\]]+):)?(\d+)$/.exec(s.trim());
  const hostPort = m ? Number(m[3]) : NaN;
  if (!m || hostPort < 1 || hostPort > 65535) throw new SpecError();
  return { hostIp: m[1] ?? m[2] ?? '0.0.0.0', hostPort };
});

const hostName = leaf('a host name like app.example.com', (v) => {
  if (typeof v !== 'string' || !/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(v)) {
    throw new SpecError();
  }
  return v.toLowerCase();
});

/** `"200-399"`, `"200"` or `200` → inclusive range. */
export const statusRange = leaf('an HTTP status like 200 or a range like "200-399"', (v) => {
  const m = /^(\d{3})(?:-(\d{3}))?$/.exec(String(v).trim());
  if (!m || typeof v === 'boolean') throw new SpecError();
  const min = Number(m[1]);
  const max = Number(m[2] ?? m[1]);
  if (min < 100 || max > 599 || min > max) throw new SpecError();
  return { min, max };
});

const healthPath = leaf('a path starting with "/"', (v) => {
  if (typeof v !== 'string' || !v.startsWith('/')) throw new SpecError();
  return v;
});

const deployPolicy = section({
  drain: duration.optional().describe('how long in-flight requests may finish on the old color'),
  verify: duration.optional().describe('how long the new color is watched after the switch'),
  health_timeout: duration.optional().describe('how long a new color may take to become healthy'),
  keep_images: count.optional().describe('images of this many last deployments are kept from pruning'),
});

export type RawDeployPolicy = z.output<typeof deployPolicy>;

const berthService = section({
  route: section({
    hosts: z.array(hostName).optional().describe('host names the edge routes to this service'),
    port: port.optional().describe("container port; default: the service's first port, else first expose"),
    tls: z
      .union([z.literal(true), section({ listen: listenSpec.optional().describe('default "443"') })])
      .optional()
      .describe('the host names are served over HTTPS at `listen` (a TLS terminator in front of the edge); the agent watches the certificate'),
  })
    .optional()
    .describe('how the edge reaches the service'),
  health: section({
    path: healthPath,
    port: port.optional().describe('default: route.port'),
    interval: duration.optional().describe('default 1s'),
    timeout: duration.optional().describe('default 2s'),
    status: statusRange.optional().describe('default "200-399"'),
  })
    .optional()
    .describe('HTTP probe that gates a deploy'),
  deploy: deployPolicy.optional(),
  monitor: z.lazy(() => serviceMonitorSchema).optional().describe('what the agent watches for this service'),
  backup: z.lazy(() => serviceBackupSchema).optional().describe('true (defaults detected from the image), false (left out), or this service\'s backup source'),
});

export type RawBerthService = z.output<typeof berthService>;

/** berth.yaml's top-level sections, each also checked on its own when the whole file is not valid. */
export const berthSections = {
  name: text.optional().describe('project name; default: compose name, else the folder name'),
  state_dir: text.optional().describe('where berth keeps its state; default .berth'),
  edge: section({
    image: text.optional().describe('image with haproxy >= 2.4'),
    listen: z.array(listenSpec).optional().describe('host-name routing listeners'),
  }).optional(),
  deploy: deployPolicy.optional().describe('defaults for all services'),
  services: z.record(berthService).optional(),
  notify: notifySchema.optional().describe('notification channels, routes and retries'),
  backup: backupSchema.optional().describe('verified backups: restic repository, schedule, retention, sources'),
  monitor: z.lazy(() => monitorSchema).optional().describe('the agent: probes, alert rules, heartbeats'),
};

export const berthSchema = section(berthSections);

export type RawBerth = z.output<typeof berthSchema>;
