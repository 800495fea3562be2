/**
 * Volumes backed up by restic itself rather than streamed: restic's change detection skips
 * unchanged files, so an unchanged re-run reads metadata only.
 *
 * Two readers. A bind path, when berth runs as root, is read by restic on this host: the host
 * holds that path anyway, and a run then costs no container. Named volumes (and bind paths when
 * berth is not root) are read by restic inside the helper container, with the data mounted
 * read-only and the (local) repository bind-mounted, so the host needs no access to volume data.
 * Either way a bind path is recorded under its own host path and a named volume under
 * `/volume/<source>`, so both readers share restic's parent snapshot.
 *
 * The helper container gets the host's name and pid namespace so a lock left by a killed restic
 * is recognised as stale on this host, and a watchdog in it interrupts restic when berth's
 * process is gone, so a killed berth leaves no snapshot behind (on the host, `start` gives restic
 * the kernel's parent-death signal for the same effect).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { label } from '../../engine/labels.js';
import { BerthError } from '../../lib/errors.js';
import { makeDirs } from '../../lib/files.js';
import { ensureHelperImage } from '../helper-image.js';
import { capture, exitOf, start, type Cmd } from '../process.js';
import { resticArgs } from '../restic-args.js';
import { eachLine, summaryOf, type BackupSummary, type Restic, type Snapshot } from '../restic.js';
import { regularFiles } from './files.js';
import { nothingMatches, resticExcludeArgs, resticIncludeArgs } from './path-patterns.js';
import { asideVars, keepEnv, keepFns, keptReport, moveFn, setAside } from './in-place.js';
import type { DirectSource, SourceContext } from './types.js';
import { requireVolumeData, volumeData } from './where.js';
import { counted } from '../../lib/plural.js';

/**
 * restic, interrupted (no snapshot saved) as soon as berth's process is gone; the container shares
 * the host's pids. Looked at every 0.2 s (every 1 s where the image's sleep takes whole seconds only):
 * restic can back up a hundred MB within a second.
 */
const wrapper = 'restic "$@" & r=$!; (while kill -0 "$BERTH_PID" 2>/dev/null; do sleep 0.2 2>/dev/null || sleep 1; done; kill -INT $r 2>/dev/null) >/dev/null & wait $r';

/**
 * An in-place restore (`$1` the volume's mount point, then restic's arguments). The current data is
 * moved aside (renames within the volume: instant, no space), and removed only once restic says
 * "restoring …", which it prints after taking its lock and reading the index, before it writes a
 * file: first renamed to `.berth-removing-<pid>` (so a helper killed at any point leaves on the
 * volume itself which of the two it was), then what `exclude:` left out of the snapshot is taken
 * from it (`keepFns`), then it is deleted, and `berth-began` printed. A restic that stops before
 * that (a lock it cannot take, berth gone) gets the data moved back: nothing changed. Once restic
 * is through (or has failed part-way), the kept paths go back. Prints `berth-settled <restic's
 * status>` last (nothing is left aside) and exits with that status.
 */
const restoreInPlace = [
  `t="$1"; shift; ${asideVars}`,
  moveFn,
  keepFns,
  setAside,
  `(${wrapper}; echo "berth-rc=$?") | { rc=1; while IFS= read -r line; do case "$line" in "restoring "*) mv "$old" "$gone" && echo berth-began; keep "$gone"; spent "$gone";; berth-rc=*) rc="\${line#berth-rc=}";; esac; done`,
  'if [ -d "$old" ]; then move "$old" "$t"; rmdir "$old"; fi; putback; echo "berth-settled $rc"; exit "$rc"; }',
].join('\n');

/**
 * After an in-place restore whose helper stopped before it settled (its container killed, dockerd
 * restarted): what is left aside goes back when restic had not begun, or is removed when it had
 * (the paths `exclude:` names put back first). Prints what it did last: `moved-back`, `removed` or
 * `nothing`.
 */
const settleInPlace = [
  `t="$1"; ${asideVars}`,
  moveFn,
  keepFns,
  'if [ -d "$gone" ]; then keep "$gone"; spent "$gone"; rm -rf "$old"; putback; echo removed; exit 0; fi',
  'if [ -d "$old" ]; then move "$old" "$t" && rmdir "$old" && echo moved-back; exit; fi',
  'if [ -d "$kept" ]; then putback; echo removed; exit 0; fi',
  'echo nothing',
].join('\n');

const image = (ctx: SourceContext) => ctx.project.backup?.helperImage ?? 'berth-helper:local';
/** Where the data sits in the snapshot: a bind path under its own path, a named volume under /volume/<source>. */
const snapshotPath = (ctx: SourceContext) => ctx.source.path ?? `/volume/${ctx.source.name}`;

/**
 * The previous snapshot as restic's parent when it is still in a local repository (a glance at
 * `snapshots/`): restic then skips reading every snapshot to find it. Otherwise restic searches.
 */
function parentIn(restic: Restic, id: string | undefined): boolean {
  if (!id || !restic.local || !/^[0-9a-f]{8,64}$/.test(id)) return false;
  try {
    return fs.readdirSync(path.join(restic.repository, 'snapshots')).some((f) => f.startsWith(id));
  } catch {
    return false;
  }
}

/** restic on this host reads a bind path when berth can read anything there (root); otherwise the helper does. */
export function readsOnHost(ctx: SourceContext): boolean {
  return !!ctx.source.path && process.getuid?.() === 0;
}

function cacheDir(): string {
  const dir = process.env.RESTIC_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'restic');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** A helper container with the source's data mounted at `mountAt`, running `script` (given `scriptArgs`, then `argv`). */
function inHelper(
  ctx: SourceContext,
  opts: { mountAt: string; readOnly: boolean; script: string; scriptArgs?: readonly string[]; argv?: readonly string[]; env?: Record<string, string>; extraMounts?: readonly string[]; role?: string },
): Cmd {
  const env = opts.env ?? {};
  return {
    file: 'docker',
    args: [
      'run', '--rm', '--log-driver', 'none', '--network', 'none', '--pid', 'host', '--hostname', os.hostname(),
      '--name', `berth-helper-${ctx.project.name}-${ctx.source.name}-${process.pid}${opts.role ? `-${opts.role}` : ''}`, '--label', `${label.role}=helper`,
      '-v', `${volumeData(ctx)}:${opts.mountAt}${opts.readOnly ? ':ro' : ''}`, ...(opts.extraMounts ?? []).flatMap((m) => ['-v', `${m}:${m}`]),
      ...Object.keys(env).flatMap((k) => ['-e', k]), '-e', `BERTH_PID=${process.pid}`,
      '--entrypoint', '/bin/sh', image(ctx), '-c', opts.script, 'restic', ...(opts.scriptArgs ?? []), ...(opts.argv ?? []),
    ],
    env,
  };
}

/** restic in the helper, with the data mounted at `mountAt`, run by `script` (given `scriptArgs`, then restic's). */
function resticInHelper(ctx: SourceContext, restic: Restic, readOnly: boolean, mountAt: string, argv: readonly string[], script = wrapper, scriptArgs: readonly string[] = []): Cmd {
  const env = { ...restic.containerEnv(), RESTIC_CACHE_DIR: cacheDir(), ...keepEnv(ctx) };
  return inHelper(ctx, { mountAt, readOnly, script, scriptArgs, argv, env, extraMounts: [restic.repository, env.RESTIC_CACHE_DIR] });
}

/** Runs restic (on the host or in the helper); stdout lines go to `onLine`. */
async function runRestic(cmd: Cmd, restic: Restic, action: string, onLine: (line: string) => void): Promise<void> {
  const child = start(cmd);
  eachLine(child.stdout!, onLine);
  child.stdin!.end();
  const r = await exitOf(child);
  if (r.code !== 0) throw restic.failure(r.stderr, r.code, action);
}

const sizeOf = async (restic: Restic, snapshot: string): Promise<number> => {
  const r = await capture(restic.command(['stats', '--json', '--no-lock', snapshot]));
  const m = /"total_size":\s*(\d+)/.exec(r.stdout);
  return m ? Number(m[1]) : 0;
};

export const directVolume: DirectSource = {
  async usable(ctx, restic) {
    if (readsOnHost(ctx)) return true;
    return restic.local && (await ensureHelperImage(image(ctx))).hasRestic;
  },

  async backup(ctx, restic, args, onBytes) {
    let summary: BackupSummary | undefined;
    const onHost = readsOnHost(ctx);
    await requireVolumeData(ctx);
    const exclude = resticExcludeArgs(snapshotPath(ctx), ctx.source.exclude);
    const argv = resticArgs.backupPaths([snapshotPath(ctx)], { ...args, exclude, ...(parentIn(restic, args.previous) && { parent: args.previous }) });
    const cmd = onHost ? restic.command(argv) : resticInHelper(ctx, restic, true, snapshotPath(ctx), argv);
    await runRestic(cmd, restic, 'backup', (line) => {
      if (line.startsWith('{"message_type":"status"')) {
        const done = (JSON.parse(line) as { bytes_done?: number }).bytes_done;
        if (done !== undefined) onBytes(done);
      } else summary = summaryOf(line) ?? summary;
    });
    const reader = onHost ? 'restic on this host' : 'restic in helper container';
    if (!summary) throw new BerthError('REPOSITORY', `${reader} wrote no summary for ${ctx.source.name}`);
    return { summary, bytes: summary.total_bytes_processed, facts: { files: summary.total_files_processed ?? 0, bytes: summary.total_bytes_processed, reader } };
  },

  // A streamed volume snapshot holds one `.tar` file; a direct one holds the data's own path.
  owns: (s) => !!s.paths?.[0] && !s.paths[0].endsWith('.tar'),

  async drill(ctx, restic, snapshot, facts) {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-drill-'));
    try {
      await restic.restoreVerified(snapshot.id, scratch);
      const { files, bytes } = countFiles(path.join(scratch, snapshot.paths![0]!));
      const mismatches: string[] = [];
      if (!facts) mismatches.push('no recorded file count to compare');
      else if (facts.files !== files || facts.bytes !== bytes) mismatches.push(`${files} files / ${bytes} bytes restored, ${String(facts.files)} / ${String(facts.bytes)} recorded`);
      return { ok: mismatches.length === 0, bytes, mismatches, summary: `${counted(files, 'file')}, ${counted(bytes, 'byte')}; every file re-read and checked against the chunk hashes recorded at backup (restic restore --verify)` };
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  },

  async restore(ctx, restic, snapshot, opts) {
    // Some paths: their size is counted from the restored files, not the whole snapshot's.
    if (opts.to && opts.paths?.length) return restorePaths(ctx, restic, snapshot, opts.to, opts.paths);
    // The size (for the throughput shown) comes from a second restic process while the first
    // restores: run one after the other, its key derivation alone would add ~0.8 s.
    const size = sizeOf(restic, snapshot.id).catch(() => 0);
    if (opts.to) {
      makeDirs(opts.to);
      const [bytes] = await Promise.all([size, restic.restoreVerified(snapshot.id, opts.to)]);
      return { summary: `restored under ${path.join(opts.to, snapshot.paths![0]!)}`, bytes };
    }
    await ensureHelperImage(image(ctx));
    // Mounted where the snapshot recorded it, so `--target /` puts every file back in place.
    const target = snapshot.paths![0]!;
    const cmd = resticInHelper(ctx, restic, false, target, ['restore', snapshot.id, '--target', '/'], restoreInPlace, [target]);
    let began = false;
    let settled: string | undefined;
    const keepLines: string[] = [];
    const restored = runRestic(cmd, restic, 'restore', (line) => {
      if (line === 'berth-began') {
        began = true;
        opts.onBegin?.();
      } else if (line.startsWith('berth-settled ')) settled = line.slice('berth-settled '.length);
      else if (line === 'berth-put' || line.startsWith('berth-left ')) keepLines.push(line);
    }).catch(async (err: unknown) => {
      // restic was through and all was cleaned up: the container was stopped only as it exited.
      if (settled === '0') return;
      if (settled !== undefined) throw err;
      // The helper ended before its script was through (its container killed, dockerd restarted).
      const after = await settleAside(ctx, target, err as Error, began);
      if (after.began && !began) opts.onBegin?.();
      throw after.error;
    });
    const [bytes] = await Promise.all([size, restored]);
    return { summary: `volume ${volumeData(ctx)} replaced${keptReport(ctx, target, keepLines)}`, bytes };
  },
};

/**
 * Puts back what an interrupted in-place restore had set aside, or removes it once restic had begun
 * (`began`: restic said so before the helper ended), and returns the error that says which, and
 * whether restic had begun. Docker may be restarting: tried for up to 30 s.
 */
async function settleAside(ctx: SourceContext, target: string, cause: Error, began: boolean): Promise<{ error: BerthError; began: boolean }> {
  const name = ctx.source.name;
  const cmd = inHelper(ctx, { mountAt: target, readOnly: false, script: settleInPlace, scriptArgs: [target], role: 'settle', env: keepEnv(ctx) });
  const deadline = Date.now() + 30_000;
  let last = '';
  for (;;) {
    const r = await capture(cmd, { timeoutMs: 120_000 });
    const lines = r.stdout.trim().split('\n');
    const did = r.code === 0 ? lines.pop() : undefined;
    if (did === 'removed' || (did === 'nothing' && began)) {
      return { began: true, error: new BerthError('BACKUP', `${name}: the restore's helper container ended while restic was restoring (${cause.message})${keptReport(ctx, target, lines)}`, undefined, { cause }) };
    }
    if (did === 'moved-back' || did === 'nothing') {
      return { began: false, error: new BerthError('BACKUP', `${name}: the restore's helper container ended before restic began (${cause.message}); the volume's files are as they were`, 'nothing was restored: run the restore again', { cause }) };
    }
    last = (r.stderr.trim() || r.stdout.trim()).split('\n').pop() ?? `exit ${String(r.code)}`;
    if (Date.now() > deadline) break;
    await sleep(2_000);
  }
  const error = new BerthError(
    'BACKUP',
    `${name}: the restore's helper container ended before it was through (${cause.message}), and berth could not look at the volume afterwards (${last})`,
    `the volume's files from before the restore are in .berth-replaced-${process.pid} (or, if restic had begun, .berth-removing-${process.pid}) at the top of ${volumeData(ctx)}: move them back, or run the restore again, which removes them`,
    { cause },
  );
  return { began, error };
}

/** Some paths of a snapshot, restored under `to` (restic's `--include`, every file verified). */
async function restorePaths(ctx: SourceContext, restic: Restic, snapshot: Snapshot, to: string, paths: readonly string[]): Promise<{ summary: string; bytes: number }> {
  makeDirs(to);
  const root = snapshot.paths![0]!;
  const files = await restic.restoreVerified(snapshot.id, to, resticIncludeArgs(root, paths));
  if (files === 0) throw nothingMatches(ctx.source, snapshot.short_id, paths);
  const under = path.join(to, root);
  const bytes = fs.existsSync(under) ? countFiles(under).bytes : 0;
  return { summary: `${files ?? 'the'} file(s) of ${paths.map((p) => p.slice(1)).join(', ')} restored under ${under}`, bytes };
}

function countFiles(root: string): { files: number; bytes: number } {
  const files = regularFiles(root);
  return { files: files.length, bytes: files.reduce((n, f) => n + fs.statSync(f).size, 0) };
}
