/** Streams between dump tools and restic: run a tool into a stream, or feed a stream into a tool. */
import fs from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { BerthError } from '../../lib/errors.js';
import { makeDirs } from '../../lib/files.js';
import { capture, describe, discardOutput, exitOf, start, type Cmd } from '../process.js';

/** The stderr line that says what went wrong (tools often end with a generic advice line, as GNU tar's "Exiting with failure status"). */
export function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !/Exiting with failure status due to previous errors/.test(l));
  return [...lines].reverse().find((l) => /error|fatal|refused|denied|failed|unknown|cannot|can't|not found|no such/i.test(l)) ?? lines.at(-1) ?? '';
}

/**
 * Runs `cmd` and copies its stdout into `out` without ending it. Rejects naming the tool and its
 * last stderr line. Aborted by `signal` (the reader is gone: restic refused its lock, or failed):
 * the tool is stopped and what it still had written is discarded (`discardOutput`), as it is when
 * the tool exits with nobody reading it any more (a failed write unpiped it).
 */
export async function pipeFrom(cmd: Cmd, out: Writable, signal: AbortSignal, what: string, tap?: Writable): Promise<void> {
  const child = start(cmd, ['ignore', 'pipe', 'pipe']);
  const onAbort = () => {
    discardOutput(child);
    child.kill('SIGTERM');
  };
  child.stdout!.pipe(out, { end: false });
  if (tap) child.stdout!.pipe(tap);
  // Aborted already (restic gave up before this tool started): an abort listener would never fire.
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  // Exited with output nobody reads any more (a failed write unpiped it, and no abort came): drain it.
  child.once('exit', () => {
    if (child.stdout!.listenerCount('data') === 0) discardOutput(child);
  });
  const r = await exitOf(child);
  signal.removeEventListener('abort', onAbort);
  if (signal.aborted) throw new BerthError('BACKUP', `${what}: stopped because the repository write failed`);
  if (r.code !== 0) throw new BerthError('BACKUP', `${what} failed: ${lastLine(r.stderr) || `${describe(cmd).split(' ')[0]} exited with ${r.code ?? r.signal}`}`);
}

/** Feeds `input` to `cmd`'s stdin and waits for it. */
export async function pipeInto(cmd: Cmd, input: Readable, what: string): Promise<string> {
  const child = start(cmd, ['pipe', 'pipe', 'pipe']);
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stdin!.on('error', () => undefined);
  input.pipe(child.stdin!);
  const r = await exitOf(child);
  if (r.code !== 0) throw new BerthError('BACKUP', `${what} failed: ${lastLine(r.stderr) || `exit ${r.code ?? r.signal}`}`);
  return stdout;
}

/** Extracts a tar stream into `dir` (made if missing); only the `members` named, when given (GNU tar's arguments). */
export async function extractTar(input: Readable, dir: string, what: string, members: readonly string[] = []): Promise<void> {
  makeDirs(dir);
  await pipeInto({ file: 'tar', args: ['-x', '-C', dir, ...members] }, input, `${what}: extract into ${dir}`);
}

/** Runs a query-like command; rejects with its stderr when it fails. */
export async function query(cmd: Cmd, what: string, input?: string): Promise<string> {
  let r;
  try {
    r = await capture(cmd, { input, timeoutMs: 600_000 });
  } catch (err) {
    throw new BerthError('BACKUP', `${what}: cannot run ${cmd.file}: ${(err as Error).message}`, `install ${cmd.file} on this host or use \`service:\` to run it inside the container`);
  }
  if (r.code !== 0) throw new BerthError('BACKUP', `${what} failed: ${lastLine(r.stderr) || `exit ${r.code ?? r.signal}`}`);
  return r.stdout;
}
