/**
 * The project's own configuration: compose files and berth.yaml. Env files only with
 * `include_env: true`: they usually hold secrets, and the repository is encrypted but readable by
 * everyone with its password.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import { pack } from 'tar-stream';
import { compareManifests, digestTar, type Manifest } from '../tar-digest.js';
import { extractTar } from './io.js';
import type { DrillOutcome, SourceContext, SourceDriver } from './types.js';
import { relativeTo } from './where.js';

/** Project files to keep, relative to the project folder. Env files (`.env`, `*.env`) only with `include_env`. */
export function configFiles(ctx: SourceContext): string[] {
  const { project, source } = ctx;
  const files = new Set<string>([...project.composeFiles, ...(project.berthFile ? [project.berthFile] : [])]);
  for (const f of fs.readdirSync(project.dir)) {
    if (f === '.env.example' || (source.includeEnv && (f === '.env' || f.endsWith('.env')))) files.add(path.join(project.dir, f));
  }
  return [...files]
    .filter((f) => fs.existsSync(f) && fs.statSync(f).isFile())
    .map((f) => relativeTo(project.dir, f))
    .filter((f) => !f.startsWith('..'))
    .sort();
}

export const configSource: SourceDriver = {
  filename: () => 'config/project.tar',

  async dump(ctx, out: Writable) {
    const files = configFiles(ctx);
    const tarball = pack();
    const tap = new PassThrough();
    const manifest = digestTar(tap);
    tarball.pipe(tap);
    tarball.on('data', (d: unknown) => out.write(d as Buffer));
    const ended = new Promise<void>((resolve, reject) => {
      tarball.on('end', resolve);
      tarball.on('error', reject);
    });
    for (const f of files) {
      const full = path.join(ctx.project.dir, f);
      tarball.entry({ name: f, mode: fs.statSync(full).mode & 0o777, mtime: fs.statSync(full).mtime }, fs.readFileSync(full));
    }
    tarball.finalize();
    await ended;
    return { manifest: await manifest, files };
  },

  async drill(_ctx, input, facts): Promise<DrillOutcome> {
    const restored = await digestTar(input);
    const recorded = facts?.manifest as Manifest | undefined;
    const mismatches = recorded ? compareManifests(recorded, restored) : ['no recorded digests'];
    return { ok: mismatches.length === 0, summary: `${restored.files} files, digests ${mismatches.length ? 'differ' : 'equal'}`, mismatches };
  },

  async restore(ctx, input, opts) {
    const dir = opts.to ?? ctx.project.dir;
    await extractTar(input, dir, ctx.source.name);
    return `config files extracted into ${dir}`;
  },

  writers: () => [],
};
