/** Where a database tool runs: on this host (TCP), or inside the service's running container (docker exec). */
import fs from 'node:fs';
import path from 'node:path';
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
  const found = await ctx.engine.listContainers({ [label.project]: ctx.project.name, [label.service]: svc });
  const running = found.find((c) => c.running);
  if (!running) {
    throw new BerthError('BACKUP', `source ${ctx.source.name}: service ${svc} has no running container`, `start it with \`berth up\`, or back it up over TCP by removing \`service:\``);
  }
  return { kind: 'container', container: running.name };
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

/** `-v` argument for the data: the engine volume name, or the bind path. */
export function volumeMount(ctx: SourceContext, readOnly: boolean): string {
  const s = ctx.source;
  const src = s.path ?? ctx.project.volumes[s.volume!]?.name ?? s.volume!;
  return `${src}:/data${readOnly ? ':ro' : ''}`;
}
