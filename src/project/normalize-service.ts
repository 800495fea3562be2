/**
 * One validated Compose service → the model's `Service` (without the berth.yaml parts), checking
 * its references against the rest of the project. Problems are added to the shared issue list.
 */
import os from 'node:os';
import path from 'node:path';
import type { RawService } from './compose-schema.js';
import { parseDotenv } from './dotenv.js';
import type { EnvLookup } from './interpolate.js';
import type {
  DependsCondition,
  Mount,
  NetworkMode,
  PortMapping,
  ResourceLimits,
  RestartPolicy,
  SecretMount,
  Service,
} from './model.js';
import { type ConfigPath, formatPath, type IssueList, type PosKind } from './positions.js';
import { dropUndefined } from './schema-kit.js';

/** What a service may refer to, and how to reach the outside world. */
export interface ProjectRefs {
  readonly dir: string;
  readonly env: EnvLookup;
  readonly services: ReadonlySet<string>;
  readonly volumes: ReadonlySet<string>;
  readonly networks: ReadonlySet<string>;
  readonly secrets: ReadonlySet<string>;
  /** Config key → absolute file. */
  readonly configs: Readonly<Record<string, string>>;
  /** File contents, or undefined when it does not exist. */
  readonly readFile: (absPath: string) => string | undefined;
  /** How a file is named in messages. */
  readonly displayName: (absPath: string) => string;
}

export type ServiceBase = Omit<Service, 'route' | 'probe' | 'deploy'>;

export interface ServiceDraft {
  readonly service: ServiceBase;
  /** Each port with where it is declared, for clash messages. */
  readonly portPaths: readonly { readonly port: PortMapping; readonly path: ConfigPath }[];
}

/** Reports problems of one service; paths are relative to `services.<name>`. */
class ServiceReport {
  readonly at: ConfigPath;
  private readonly tree: Record<string, unknown>;

  constructor(
    readonly name: string,
    private readonly root: unknown,
    readonly issues: IssueList,
  ) {
    this.at = ['services', name];
    const services = (root as { services?: Record<string, unknown> }).services ?? {};
    this.tree = (services[name] ?? {}) as Record<string, unknown>;
  }

  fail(sub: ConfigPath, message: string, kind: PosKind = 'value'): void {
    this.issues.at(this.root, [...this.at, ...sub], message, kind);
  }

  /** A reference `ref` under `key`, written in a list (`[a]`, `[{source: a}]`) or a mapping (`{a: …}`). */
  failRef(key: string, ref: string, message: string): void {
    const value = this.tree[key];
    if (!Array.isArray(value)) return this.fail([key, ref], message, 'key');
    const i = value.findIndex((v) => v === ref || (typeof v === 'object' && v !== null && v.source === ref));
    this.fail(i < 0 ? [key] : [key, i], message, i < 0 ? 'key' : 'value');
  }

  /** `key` was written as a list (so entries have their own positions). */
  isList(key: string): boolean {
    return Array.isArray(this.tree[key]);
  }

  pos() {
    return this.issues.index.locate(this.root, this.at, 'key');
  }
}

export function normalizeService(
  name: string,
  raw: RawService,
  root: unknown,
  refs: ProjectRefs,
  issues: IssueList,
): ServiceDraft {
  const report = new ServiceReport(name, root, issues);
  const mode = raw.network_mode;
  if (mode) checkNetworkMode(mode, raw, report);
  // Refused above with network_mode; left out so they take part in no clash check.
  const portPaths = mode
    ? []
    : (raw.ports ?? []).flatMap((list, i) => list.map((port) => ({ port, path: [...report.at, 'ports', i] })));
  const mountList = mounts(raw, refs, report);
  const envFiles: string[] = [];
  const service: ServiceBase = {
    name,
    image: raw.image ?? '',
    command: raw.command,
    entrypoint: raw.entrypoint,
    environment: environment(raw, refs, report, envFiles),
    envFiles: envFiles.length ? envFiles : undefined,
    ports: portPaths.map((p) => p.port),
    expose: (raw.expose ?? []).flat(),
    mounts: mountList.mounts,
    networks: mode ? {} : networks(raw, refs, report),
    networkMode: mode,
    dependsOn: dependsOn(raw, refs, report),
    healthcheck: raw.healthcheck,
    restart: restartPolicy(raw),
    user: raw.user,
    workingDir: raw.working_dir,
    hostname: raw.hostname,
    readOnly: raw.read_only ?? false,
    capAdd: raw.cap_add ?? [],
    capDrop: raw.cap_drop ?? [],
    securityOpt: raw.security_opt ?? [],
    tmpfs: { ...tmpfsOptions(raw.tmpfs ?? []), ...mountList.tmpfs },
    labels: Object.fromEntries(Object.entries(raw.labels ?? {}).map(([k, v]) => [k, v ?? ''])),
    limits: limits(raw),
    secrets: secrets(raw, refs, report),
    stopSignal: raw.stop_signal,
    stopGracePeriodMs: raw.stop_grace_period,
    init: raw.init,
    sysctls: raw.sysctls && Object.fromEntries(Object.entries(raw.sysctls).map(([k, v]) => [k, v ?? ''])),
    pos: report.pos(),
  };
  return { service: dropUndefined(service), portPaths };
}

/** `env_file` entries in order, then `environment`; a bare `KEY` takes its value from the environment. */
function environment(raw: RawService, refs: ProjectRefs, report: ServiceReport, envFiles: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (values: Record<string, string | null>): void => {
    for (const [key, value] of Object.entries(values)) {
      const resolved = value ?? refs.env[key];
      if (resolved !== undefined) out[key] = resolved;
    }
  };
  (raw.env_file ?? []).forEach((entry, i) => {
    const sub = report.isList('env_file') ? ['env_file', i] : ['env_file'];
    const file = path.resolve(refs.dir, entry.path);
    const text = refs.readFile(file);
    if (text === undefined) {
      if (entry.required) report.fail(sub, `env file ${entry.path} not found (set \`required: false\` if it is optional)`);
      return;
    }
    envFiles.push(file);
    const parsed = parseDotenv(text, refs.env);
    for (const issue of parsed.issues) {
      const pos = { file: refs.displayName(file), line: issue.line, col: 1 };
      report.issues.add({ pos, path: formatPath([...report.at, ...sub]), message: issue.message });
    }
    put(parsed.values);
  });
  put(raw.environment ?? {});
  return out;
}

function mounts(raw: RawService, refs: ProjectRefs, report: ServiceReport) {
  const out: Mount[] = [];
  const tmpfs: Record<string, string> = {};
  (raw.volumes ?? []).forEach((spec, i) => {
    if (spec.kind === 'tmpfs') tmpfs[spec.target] = spec.options;
    else if (spec.kind === 'bind') {
      out.push({ type: 'bind', source: hostPath(spec.source, refs), target: spec.target, readOnly: spec.readOnly, ...(spec.createHostPath ? { createHostPath: true } : {}) });
    } else {
      if (spec.source !== undefined && !refs.volumes.has(spec.source)) {
        report.fail(['volumes', i], undeclared('volume', spec.source, 'volumes'));
      }
      out.push(dropUndefined({ type: 'volume', source: spec.source, target: spec.target, readOnly: spec.readOnly }));
    }
  });
  for (const ref of raw.configs ?? []) {
    const file = refs.configs[ref.source];
    if (file === undefined) report.failRef('configs', ref.source, undeclared('config', ref.source, 'configs'));
    else out.push({ type: 'bind', source: file, target: absoluteIn('/', ref.target ?? ref.source), readOnly: true });
  }
  return { mounts: out, tmpfs };
}

/** Compose resolves `~` against the home folder and relative paths against the project folder. */
function hostPath(source: string, refs: ProjectRefs): string {
  if (source === '~' || source.startsWith('~/')) return path.join(refs.env.HOME || os.homedir(), source.slice(1));
  return path.resolve(refs.dir, source);
}

function absoluteIn(base: string, target: string): string {
  return target.startsWith('/') ? target : path.posix.join(base, target);
}

function undeclared(kind: string, name: string, section: string): string {
  return `${kind} \`${name}\` is not declared in the top-level \`${section}:\` section`;
}

/** With `network_mode` the container joins no project network (Compose refuses both too) and publishes no port. */
function checkNetworkMode(mode: NetworkMode, raw: RawService, report: ServiceReport): void {
  if (Object.keys(raw.networks ?? {}).length > 0) {
    const message = `\`networks\` cannot be combined with \`network_mode: ${mode}\` (as in Compose): the service joins no project network; remove one of them`;
    report.fail(['networks'], message, 'key');
  }
  if ((raw.ports ?? []).length > 0) {
    const why =
      mode === 'host'
        ? "the container listens on the host's ports directly and Docker would discard these"
        : 'the container has no network to publish them from';
    report.fail(['ports'], `ports cannot be published with \`network_mode: ${mode}\`: ${why}; remove \`ports:\``, 'key');
  }
}

function networks(raw: RawService, refs: ProjectRefs, report: ServiceReport): Service['networks'] {
  const declared = raw.networks ?? {};
  if (Object.keys(declared).length === 0) return { default: { aliases: [] } };
  for (const key of Object.keys(declared)) {
    if (key !== 'default' && !refs.networks.has(key)) report.failRef('networks', key, undeclared('network', key, 'networks'));
  }
  return declared;
}

function dependsOn(raw: RawService, refs: ProjectRefs, report: ServiceReport): Record<string, DependsCondition> {
  const deps = raw.depends_on ?? {};
  for (const dep of Object.keys(deps)) {
    if (dep === report.name) report.failRef('depends_on', dep, 'a service cannot depend on itself');
    else if (!refs.services.has(dep)) {
      report.failRef('depends_on', dep, `unknown service \`${dep}\`; services are: ${[...refs.services].join(', ')}`);
    }
  }
  return deps;
}

function secrets(raw: RawService, refs: ProjectRefs, report: ServiceReport): SecretMount[] {
  return (raw.secrets ?? []).flatMap((ref) => {
    if (!refs.secrets.has(ref.source)) {
      report.failRef('secrets', ref.source, undeclared('secret', ref.source, 'secrets'));
      return [];
    }
    return [{ source: ref.source, target: absoluteIn('/run/secrets', ref.target ?? ref.source) }];
  });
}

const restartConditions: Readonly<Record<string, RestartPolicy>> = { none: 'no', 'on-failure': 'on-failure', any: 'always' };

function restartPolicy(raw: RawService): RestartPolicy {
  const condition = raw.deploy?.restart_policy?.condition;
  return raw.restart ?? (condition ? restartConditions[condition] : undefined) ?? 'no';
}

/** `deploy.resources.limits` wins over the legacy `mem_limit`, `cpus` and `pids_limit`. */
function limits(raw: RawService): ResourceLimits {
  const l = raw.deploy?.resources?.limits;
  return dropUndefined({
    nanoCpus: l?.cpus ?? raw.cpus,
    memoryBytes: l?.memory ?? raw.mem_limit,
    pids: l?.pids ?? raw.pids_limit,
  });
}

/** `tmpfs: ["/run:size=64m"]` → `{"/run": "size=64m"}` (Docker HostConfig.Tmpfs). */
function tmpfsOptions(entries: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    entries.map((entry) => {
      const colon = entry.indexOf(':');
      return colon < 0 ? [entry, ''] : [entry.slice(0, colon), entry.slice(colon + 1)];
    }),
  );
}
