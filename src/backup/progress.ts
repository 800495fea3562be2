/** A progress line every few seconds while bytes flow (backup, drill, restore). */
import { formatBytes } from '../lib/bytes.js';
import type { Reporter } from '../lib/reporter.js';
import { formatMs, type Clock } from '../lib/time.js';

export function startProgress(report: Reporter, clock: Clock, label: string, bytes: () => number, everyMs = 2000): () => void {
  const t0 = clock();
  const timer = setInterval(() => report.info(`${label}: ${formatBytes(bytes())} (${formatMs(clock() - t0)})`), everyMs);
  return () => clearInterval(timer);
}
