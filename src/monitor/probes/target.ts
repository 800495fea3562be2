/** A probe target → host:port: fixed addresses as given, services at their running container's address. */
import type { Engine } from '../../engine/engine.js';
import type { Target } from '../../project/monitor-schema.js';

/** `fresh`: skip the cache (after a failure: the container may have been replaced). */
export type ResolveTarget = (t: Target, fresh?: boolean) => Promise<{ host: string; port: number }>;

/** Container addresses are cached, so 50 probes every 5 s do not list containers 10 times a second. */
export function createTargetResolver(engine: Engine, project: string, ttlMs = 300_000): ResolveTarget {
  const cache = new Map<string, { ip: string; at: number }>();
  return async (t, fresh = false) => {
    if ('host' in t) return { host: t.host, port: t.port };
    const hit = cache.get(t.service);
    if (!fresh && hit && Date.now() - hit.at < ttlMs) return { host: hit.ip, port: t.port };
    const containers = await engine.listContainers({ 'berth.project': project, 'berth.service': t.service });
    const running = containers.filter((c) => c.running);
    const ip = running.flatMap((c) => Object.values(c.ips))[0];
    if (!ip) throw new Error(`service ${t.service} has no running container with an address`);
    cache.set(t.service, { ip, at: Date.now() });
    return { host: ip, port: t.port };
  };
}

export function elapsedMs(t0: bigint): number {
  return Math.round(Number(process.hrtime.bigint() - t0) / 1e4) / 100;
}
