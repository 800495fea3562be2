/** A probe target → host:port: fixed addresses as given, services at their running container's address. */
import type { Engine } from '../../engine/engine.js';
import type { Target } from '../../project/monitor-schema.js';

export type ResolveTarget = (t: Target) => Promise<{ host: string; port: number }>;

export function createTargetResolver(engine: Engine, project: string): ResolveTarget {
  return async (t) => {
    if ('host' in t) return { host: t.host, port: t.port };
    const containers = await engine.listContainers({ 'berth.project': project, 'berth.service': t.service });
    const running = containers.filter((c) => c.running);
    const ip = running.flatMap((c) => Object.values(c.ips))[0];
    if (!ip) throw new Error(`service ${t.service} has no running container with an address`);
    return { host: ip, port: t.port };
  };
}

export function elapsedMs(t0: bigint): number {
  return Math.round(Number(process.hrtime.bigint() - t0) / 1e4) / 100;
}
