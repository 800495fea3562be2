/** A progress line every few seconds while bytes flow (backup, drill, restore). */
import { formatBytes } from '../lib/bytes.js';
import type { Reporter } from '../lib/reporter.js';
import { formatMs, type Clock } from '../lib/time.js';

/**
 * `name: 1.20 GiB streamed (4.0 s)`; while no byte count is known yet (restic restoring into a
 * folder reports none until it is done), `name: restoring, 4.0 s so far`, not a stuck "0 B".
 */
export function startProgress(report: Reporter, clock: Clock, name: string, verb: { readonly doing: string; readonly done: string }, bytes: () => number, everyMs = 2000): () => void {
  const t0 = clock();
  const timer = setInterval(() => {
    const n = bytes();
    const t = formatMs(clock() - t0);
    report.info(n > 0 ? `${name}: ${formatBytes(n)} ${verb.done} (${t})` : `${name}: ${verb.doing}, ${t} so far`);
  }, everyMs);
  return () => clearInterval(timer);
}

export const streaming = { doing: 'starting', done: 'streamed' } as const;
export const restoring = { doing: 'restoring', done: 'restored' } as const;
