/**
 * `loadProject()`: compose file(s) + optional berth.yaml + `.env` → the readonly `Project`.
 * Raw config in, resolved config out: parse with positions, interpolate, merge, validate each
 * section, resolve references, then throw one `ConfigError` listing every problem found.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../lib/errors.js';
import { effectiveSources, ownSchedules, resolveBackup } from './backup-schema.js';
import { resolveBackupSources } from './backup-services.js';
import { berthSchema, berthSections, type RawBerth } from './berth-schema.js';
import { applyBerthServices } from './berth-services.js';
import { composeSchema, fileSourceSchema, networkSchema, serviceSchema, volumeSchema } from './compose-schema.js';
import { parseDotenv } from './dotenv.js';
import { resolveEdge } from './edge.js';
import { checkFixedAddresses } from './fixed-addresses.js';
import { type EnvLookup, interpolateTree } from './interpolate.js';
import { mergeTrees } from './merge.js';
import { resolveNotify } from './notify-schema.js';
import type { Network, Project, Secret, Service, Volume } from './model.js';
import { resolveMonitor } from './monitor-resolve.js';
import { normalizeService, type ProjectRefs, type ServiceDraft } from './normalize-service.js';
import { type ConfigPath, IssueList, PositionIndex } from './positions.js';
import { projectName, resolveNetwork, resolveSecret, resolveVolume } from './resources.js';
import type { Schema } from './schema-kit.js';
import { parseYaml } from './yaml-source.js';
import { type ReplicateConfig, resolveReplicate } from './replicate-schema.js';
import { addZodIssues, buildRefusal, type ConfigFile } from './zod-issues.js';

export interface LoadOptions {
  /** The environment for interpolation; default `process.env`. `.env` values apply beneath it. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Compose files, relative to `dir`; later files override earlier ones. */
  readonly composeFiles?: readonly string[];
  readonly stateDir?: string;
}

/** Looked for in this order when no compose file is given, as `docker compose` does. */
export const composeFileNames = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'] as const;
export const berthFileName = 'berth.yaml';

export async function loadProject(dir: string, opts: LoadOptions = {}): Promise<Project> {
  const root = path.resolve(dir);
  const issues = new IssueList(new PositionIndex());
  const display = (file: string): string => displayName(root, file);
  const env = await readEnvironment(root, opts.env ?? process.env, issues);
  const composeFiles = await findComposeFiles(root, opts.composeFiles);
  const composeTrees = [];
  for (const file of composeFiles) composeTrees.push(parseTree(file, (await readOptional(file)) ?? '', display, issues));
  const berthPath = path.join(root, berthFileName);
  const berthText = await readOptional(berthPath);
  const berthTree = berthText === undefined ? {} : parseTree(berthPath, berthText, display, issues);
  // Past this point the trees are whole, so every remaining problem can be collected.
  issues.throwIfAny();
  const compose = interpolateAndMerge(composeTrees, env, issues);
  const { berth, failed } = validateBerth(berthTree, issues);
  const project = resolveProject({ root, env, opts, compose, berth, failed, berthTree, issues });
  issues.throwIfAny();
  return { ...project, composeFiles, ...(berthText === undefined ? {} : { berthFile: berthPath }) };
}

interface ResolveInput {
  readonly root: string;
  readonly env: EnvLookup;
  readonly opts: LoadOptions;
  readonly compose: unknown;
  readonly berth: RawBerth;
  /** berth.yaml sections that failed their schema (and so are absent from `berth`). */
  readonly failed: ReadonlySet<string>;
  readonly berthTree: unknown;
  readonly issues: IssueList;
}

/**
 * berth.yaml against its schema. When it is not valid, every problem is reported, and the
 * sections that are valid on their own are kept, so the checks that read only those still run
 * and report in the same pass (the others are named in `failed`).
 */
function validateBerth(tree: unknown, issues: IssueList): { berth: RawBerth; failed: ReadonlySet<string> } {
  const whole = validate(berthSchema, tree, tree, [], issues, 'berth');
  if (whole) return { berth: whole, failed: new Set() };
  const given = asMap(tree);
  const berth: Record<string, unknown> = {};
  const failed = new Set<string>();
  for (const [key, schema] of Object.entries(berthSections)) {
    if (given[key] === undefined) continue;
    const parsed = (schema as Schema<unknown>).safeParse(given[key]);
    if (parsed.success) berth[key] = parsed.data;
    else failed.add(key);
  }
  return { berth: berth as RawBerth, failed };
}

function resolveProject(input: ResolveInput): Omit<Project, 'composeFiles' | 'berthFile'> {
  const { root, env, compose, berth, issues } = input;
  // A check that reads a section which failed its schema would take it for absent and report
  // nonsense ("no backup: section"): its findings go nowhere; the schema problem is reported.
  const checking = (...sections: string[]): IssueList => (sections.some((s) => input.failed.has(s)) ? new IssueList(issues.index) : issues);
  validate(composeSchema, compose, compose, [], issues, 'compose');
  const top = asMap(compose);
  const name = projectName({
    env: env.COMPOSE_PROJECT_NAME,
    berth: berth.name,
    compose: typeof top.name === 'string' ? top.name : undefined,
    dir: root,
  });
  if (!name) issues.at(compose, ['name'], 'project name must contain a letter or digit', 'key');
  const { networks, volumes, secrets, configs } = resolveResources(root, name, compose, issues);
  const keys = (section: string): Set<string> => new Set(Object.keys(asMap(top[section])));
  const refs: ProjectRefs = {
    dir: root,
    env,
    services: keys('services'),
    volumes: keys('volumes'),
    networks: keys('networks'),
    secrets: keys('secrets'),
    configs,
    readFile: readOptionalSync,
    displayName: (file) => displayName(root, file),
  };
  const drafts = resolveServices(compose, refs, issues);
  if (!networks.default && Object.values(drafts).some((d) => d.service.networks.default)) {
    networks.default = resolveNetwork(name, 'default', {});
  }
  const bases = Object.fromEntries(Object.entries(drafts).map(([k, d]) => [k, d.service]));
  checkFixedAddresses(bases, networks, compose, issues);
  const withBerth = applyBerthServices(bases, [...refs.services], berth, input.berthTree, checking('services', 'deploy'));
  const edgeInput = { services: withBerth, drafts, berth, composeRoot: compose, berthRoot: input.berthTree };
  const { edge, services } = resolveEdge(edgeInput, checking('edge', 'services', 'deploy'));
  const stateDir = resolveStateDir(root, input.opts.stateDir, env.BERTH_STATE_DIR, berth.state_dir);
  const notify = berth.notify && resolveNotify({ raw: berth.notify, root: input.berthTree, dir: root, env, issues });
  const replicate = resolveReplication(root, berth, input.berthTree, checking('backup'));
  const backup = resolveBackupSection({ ...input, issues: checking('backup', 'services') }, services, volumes);
  const perService = Object.fromEntries(Object.entries(berth.services ?? {}).map(([k, v]) => [k, v.monitor]));
  const backupSources = backup && effectiveSources(backup).map((s) => s.name);
  const backupSchedules = backup && ownSchedules(backup);
  const monitor = resolveMonitor({ raw: berth.monitor, perService, services, edge, replicating: replicate !== undefined, ...(backupSources && { backupSources }), ...(backupSchedules && { backupSchedules }) }, input.berthTree, checking('monitor', 'services', 'deploy', 'edge', 'backup'));
  return {
    name,
    dir: root,
    stateDir,
    services,
    networks,
    volumes,
    secrets,
    edge,
    monitor,
    ...(notify ? { notify } : {}),
    ...(backup ? { backup } : {}),
    ...(replicate ? { replicate } : {}),
  };
}

/** `backup:` plus `services.<name>.backup`, merged (`backup-services.ts`), with references to services checked. */
function resolveBackupSection(input: ResolveInput, services: Record<string, Service>, volumes: Record<string, Volume>) {
  const raw = input.berth.backup;
  const perService = Object.entries(input.berth.services ?? {}).map(([k, v]) => [k, v.backup] as const);
  if (!raw) {
    for (const [name, v] of perService) {
      if (v !== undefined && v !== false) input.issues.at(input.berthTree, ['services', name, 'backup'], 'backs up into the repository of the top-level `backup:` section, which is missing; add `backup: { repository: PATH }`', 'key');
    }
    return undefined;
  }
  const resolved = resolveBackup(raw, input.root);
  const { sources, problems: sourceProblems } = resolveBackupSources({
    explicit: raw.sources ? resolved.config.sources : undefined,
    perService,
    services: Object.values(services),
    volumeKeys: Object.keys(volumes).filter((k) => !volumes[k]!.external),
    dir: input.root,
    sftpRepository: /^sftp:/.test(raw.repository),
  });
  const config = { ...resolved.config, sources };
  const at = (p: ReadonlyArray<string | number>, message: string) => input.issues.at(input.berthTree, ['backup', ...p], message);
  for (const p of resolved.problems) at(p.path, p.message);
  const index = input.issues.index;
  for (const p of sourceProblems) {
    const first = p.firstAt && index.locate(input.berthTree, p.firstAt, 'key');
    const also = first ? ` (also at ${first.file}:${first.line}:${first.col})` : p.firstFrom ? ` (also ${p.firstFrom})` : '';
    input.issues.at(input.berthTree, p.path, `${p.message}${also}`, 'key');
  }
  for (const s of Object.values(config.sources)) {
    const place = raw.sources?.[s.name] ? ['backup', 'sources', s.name] : ['services', s.service ?? s.name, 'backup'];
    if (s.service && !(s.service in services)) input.issues.at(input.berthTree, [...place, 'service'], `unknown service "${s.service}"`);
    for (const w of s.writers ?? []) if (!(w in services)) input.issues.at(input.berthTree, [...place, 'writers'], `unknown service "${w}"`);
  }
  return config;
}

/** Top-level networks, volumes, secrets and configs; each entry is validated on its own. */
function resolveResources(root: string, name: string, compose: unknown, issues: IssueList) {
  const top = asMap(compose);
  const section = <T, R>(key: string, schema: Schema<T>, make: (k: string, v: T) => R): Record<string, R> =>
    mapEntries(asMap(top[key]), (k, v) => {
      const parsed = validate(schema, v, compose, [key, k], issues, 'compose');
      return parsed === undefined ? undefined : make(k, parsed);
    });
  return {
    networks: section('networks', networkSchema, (k, v): Network => resolveNetwork(name, k, v)),
    volumes: section('volumes', volumeSchema, (k, v): Volume => resolveVolume(name, k, v)),
    secrets: section('secrets', fileSourceSchema, (k, v): Secret => resolveSecret(root, k, v)),
    configs: section('configs', fileSourceSchema, (k, v) => resolveSecret(root, k, v).file),
  };
}

function resolveServices(compose: unknown, refs: ProjectRefs, issues: IssueList): Record<string, ServiceDraft> {
  const services = asMap(asMap(compose).services);
  if (Object.keys(services).length === 0 && asMap(compose).services !== undefined) {
    issues.at(compose, ['services'], 'no services are defined', 'key');
  }
  return mapEntries(services, (name, raw) => {
    const tree = asMap(raw);
    // Checked on the raw tree so the refusal shows even when other keys of the service are invalid.
    if ('build' in tree) issues.at(compose, ['services', name, 'build'], buildRefusal, 'key');
    else if (!tree.image) {
      issues.at(compose, ['services', name], 'service has no `image`; berth deploys images, set `image: NAME`', 'key');
    }
    const parsed = validate(serviceSchema, raw, compose, ['services', name], issues, 'compose');
    return parsed && normalizeService(name, parsed, compose, refs, issues);
  });
}

/** `backup.replicate` (on a backup host), resolved against `backup.repository` and its password. */
function resolveReplication(root: string, berth: RawBerth, tree: unknown, issues: IssueList): ReplicateConfig | undefined {
  const raw = berth.backup?.replicate;
  if (!raw) return undefined;
  const { config, issues: found } = resolveReplicate(raw, berth.backup ?? {}, root);
  for (const message of found) issues.at(tree, ['backup', 'replicate'], message, 'key');
  return config;
}

/** opts.stateDir, else BERTH_STATE_DIR (both relative to the working folder), else berth.yaml `state_dir`, else `.berth`. */
function resolveStateDir(root: string, fromOpts?: string, fromEnv?: string, fromBerth?: string): string {
  if (fromOpts) return path.resolve(fromOpts);
  if (fromEnv) return path.resolve(fromEnv);
  return path.resolve(root, fromBerth ?? '.berth');
}

function validate<T>(schema: Schema<T>, value: unknown, root: unknown, base: ConfigPath, issues: IssueList, file: ConfigFile): T | undefined {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  addZodIssues(issues, root, base, result.error.issues, file);
  return undefined;
}

async function readEnvironment(root: string, processEnv: EnvLookup, issues: IssueList): Promise<EnvLookup> {
  const file = path.join(root, '.env');
  const text = await readOptional(file);
  if (text === undefined) return processEnv;
  const parsed = parseDotenv(text, processEnv);
  for (const { line, message } of parsed.issues) issues.add({ pos: { file: '.env', line, col: 1 }, path: '', message });
  return { ...definedOnly(parsed.values), ...definedOnly(processEnv) };
}

async function findComposeFiles(root: string, given: readonly string[] | undefined): Promise<string[]> {
  if (given && given.length > 0) {
    const files = given.map((f) => path.resolve(root, f));
    const missing = [];
    for (const file of files) if ((await readOptional(file)) === undefined) missing.push(file);
    if (missing.length > 0) {
      throw new ConfigError(missing.map((file) => ({ path: '', message: `compose file ${file} not found` })));
    }
    return files;
  }
  for (const name of composeFileNames) {
    const file = path.join(root, name);
    if ((await readOptional(file)) !== undefined) return [file];
  }
  const message = `no compose file in ${root}; looked for ${composeFileNames.join(', ')}`;
  throw new ConfigError([{ path: '', message }], 'run berth in the project folder or pass --file');
}

/** Interpolates each file on its own (so positions stay per file), then merges them in order. */
function interpolateAndMerge(trees: readonly unknown[], env: EnvLookup, issues: IssueList): unknown {
  let merged: unknown = {};
  for (const tree of trees) {
    interpolateTree(
      tree,
      env,
      (p, message) => {
        issues.at(tree, p, message);
        // The value is left as written; checking it again would only repeat the problem.
        issues.mute(p);
      },
      // Compose leaves unset variables empty; a problem with such a value names them.
      (p, names, written) => issues.note(tree, p, unsetNote(names, written)),
    );
    merged = trees.length === 1 ? tree : mergeTrees(merged, tree, issues.index);
  }
  return merged;
}

function unsetNote(names: readonly string[], written: string): string {
  const one = names.length === 1;
  const list = one ? `${names[0]} is` : `${names.slice(0, -1).join(', ')} and ${names.at(-1)} are`;
  return `written ${JSON.stringify(written)} and ${list} not set (set ${one ? 'it' : 'them'} in the environment or in .env)`;
}

function parseTree(file: string, text: string, display: (file: string) => string, issues: IssueList): unknown {
  const { value, issues: found } = parseYaml(display(file), text, issues.index);
  found.forEach((i) => issues.add(i));
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    issues.add({ pos: { file: display(file), line: 1, col: 1 }, path: '', message: 'should be a mapping' });
    return {};
  }
  return value;
}

/** Paths inside the project folder are shown relative to it (`compose.yaml:12:5`). */
function displayName(root: string, file: string): string {
  const rel = path.relative(root, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

function readOptionalSync(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function asMap(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function mapEntries<R>(map: Record<string, unknown>, fn: (key: string, value: unknown) => R | undefined): Record<string, R> {
  const out: Record<string, R> = {};
  for (const [key, value] of Object.entries(map)) {
    const result = fn(key, value);
    if (result !== undefined) out[key] = result;
  }
  return out;
}

function definedOnly(env: Readonly<Record<string, string | null | undefined>>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'));
}
