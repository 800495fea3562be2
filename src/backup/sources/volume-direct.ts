/**
 * Volumes backed up by restic itself, running inside the helper container with the volume
 * mounted read-only at `/volume/<source>` and the (local) repository bind-mounted: restic's change
 * detection skips unchanged files, so an unchanged re-run reads metadata only.
 *
 * The container gets the host's name and pid namespace so a lock left by a killed restic is
 * recognised as stale on this host, and a watchdog in the container interrupts restic when
 * berth's process is gone, so a killed berth leaves no snapshot behind.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { label } from '../../engine/labels.js';
import { BerthError } from '../../lib/errors.js';
import { ensureHelperImage } from '../helper-image.js';
import { capture, exitOf, start, type Cmd } from '../process.js';
import type { BackupSummary, Restic, Snapshot } from '../restic.js';
import type { DirectSource, SourceContext } from './types.js';
import { volumeMount } from './where.js';

/** restic, interrupted (no snapshot saved) as soon as berth's process is gone; the container shares the host's pids. */
const wrapper = 'restic "$@" & r=$!; (while kill -0 "$BERTH_PID" 2>/dev/null; do sleep 1; done; kill -INT $r 2>/dev/null) & wait $r';

const image = (ctx: SourceContext) => ctx.project.backup?.helperImage ?? 'berth-helper:local';
const mountPoint = (ctx: SourceContext) => `/volume/${ctx.source.name}`;

function cacheDir(): string {
  const dir = process.env.RESTIC_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'restic');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function resticInHelper(ctx: SourceContext, restic: Restic, readOnly: boolean, argv: readonly string[]): Cmd {
  const env = { ...restic.containerEnv(), RESTIC_CACHE_DIR: cacheDir() };
  const src = volumeMount(ctx, readOnly).split(':')[0]!;
  return {
    file: 'docker',
    args: [
      'run', '--rm', '--log-driver', 'none', '--network', 'none', '--pid', 'host', '--hostname', os.hostname(),
      '--name', `berth-helper-${ctx.project.name}-${ctx.source.name}-${process.pid}`, '--label', `${label.role}=helper`,
      '-v', `${src}:${mountPoint(ctx)}${readOnly ? ':ro' : ''}`, '-v', `${restic.repository}:${restic.repository}`, '-v', `${env.RESTIC_CACHE_DIR}:${env.RESTIC_CACHE_DIR}`,
      ...Object.keys(env).flatMap((k) => ['-e', k]), '-e', `BERTH_PID=${process.pid}`,
      '--entrypoint', '/bin/sh', image(ctx), '-c', wrapper, 'restic', ...argv,
    ],
    env,
  };
}

/** Runs restic in the helper; stdout lines go to `onLine`. */
async function runInHelper(cmd: Cmd, restic: Restic, action: string, onLine: (line: string) => void): Promise<void> {
  const child = start(cmd);
  let buffered = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    lines.forEach(onLine);
  });
  child.stdin!.end();
  const r = await exitOf(child);
  if (r.code !== 0) throw restic.failure(r.stderr, r.code, action);
}

const sizeOf = async (restic: Restic, snapshot: string): Promise<number> => {
  const r = await capture({ file: 'restic', args: ['stats', '--json', '--no-lock', snapshot], env: restic.containerEnv() });
  const m = /"total_size":\s*(\d+)/.exec(r.stdout);
  return m ? Number(m[1]) : 0;
};

export const directVolume: DirectSource = {
  async usable(ctx, restic) {
    return restic.local && (await ensureHelperImage(image(ctx))).hasRestic;
  },

  async backup(ctx, restic, args, onBytes) {
    let summary: BackupSummary | undefined;
    const argv = ['backup', '--json', '--host', args.host, ...args.tags.flatMap((t) => ['--tag', t]), mountPoint(ctx)];
    await runInHelper(resticInHelper(ctx, restic, true, argv), restic, 'backup', (line) => {
      if (!line.startsWith('{')) return;
      const msg = JSON.parse(line) as { message_type?: string; bytes_done?: number };
      if (msg.message_type === 'status' && msg.bytes_done !== undefined) onBytes(msg.bytes_done);
      if (msg.message_type === 'summary') summary = msg as BackupSummary;
    });
    if (!summary) throw new BerthError('REPOSITORY', `restic in the helper container wrote no summary for ${ctx.source.name}`);
    return { summary, bytes: summary.total_bytes_processed, facts: { files: summary.total_files_processed ?? 0, bytes: summary.total_bytes_processed, reader: 'restic in helper container' } };
  },

  owns: (s) => !!s.paths?.[0]?.startsWith('/volume/') && !s.paths[0].endsWith('.tar'),

  async drill(ctx, restic, snapshot, facts) {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-drill-'));
    try {
      await restic.restoreVerified(snapshot.id, scratch);
      const { files, bytes } = countFiles(path.join(scratch, snapshot.paths![0]!));
      const mismatches: string[] = [];
      if (!facts) mismatches.push('no recorded file count to compare');
      else if (facts.files !== files || facts.bytes !== bytes) mismatches.push(`${files} files / ${bytes} bytes restored, ${String(facts.files)} / ${String(facts.bytes)} recorded`);
      return { ok: mismatches.length === 0, bytes, mismatches, summary: `${files} files, ${bytes} bytes; every file re-read and checked against the chunk hashes recorded at backup (restic restore --verify)` };
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  },

  async restore(ctx, restic, snapshot, opts) {
    const bytes = await sizeOf(restic, snapshot.id);
    if (opts.to) {
      fs.mkdirSync(opts.to, { recursive: true });
      await restic.restoreVerified(snapshot.id, opts.to);
      return { summary: `restored under ${path.join(opts.to, snapshot.paths![0]!)}`, bytes };
    }
    await ensureHelperImage(image(ctx));
    const target = mountPoint(ctx);
    const clear = `rm -rf ${target}/* ${target}/.[!.]* ${target}/..?* 2>/dev/null; `;
    const cmd = resticInHelper(ctx, restic, false, ['restore', '--quiet', snapshot.id, '--target', '/']);
    const script = cmd.args.indexOf(wrapper);
    const args = [...cmd.args];
    args[script] = clear + wrapper;
    await runInHelper({ ...cmd, args }, restic, 'restore', () => undefined);
    return { summary: `volume ${volumeMount(ctx, false).split(':')[0]} replaced`, bytes };
  },
};

function countFiles(root: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        files++;
        bytes += fs.statSync(p).size;
      }
    }
  };
  if (fs.existsSync(root)) walk(root);
  return { files, bytes };
}
