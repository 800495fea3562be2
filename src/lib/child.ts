/** Child processes that die with berth. */
import { spawn, type ChildProcess, type ChildProcessByStdio, type SpawnOptions, type SpawnOptionsWithStdioTuple, type StdioNull, type StdioPipe } from 'node:child_process';
import fs from 'node:fs';
import type { Readable } from 'node:stream';

/**
 * If berth is killed (SIGKILL, OOM), its children would otherwise run on as orphans: a
 * `restic backup --stdin` would see EOF and save a truncated stream as a normal-looking
 * snapshot, a replica's `restic copy` or `prune` would keep its lock against the next pull.
 * `setpriv --pdeathsig` (util-linux) makes the kernel kill the child instead.
 */
const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p));

export function spawnTied(file: string, args: readonly string[], opts: SpawnOptionsWithStdioTuple<StdioNull, StdioPipe, StdioPipe>): ChildProcessByStdio<null, Readable, Readable>;
export function spawnTied(file: string, args: readonly string[], opts: SpawnOptions): ChildProcess;
export function spawnTied(file: string, args: readonly string[], opts: SpawnOptions): ChildProcess {
  if (setpriv) return spawn(setpriv, ['--pdeathsig', 'KILL', '--', file, ...args], opts);
  return spawn(file, [...args], opts);
}
