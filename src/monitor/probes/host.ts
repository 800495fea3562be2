/** Host CPU (/proc/stat), memory (/proc/meminfo) and disk (statfs) use against a percent threshold. */
import { readFile, statfs } from 'node:fs/promises';
import type { ProbeSpec } from '../../project/monitor-schema.js';
import type { PolledProbe } from '../types.js';

type HostSpec = Extract<ProbeSpec, { kind: 'host' }>;

export function createHostProbe(spec: HostSpec, deps: { clock: () => number; procDir?: string }): PolledProbe {
  const proc = deps.procDir ?? '/proc';
  let lastCpu: { busy: number; total: number } | undefined;
  const measure = async (): Promise<{ percent: number; what: string } | undefined> => {
    if (spec.metric === 'cpu') {
      const now = parseCpu(await readFile(`${proc}/stat`, 'utf8'));
      const prev = lastCpu;
      lastCpu = now;
      if (!prev || now.total === prev.total) return undefined;
      return { percent: ((now.busy - prev.busy) / (now.total - prev.total)) * 100, what: 'CPU' };
    }
    if (spec.metric === 'memory') {
      const m = parseMeminfo(await readFile(`${proc}/meminfo`, 'utf8'));
      return { percent: ((m.total - m.available) / m.total) * 100, what: `memory (${gib(m.total - m.available)} of ${gib(m.total)} GiB)` };
    }
    const s = await statfs(spec.path ?? '/');
    const used = (s.blocks - s.bfree) * s.bsize;
    const usable = used + s.bavail * s.bsize;
    return { percent: (used / usable) * 100, what: `disk ${spec.path} (${gib(used)} of ${gib(usable)} GiB)` };
  };
  return {
    id: spec.id,
    kind: 'host',
    intervalMs: spec.intervalMs,
    async run() {
      const at = deps.clock();
      try {
        const m = await measure();
        if (!m) return { ok: true, summary: 'first CPU sample taken', atMs: at };
        const percent = Math.round(m.percent * 10) / 10;
        const ok = percent < spec.threshold;
        return { ok, value: percent, summary: `${m.what} at ${percent}%${ok ? '' : ` (threshold ${spec.threshold}%)`}`, atMs: at };
      } catch (err) {
        return { ok: false, summary: `host ${spec.metric}: ${(err as Error).message}`, atMs: at };
      }
    },
  };
}

export function parseCpu(stat: string): { busy: number; total: number } {
  const fields = (stat.split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

export function parseMeminfo(text: string): { total: number; available: number } {
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { total: kb('MemTotal'), available: kb('MemAvailable') };
}

function gib(bytes: number): string {
  return (bytes / 2 ** 30).toFixed(1);
}
