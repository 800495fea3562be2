/** Atomic file writes (tmp + fsync + rename, so a crash never leaves a half-written file) and folders made safely. */
import fs from 'node:fs';
import path from 'node:path';
import { BerthError } from './errors.js';

export function writeFileAtomic(file: string, content: string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w', mode);
  try {
    fs.writeFileSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

export function readFileOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

/**
 * `mkdir -p` for a folder a user named (`restore --to`, a state dir), which always ends: Node 20's
 * recursive mkdir loops forever at 100 % CPU where a file system answers ENOENT for a new child of
 * a folder that exists (`/proc/x`, seen here). Each missing folder is made in turn; the first
 * refusal is the error, naming the folder.
 */
export function makeDirs(dir: string): void {
  const found = statOrUndefined(dir); // undefined also for ENOTDIR (a file in the way): the loop below names it
  if (found) {
    if (found.isDirectory()) return; // the usual case (a state dir at every start): one stat
    throw new BerthError('CONFIG', `${dir} exists and is not a folder`, 'name a folder, or a path where one can be created');
  }
  const missing: string[] = [];
  for (let at = path.resolve(dir); !fs.existsSync(at); at = path.dirname(at)) {
    missing.unshift(at);
    if (path.dirname(at) === at) break;
  }
  for (const d of missing) {
    try {
      fs.mkdirSync(d);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && fs.statSync(d).isDirectory()) continue; // made meanwhile by someone else
      throw new BerthError('CONFIG', `cannot create the folder ${d}: ${code ?? (err as Error).message}`, 'name a folder on a file system this user can write to', { cause: err });
    }
  }
}

function statOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch {
    return undefined;
  }
}
