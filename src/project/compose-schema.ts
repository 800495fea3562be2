/**
 * Zod schemas for the Compose keys berth supports, one per section. Leaves normalise short and
 * long syntax as they parse; cross-references (volumes, networks, depends_on) are checked later
 * in normalize-service.ts, where the whole project is known.
 */
import { z } from 'zod';
import { cidr, inSubnet, ipAddress, ipv4Address, ipv6Address, parseCidr } from './addresses.js';
import type { DependsCondition, Healthcheck, NetworkMode, RestartPolicy, ServiceNetwork } from './model.js';
import { exposeItem, portItem } from './port-spec.js';
import {
  bool,
  byKind,
  bytes,
  count,
  dropUndefined,
  duration,
  leaf,
  section,
  type Schema,
  SpecError,
  text,
  textList,
  textOrList,
} from './schema-kit.js';
import { shellSplit } from './shell-split.js';
import { volumeItem } from './volume-spec.js';

/** `KEY=VALUE` list or mapping → map; `null` means "take it from the environment". */
export const keyValues: Schema<Record<string, string | null>> = byKind('a list of KEY=VALUE or a mapping', {
  list: z.array(text).transform((items) => Object.fromEntries(items.map(splitKeyValue))),
  object: z.record(z.union([text, z.null()])),
});

function splitKeyValue(item: string): [string, string | null] {
  const eq = item.indexOf('=');
  return eq < 0 ? [item, null] : [item.slice(0, eq), item.slice(eq + 1)];
}

const argv = byKind<string[]>('a string or a list of strings', { scalar: (v) => shellSplit(String(v)), list: textList });

const dependsCondition = z.enum(['service_started', 'service_healthy', 'service_completed_successfully']);

const dependsOn: Schema<Record<string, DependsCondition>> = byKind('a list of services or a mapping', {
  list: z.array(text).transform((names) => Object.fromEntries(names.map((n) => [n, 'service_started' as const]))),
  object: z.record(
    section({ condition: dependsCondition.optional() }).transform((d) => d.condition ?? 'service_started'),
  ),
});

const serviceNetworks = byKind<Record<string, ServiceNetwork>>('a list of networks or a mapping', {
  list: z.array(text).transform((names) => Object.fromEntries(names.map((n) => [n, { aliases: [] }]))),
  object: z.record(
    orEmpty(
      section({ aliases: textList.optional(), ipv4_address: ipv4Address.optional(), ipv6_address: ipv6Address.optional() }),
    ).transform((n) =>
      dropUndefined({ aliases: n.aliases ?? [], ipv4Address: n.ipv4_address, ipv6Address: n.ipv6_address }),
    ),
  ),
});

/**
 * `host` and `none` only: sharing another container's network stack breaks when berth recreates
 * that container, and Docker's default bridge or a bare network name bypass the project networks.
 */
export const networkMode = leaf<NetworkMode>('"host" or "none"', (v) => {
  if (v === 'host' || v === 'none') return v;
  if (typeof v !== 'string') throw new SpecError();
  const shared = /^(service|container):(.*)$/.exec(v);
  if (shared?.[1] === 'service') {
    throw new SpecError(
      `sharing the network stack of service \`${shared[2]}\` is not supported: this container would lose its network ` +
        `whenever berth recreates \`${shared[2]}\`, as every deploy of it does; put both services on a project network instead`,
    );
  }
  if (shared) {
    throw new SpecError(
      `sharing the network stack of container \`${shared[2]}\` is not supported: berth does not track that container, ` +
        'so this one would lose its network whenever it is recreated; put both on a network instead',
    );
  }
  if (v === 'bridge' || v === 'default') {
    throw new SpecError(
      `\`${v}\` (Docker's default bridge network) is not supported: remove network_mode and the service joins the project's \`default\` network`,
    );
  }
  throw new SpecError(`should be "host" or "none"; to join a network, list it under \`networks:\``);
});

const healthTest = byKind<string[]>('a command string or a list starting with CMD, CMD-SHELL or NONE', {
  scalar: (v) => ['CMD-SHELL', String(v)],
  list: textList.refine((l) => l.length === 0 || ['CMD', 'CMD-SHELL', 'NONE'].includes(l[0] as string), {
    message: 'should start with "CMD", "CMD-SHELL" or "NONE"',
  }),
});

const healthcheck = section({
  test: healthTest.optional(),
  interval: duration.optional(),
  timeout: duration.optional(),
  start_period: duration.optional(),
  retries: count.optional(),
  disable: bool.optional(),
}).transform(
  (h): Healthcheck =>
    dropUndefined({
      // An empty test keeps the image's own HEALTHCHECK, as Docker does.
      test: h.disable ? ['NONE'] : h.test ?? [],
      intervalMs: h.interval,
      timeoutMs: h.timeout,
      startPeriodMs: h.start_period,
      retries: h.retries,
    }),
);

export const restart = leaf<RestartPolicy>('one of "no", "always", "unless-stopped", "on-failure[:N]"', (v) => {
  // YAML 1.2 reads an unquoted `no` as the string "no"; `false` is what YAML 1.1 authors mean.
  const s = v === false ? 'no' : v;
  if (s === 'no' || s === 'always' || s === 'unless-stopped' || s === 'on-failure') return s;
  if (typeof s === 'string' && /^on-failure:\d+$/.test(s)) return 'on-failure';
  throw new SpecError();
});

export const cpus = leaf('a number of CPUs like 0.5', (v) => {
  const n = typeof v === 'string' && /^\d*\.?\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !(n >= 0)) throw new SpecError();
  return Math.round(n * 1e9);
});

const deploy = section({
  resources: section({
    limits: section({ cpus: cpus.optional(), memory: bytes.optional(), pids: count.optional() }).optional(),
    reservations: section({ cpus: cpus.optional(), memory: bytes.optional() })
      .optional()
      .describe('accepted and validated; berth does not reserve resources'),
  }).optional(),
  restart_policy: section({ condition: z.enum(['none', 'on-failure', 'any']).optional() }).optional(),
});

const secretRef = byKind<{ source: string; target?: string }>('a secret name or a mapping with source', {
  scalar: (v) => ({ source: String(v) }),
  object: section({ source: text, target: text.optional() }),
});

export const serviceSchema = section({
  image: text.optional(),
  build: z.unknown().optional().describe('refused: berth deploys images'),
  command: argv.optional(),
  entrypoint: argv.optional(),
  environment: keyValues.optional(),
  env_file: byKind<{ path: string; required: boolean }[]>('a path, a list of paths or of {path, required}', {
    scalar: (v) => [{ path: String(v), required: true }],
    list: z.array(
      byKind('a path or a mapping with path', {
        scalar: (v) => ({ path: String(v), required: true }),
        object: section({ path: text, required: bool.optional() }).transform((e) => ({
          path: e.path,
          required: e.required ?? true,
        })),
      }),
    ),
  }).optional(),
  ports: z.array(portItem).optional(),
  expose: z.array(exposeItem).optional(),
  volumes: z.array(volumeItem).optional(),
  networks: serviceNetworks.optional(),
  network_mode: networkMode.optional(),
  depends_on: dependsOn.optional(),
  healthcheck: healthcheck.optional(),
  restart: restart.optional(),
  user: text.optional(),
  working_dir: text.optional(),
  hostname: text.optional(),
  read_only: bool.optional(),
  cap_add: textList.optional(),
  cap_drop: textList.optional(),
  security_opt: textList.optional(),
  tmpfs: textOrList.optional(),
  labels: keyValues.optional(),
  deploy: deploy.optional(),
  mem_limit: bytes.optional(),
  cpus: cpus.optional(),
  pids_limit: count.optional(),
  secrets: z.array(secretRef).optional(),
  configs: z.array(secretRef).optional(),
  stop_signal: text.optional(),
  stop_grace_period: duration.optional(),
  container_name: text.optional().describe('accepted; berth names containers itself'),
  stdin_open: bool.optional().describe('accepted; berth services run detached'),
  tty: bool.optional().describe('accepted; berth services run detached'),
  init: bool.optional(),
  sysctls: keyValues.optional(),
});

export type RawService = z.output<typeof serviceSchema>;

/** A mapping where an empty value (`db_data:`) means `{}`. */
function orEmpty<T>(schema: Schema<T>): Schema<T> {
  return z.preprocess((v) => v ?? {}, schema);
}

/** One `ipam.config` entry; the gateway and range must lie in the subnet, as Docker requires. */
const ipamPool = section({
  subnet: cidr.optional(),
  ip_range: cidr.optional(),
  gateway: ipAddress.optional(),
  aux_addresses: z.record(ipAddress).optional(),
}).superRefine((pool, ctx) => {
  // Refinements also run after a member failed; such members are not strings then.
  const subnet = parseCidr(pool.subnet);
  if (!subnet) return;
  const outside = (key: string, what: string): void =>
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: [key], message: `${what} is outside the subnet ${pool.subnet}` });
  if (typeof pool.gateway === 'string' && !inSubnet(pool.gateway, subnet)) outside('gateway', `gateway ${pool.gateway}`);
  const range = parseCidr(pool.ip_range);
  if (range && (range.prefix < subnet.prefix || !inSubnet(range.address, subnet))) {
    outside('ip_range', `ip_range ${pool.ip_range}`);
  }
  for (const [name, address] of Object.entries(pool.aux_addresses ?? {})) {
    if (typeof address === 'string' && !inSubnet(address, subnet)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['aux_addresses', name],
        message: `address ${address} is outside the subnet ${pool.subnet}`,
      });
    }
  }
});

export const networkSchema = orEmpty(
  section({
    name: text.optional(),
    external: bool.optional(),
    driver: text.optional(),
    driver_opts: z.record(text).optional(),
    internal: bool.optional(),
    attachable: bool.optional().describe('accepted; only swarm-scoped networks use it'),
    enable_ipv6: bool.optional(),
    ipam: section({ driver: text.optional(), config: z.array(ipamPool).optional() }).optional(),
    labels: keyValues.optional(),
  }),
);

export const volumeSchema = orEmpty(
  section({ name: text.optional(), external: bool.optional(), driver: text.optional(), labels: keyValues.optional() }),
);

/** Secrets and configs: only `file:` — berth mounts them read-only from the host. */
export const fileSourceSchema = section({ file: text });

/** The top level; each entry of the keyed sections is validated on its own so one bad entry hides nothing. */
export const composeSchema = section({
  name: text.optional(),
  version: z.unknown().optional().describe('ignored, as in Compose v2'),
  services: z.record(z.unknown()),
  networks: z.record(z.unknown()).nullable().optional(),
  volumes: z.record(z.unknown()).nullable().optional(),
  secrets: z.record(z.unknown()).nullable().optional(),
  configs: z.record(z.unknown()).nullable().optional(),
});
