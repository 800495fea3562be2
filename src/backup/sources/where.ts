/** Where a database tool runs: on this host (TCP), or inside the service's running container (docker exec). */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerInfo } from '../../engine/engine.js';
import { label } from '../../engine/labels.js';
import { BerthError } from '../../lib/errors.js';
import type { Cmd } from '../process.js';
import type { SourceContext } from './types.js';

export type Where = { readonly kind: 'host' } | { readonly kind: 'container'; readonly container: string };

/** How a database's command-line tools reach it: where they run, their connection flags, secrets as environment. */
export interface ToolConn {
  readonly where: Where;
  readonly args: readonly string[];
  readonly env: Record<string, string>;
}

/** The argv run where the source lives; secrets travel as environment variables, never as arguments. */
export function inWhere(where: Where, argv: readonly string[], env: Readonly<Record<string, string>> = {}): Cmd {
  if (where.kind === 'host') return { file: argv[0]!, args: argv.slice(1), env };
  const envArgs = Object.keys(env).flatMap((k) => ['-e', k]);
  return { file: 'docker', args: ['exec', '-i', ...envArgs, where.container, ...argv], env };
}

export async function resolveWhere(ctx: SourceContext): Promise<Where> {
  const svc = ctx.source.service;
  if (!svc) return { kind: 'host' };
  const running = await runningContainer(ctx, svc);
  if (!running) {
    throw new BerthError('BACKUP', `source ${ctx.source.name}: service ${svc} has no running container`, `start it with \`berth up\`, or back it up over TCP by removing \`service:\``);
  }
  if (running.health !== 'starting') return { kind: 'container', container: running.name };
  // Just (re)started (by `berth up`, a restart policy, or a deploy lock's repair): its tools would
  // fail to connect. Wait as long as its own healthcheck may take, then try whatever it says.
  const hc = ctx.project.services[svc]?.healthcheck;
  const waitMs = Math.min(300_000, Math.max(30_000, (hc?.startPeriodMs ?? 0) + (hc?.intervalMs ?? 30_000) * (hc?.retries ?? 3)));
  ctx.report.info(`${ctx.source.name}: waiting for ${running.name} to become healthy (up to ${Math.round(waitMs / 1000)} s)`);
  const deadline = Date.now() + waitMs;
  let now: ContainerInfo | undefined = running;
  while (now?.running && now.health === 'starting' && Date.now() < deadline) {
    await sleep(250);
    now = await runningContainer(ctx, svc);
  }
  if (!now) throw new BerthError('BACKUP', `source ${ctx.source.name}: the container of service ${svc} stopped while starting`, 'see `docker logs` of it, and `berth up`');
  if (now.health !== 'healthy') ctx.report.warn(`${ctx.source.name}: ${now.name} is ${now.health ?? 'running'}${now.healthLog ? ` (${now.healthLog.slice(0, 200)})` : ''}; trying anyway`);
  return { kind: 'container', container: now.name };
}

async function runningContainer(ctx: SourceContext, service: string): Promise<ContainerInfo | undefined> {
  const found = await ctx.engine.listContainers({ [label.project]: ctx.project.name, [label.service]: service });
  return found.find((c) => c.running);
}

/** The password from `password_file`/`password_env`, else the service's own environment (e.g. MARIADB_ROOT_PASSWORD). */
export function sourcePassword(ctx: SourceContext, serviceEnvKeys: readonly string[]): string | undefined {
  const p = ctx.source.password;
  if (p && 'file' in p) {
    try {
      return fs.readFileSync(p.file, 'utf8').trim();
    } catch {
      throw new BerthError('CONFIG', `source ${ctx.source.name}: cannot read password file ${p.file}`);
    }
  }
  if (p) {
    const v = ctx.env[p.env];
    if (v === undefined) throw new BerthError('CONFIG', `source ${ctx.source.name}: environment variable ${p.env} is not set`);
    return v;
  }
  const env = ctx.source.service ? ctx.project.services[ctx.source.service]?.environment : undefined;
  for (const k of serviceEnvKeys) if (env?.[k]) return env[k];
  return undefined;
}

export function scratchName(prefix: string): string {
  return `${prefix}_${Math.random().toString(36).slice(2, 10)}`;
}

export function relativeTo(dir: string, file: string): string {
  return path.relative(dir, file).split(path.sep).join('/');
}

/**
 * Before reading a volume source: its data must exist. `docker run -v` would otherwise create an
 * empty named volume (or an empty host folder for a bind path) and the backup would store nothing.
 */
export async function requireVolumeData(ctx: SourceContext): Promise<void> {
  const missing = await missingVolumeData(ctx);
  if (missing) throw missing;
}

/** Why a volume source has no data to read (as the error to throw), or undefined when it has. */
export async function missingVolumeData(ctx: SourceContext): Promise<BerthError | undefined> {
  const s = ctx.source;
  if (s.path !== undefined) {
    try {
      fs.statSync(s.path);
      return undefined;
    } catch (err) {
      // Another reason (no permission here) is for the reader to report: it may run as root.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
      return new BerthError('BACKUP', `source ${s.name}: ${s.path} does not exist`, 'check `path:` of this source in berth.yaml');
    }
  }
  const name = volumeData(ctx);
  if (await ctx.engine.volumeExists(name)) return undefined;
  const composeKey = ctx.project.volumes[s.volume!] !== undefined;
  return new BerthError(
    'BACKUP',
    `source ${s.name}: volume ${name} does not exist`,
    composeKey ? `it is created when the project starts (\`berth up\`); nothing to back up before that` : 'check `volume:` of this source in berth.yaml (`docker volume ls` lists them)',
  );
}

/** A volume source's data: the engine volume name, or the bind path. */
export function volumeData(ctx: SourceContext): string {
  const s = ctx.source;
  return s.path ?? ctx.project.volumes[s.volume!]?.name ?? s.volume!;
}

/** `-v` argument for the data: the engine volume name, or the bind path. */
export function volumeMount(ctx: SourceContext, readOnly: boolean): string {
  return `${volumeData(ctx)}:/data${readOnly ? ':ro' : ''}`;
}
