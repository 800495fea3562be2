/**
 * Per-container CPU and memory against thresholds, from the engine's one-shot stats (no
 * two-second sampling in dockerd): CPU is the delta between two of our own runs, as a share of
 * the container's CPU limit (else all host cores); memory as a share of its limit (else host memory).
 */
import type { ContainerStats, Engine } from '../../engine/engine.js';
import type { ProbeSpec } from '../../project/monitor-schema.js';
import type { PolledProbe } from '../types.js';

type StatsSpec = Extract<ProbeSpec, { kind: 'stats' }>;

export function createStatsProbe(spec: StatsSpec, deps: { engine: Engine; project: string; clock: () => number }): PolledProbe {
  let last: { id: string; s: ContainerStats } | undefined;
  const service = spec.service ?? '';
  return {
    id: spec.id,
    kind: 'stats',
    intervalMs: spec.intervalMs,
    async run() {
      const at = deps.clock();
      try {
        const running = (await deps.engine.listContainers({ 'berth.project': deps.project, 'berth.service': service })).filter((c) => c.running);
        const c = running[0];
        if (!c) return { ok: true, summary: `no running container of ${service} to measure`, atMs: at };
        const s = await deps.engine.containerStats(c.id);
        if (!s) return { ok: true, summary: `${c.name} is gone`, atMs: at };
        const prev = last?.id === c.id ? last.s : undefined;
        last = { id: c.id, s };
        const mem = s.memoryLimitBytes > 0 ? (s.memoryBytes / s.memoryLimitBytes) * 100 : 0;
        const cpu = prev ? cpuPercent(prev, s) : undefined;
        const memText = `memory ${round(mem)}% (${mib(s.memoryBytes)} of ${mib(s.memoryLimitBytes)} MiB)`;
        const cpuText = cpu === undefined ? 'CPU not sampled yet' : `CPU ${round(cpu)}% of its limit`;
        const over = [cpu !== undefined && cpu >= spec.cpu ? `CPU over ${spec.cpu}%` : '', mem >= spec.memory ? `memory over ${spec.memory}%` : ''].filter(Boolean);
        return { ok: over.length === 0, value: round(Math.max(cpu ?? 0, mem)), summary: `${c.name}: ${cpuText}, ${memText}${over.length ? ` (${over.join(', ')})` : ''}`, atMs: at };
      } catch (err) {
        return { ok: false, summary: `stats: ${(err as Error).message}`, atMs: at };
      }
    },
  };
}

export function cpuPercent(prev: ContainerStats, now: ContainerStats): number | undefined {
  const cpu = now.cpuTotalNs - prev.cpuTotalNs;
  const system = now.systemCpuNs - prev.systemCpuNs;
  if (system <= 0 || cpu < 0) return undefined;
  const capacity = now.cpuLimitCores ?? now.onlineCpus;
  return ((cpu / system) * now.onlineCpus * 100) / capacity;
}

const round = (n: number) => Math.round(n * 10) / 10;
const mib = (b: number) => Math.round(b / 2 ** 20);
