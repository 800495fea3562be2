/**
 * File digests of a tar stream, computed while the stream passes by (at dump time) or while it
 * is read back (drill), so a volume is read once and never copied to a temporary file.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { extract } from 'tar-stream';

/** Up to this many files are listed one by one; beyond it only the totals and the overall digest are kept. */
export const listedFileLimit = 20_000;

export interface Manifest {
  readonly files: number;
  readonly bytes: number;
  /** sha256 over the sorted `path sha256` lines: equal iff every file's path and content are equal. */
  readonly digest: string;
  /** path → sha256, when there are at most `listedFileLimit` files. */
  readonly list?: Readonly<Record<string, string>>;
}

export function digestTar(input: Readable): Promise<Manifest> {
  return new Promise((resolve, reject) => {
    const ex = extract();
    const files: Array<[string, string]> = [];
    let bytes = 0;
    ex.on('entry', (header, stream, next) => {
      if (header.type !== 'file') {
        stream.on('end', next);
        stream.resume();
        return;
      }
      const h = createHash('sha256');
      stream.on('data', (d: unknown) => {
        const b = d as Buffer;
        h.update(b);
        bytes += b.length;
      });
      stream.on('end', () => {
        files.push([header.name.replace(/^\.\//, ''), h.digest('hex')]);
        next();
      });
    });
    ex.on('finish', () => resolve(manifestOf(files, bytes)));
    ex.on('error', reject);
    input.on('error', reject);
    input.pipe(ex);
  });
}

/** The manifest of (path, sha256) pairs in any order: sorted, with the overall digest. */
export function manifestOf(files: Array<[string, string]>, bytes: number): Manifest {
  files.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const all = createHash('sha256');
  for (const [p, d] of files) all.update(`${p} ${d}\n`);
  return { files: files.length, bytes, digest: all.digest('hex'), ...(files.length <= listedFileLimit && { list: Object.fromEntries(files) }) };
}

/** Human-readable differences between a recorded and a restored manifest. */
export function compareManifests(recorded: Manifest, restored: Manifest): string[] {
  if (recorded.digest === restored.digest) return [];
  const out: string[] = [];
  if (recorded.list && restored.list) {
    for (const [p, d] of Object.entries(recorded.list)) {
      if (!(p in restored.list)) out.push(`${p} missing`);
      else if (restored.list[p] !== d) out.push(`${p} differs`);
    }
    for (const p of Object.keys(restored.list)) if (!(p in recorded.list)) out.push(`${p} not in the backup record`);
  }
  if (out.length === 0) out.push(`${restored.files} files / ${restored.bytes} bytes restored, ${recorded.files} / ${recorded.bytes} recorded; digests differ`);
  return out.slice(0, 50);
}
