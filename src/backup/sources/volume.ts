/**
 * A named volume or a bind path, read through a short-lived helper container as a tar stream.
 * File digests are computed from that same stream on its way into restic (`tar-digest.ts`).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import { label } from '../../engine/labels.js';
import { BerthError } from '../../lib/errors.js';
import { ensureHelperImage } from '../helper-image.js';
import type { Cmd } from '../process.js';
import { compareManifests, digestTar, manifestOf, type Manifest } from '../tar-digest.js';
import { regularFiles } from './files.js';
import { asideVars, keepEnv, keepFns, keptReport, moveFn, setAside } from './in-place.js';
import { extractTar, pipeFrom, pipeInto } from './io.js';
import { directVolume } from './volume-direct.js';
import type { DrillOutcome, SourceContext, SourceDriver } from './types.js';
import { requireVolumeData, volumeData, volumeMount } from './where.js';
import { counted } from '../../lib/plural.js';


function helper(ctx: SourceContext, readOnly: boolean, argv: string[], env: Record<string, string> = {}): Cmd {
  const name = `berth-helper-${ctx.project.name}-${ctx.source.name}-${process.pid}`;
  const envArgs = Object.keys(env).flatMap((k) => ['-e', k]);
  return {
    file: 'docker',
    args: ['run', '--rm', '-i', '--log-driver', 'none', '--name', name, '--network', 'none', '--label', `${label.role}=helper`, '-v', volumeMount(ctx, readOnly), ...envArgs, '--entrypoint', '/bin/sh', image(ctx), '-c', ...argv],
    env,
  };
}

/**
 * Extracts the tar on stdin into the volume at /data in place of its files. What the source's
 * `exclude:` patterns name stays as it is (`in-place.ts`): set aside first, put back where the
 * tar wrote nothing. Without patterns the files are simply removed first.
 */
const extractInPlace = [
  `t=/data; ${asideVars}`,
  moveFn,
  keepFns,
  `if [ -n "$BERTH_KEEP" ]; then ${setAside}; keep "$old"; spent "$old"`,
  'else rm -rf /data/* /data/.[!.]* /data/..?* 2>/dev/null; fi',
  'cd /data && tar -x; rc=$?; putback; exit $rc',
].join('\n');

const image = (ctx: SourceContext) => ctx.project.backup?.helperImage ?? 'berth-helper:local';

export const volumeSource: SourceDriver = {
  filename: (s) => `volume/${s.name}.tar`,
  direct: directVolume,

  async dump(ctx, out: Writable, signal) {
    refuseExcludes(ctx);
    await requireVolumeData(ctx);
    await ensureHelperImage(image(ctx));
    const tap = new PassThrough();
    const manifest = digestTar(tap);
    await pipeFrom(helper(ctx, true, ['cd /data && tar -c .']), out, signal, `${ctx.source.name}: read ${volumeData(ctx)}`, tap);
    return { manifest: await manifest };
  },

  async drill(ctx, input, facts): Promise<DrillOutcome> {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-drill-'));
    try {
      await extractTar(input, scratch, ctx.source.name);
      const restored = digestDir(scratch);
      const recorded = facts?.manifest as Manifest | undefined;
      const mismatches = recorded ? compareManifests(recorded, restored) : ['no recorded file digests to compare'];
      return { ok: mismatches.length === 0, summary: `${counted(restored.files, 'file')}, ${counted(restored.bytes, 'byte')}, digests ${mismatches.length ? 'differ' : 'equal'}`, mismatches };
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  },

  async restore(ctx, input, opts) {
    if (opts.to) {
      await extractTar(input, opts.to, ctx.source.name);
      return `extracted into ${opts.to}`;
    }
    await ensureHelperImage(image(ctx));
    opts.onBegin?.();
    const out = await pipeInto(helper(ctx, false, [extractInPlace], { ...keepEnv(ctx), BERTH_PID: String(process.pid) }), input, `${ctx.source.name}: write ${volumeData(ctx)}`);
    return `volume ${volumeData(ctx)} replaced${keptReport(ctx, '/data', out.split('\n'))}`;
  },

  writers(ctx) {
    const vol = ctx.source.volume;
    return Object.values(ctx.project.services)
      .filter((s) => s.mounts.some((m) => (vol && m.type === 'volume' && m.source === vol) || (ctx.source.path && m.type === 'bind' && m.source === ctx.source.path)))
      .map((s) => s.name);
  },
};

/**
 * The helper's tar (busybox) cannot leave files out, and backing up what `exclude:` names (or
 * leaving the patterns out of effect) is not what was asked: the source fails, saying why it is
 * streamed here and what to change. Only restic reads a volume with exclusions (`volume-direct.ts`).
 */
function refuseExcludes(ctx: SourceContext): void {
  if (!ctx.source.exclude?.length) return;
  const sftp = /^sftp:/.test(ctx.project.backup?.repository ?? '');
  const why = sftp
    ? ctx.source.path
      ? 'the repository is sftp, which restic in the helper container cannot reach, and berth is not root here, so restic on this host cannot read the bind path'
      : 'the repository is sftp, which restic in the helper container cannot reach'
    : `the helper image ${image(ctx)} has no restic (backup.helper_image)`;
  throw new BerthError(
    'BACKUP',
    `${ctx.source.name}: \`exclude\` needs restic to read the volume, but here it is streamed as a tar: ${why}`,
    sftp
      ? 'back up into a local repository and copy it off-site with `berth replicate pull` on the backup host, or remove `exclude`'
      : 'remove backup.helper_image (berth builds its own helper, with restic), or remove `exclude`',
  );
}

/** The same manifest as `digestTar`, from files on disk. */
export function digestDir(root: string): Manifest {
  const chunk = Buffer.alloc(1 << 20);
  let bytes = 0;
  const files = regularFiles(root).map((p): [string, string] => {
    const h = createHash('sha256');
    const fd = fs.openSync(p, 'r');
    try {
      for (let n; (n = fs.readSync(fd, chunk, 0, chunk.length, null)) > 0; ) {
        h.update(chunk.subarray(0, n));
        bytes += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    return [path.relative(root, p).split(path.sep).join('/'), h.digest('hex')];
  });
  return manifestOf(files, bytes);
}
