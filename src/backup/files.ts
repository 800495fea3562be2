/**
 * `berth backup files`: what one source's snapshot holds, so a user can pick what to restore with
 * `berth restore … --path`. A volume read by restic lists its files as restic recorded them (`restic
 * ls`, streamed line by line); a volume streamed as tar, and the project's config, list the tar's
 * members (the snapshot's one file read through); a database snapshot lists its dump file(s).
 * Paths are from the volume's root or the project folder, as `--path` takes them.
 */
import { extract } from 'tar-stream';
import { z } from 'zod';
import { BerthError } from '../lib/errors.js';
import type { SourceType } from '../project/backup-schema.js';
import type { BackupContext } from './context.js';
import { exitOf, start } from './process.js';
import { planRestore } from './restore.js';
import { resticArgs } from './restic-args.js';
import { consumeDump, eachLine, startDump, type Restic, type Snapshot } from './restic.js';
import { nothingMatches, pathMatcher, refusePathsOf } from './sources/path-patterns.js';
import { sourceDrivers } from './sources/index.js';

export interface SnapshotEntry {
  readonly path: string;
  readonly type: 'file' | 'dir' | 'symlink' | 'other';
  readonly size?: number;
  /** ISO time, as recorded. */
  readonly mtime?: string;
}

export interface SnapshotFiles {
  readonly source: string;
  readonly type: SourceType;
  readonly snapshot: string;
  /** Where restic recorded the volume (entries are relative to it); absent for a tar stream or a dump. */
  readonly root?: string;
  readonly entries: readonly SnapshotEntry[];
}

export interface FilesOptions {
  /** "latest" or a snapshot id. */
  readonly snapshot: string;
  /** With "latest": the newest snapshot taken before this moment (ms since the epoch). */
  readonly before?: number;
  readonly source: string;
  /** Only these paths and what is below them (`parseRestorePath` form). */
  readonly paths?: readonly string[];
}

const nodeSchema = z.object({
  struct_type: z.literal('node'),
  path: z.string(),
  type: z.string(),
  size: z.number().optional(),
  mtime: z.string().optional(),
});

const entryType = (t: string): SnapshotEntry['type'] => (t === 'file' || t === 'dir' || t === 'symlink' ? t : t === 'directory' ? 'dir' : 'other');

export async function snapshotFiles(ctx: BackupContext, opts: FilesOptions): Promise<SnapshotFiles> {
  const [item] = await planRestore(ctx, { snapshot: opts.snapshot, sources: [opts.source], ...(opts.before !== undefined && { before: opts.before }) });
  if (!item) throw new BerthError('NOT_FOUND', `no snapshot of source "${opts.source}"`, 'run `berth backup list` to see what there is');
  const { source, snapshot } = item;
  const restic = ctx.restic();
  refusePathsOf(source, opts.paths);
  // A volume restic read has its files in the snapshot; one streamed as tar, and the config, are in one tar.
  const root = source.type === 'volume' && sourceDrivers.volume.direct!.owns(snapshot) ? snapshot.paths![0]! : undefined;
  const tar = (source.type === 'volume' && root === undefined) || source.type === 'config';
  const entries = tar ? await tarMembers(restic, snapshot) : await resticNodes(restic, snapshot, root);
  const matches = opts.paths?.length ? pathMatcher(opts.paths) : () => true;
  const picked = entries.filter((e) => matches(e.path));
  // As `restore --path` says of the same paths, in text and in --json alike.
  if (opts.paths?.length && picked.length === 0) throw nothingMatches(source, snapshot.short_id, opts.paths);
  return { source: source.name, type: source.type, snapshot: snapshot.short_id, ...(root !== undefined && { root }), entries: picked };
}

/** `restic ls --json`, line by line; with `root`, only what is below it, relative to it. */
async function resticNodes(restic: Restic, snapshot: Snapshot, root: string | undefined): Promise<SnapshotEntry[]> {
  const child = start(restic.command(resticArgs.ls(snapshot.id)));
  child.stdin?.end();
  const entries: SnapshotEntry[] = [];
  const prefix = root === undefined ? '/' : `${root.replace(/\/+$/, '')}/`;
  eachLine(child.stdout!, (line) => {
    if (!line.includes('"struct_type":"node"')) return;
    const node = nodeSchema.safeParse(JSON.parse(line));
    if (!node.success || !node.data.path.startsWith(prefix)) return;
    const { path: p, type, size, mtime } = node.data;
    entries.push({ path: p.slice(prefix.length), type: entryType(type), ...(type === 'file' && size !== undefined && { size }), ...(mtime && { mtime }) });
  });
  const r = await exitOf(child);
  if (r.code !== 0) throw restic.failure(r.stderr, r.code, 'ls');
  return entries;
}

/** The members of a snapshot's tar: a volume streamed as tar (`./a/b` → `a/b`), or the config (`a/b`). */
async function tarMembers(restic: Restic, snapshot: Snapshot): Promise<SnapshotEntry[]> {
  const dump = await startDump(restic, snapshot.id, snapshot.paths?.[0] ?? '');
  return consumeDump(dump, (input) => new Promise<SnapshotEntry[]>((resolve, reject) => {
    const entries: SnapshotEntry[] = [];
    const ex = extract();
    ex.on('entry', (header, stream, next) => {
      const p = header.name.replace(/^\.\//, '').replace(/\/+$/, '');
      if (p && p !== '.') {
        const type = entryType(header.type ?? 'other');
        entries.push({ path: p, type, ...(type === 'file' && { size: header.size ?? 0 }), ...(header.mtime && { mtime: header.mtime.toISOString() }) });
      }
      stream.on('end', next);
      stream.resume();
    });
    ex.on('finish', () => resolve(entries));
    ex.on('error', reject);
    input.pipe(ex);
  }));
}
