/**
 * The verification window after a switch: keep watching the new color; the first fatal sign
 * (exit, restart, unhealthy) or three failed probes in a row is a failure, returned at once so
 * the caller can roll back within milliseconds of seeing it.
 */
import type { Service } from '../project/model.js';
import type { DeployContext } from './context.js';
import type { ExitRecord } from './exit-watch.js';
import { checkHealth } from './health.js';

export interface VerifyFailure {
  readonly reason: string;
  /** Clock time at which the failure was seen. */
  readonly seenAt: number;
}

const failuresInARow = 3;
const tickMs = 100;

export async function watchNewColor(
  ctx: DeployContext,
  service: Service,
  containerId: string,
  network: string,
  windowMs: number,
  lastExit: () => ExitRecord | undefined = () => undefined,
): Promise<VerifyFailure | undefined> {
  const start = ctx.clock();
  let misses = 0;
  let lastProbe = 0;
  const probeEvery = service.probe?.intervalMs ?? 1000;
  while (ctx.clock() - start < windowMs) {
    const info = await ctx.engine.inspectContainer(containerId);
    if (!info) return { reason: 'the new container disappeared', seenAt: ctx.clock() };
    const now = ctx.clock();
    // Container state is cheap to read every tick; the network probe runs at its own interval.
    const probeDue = now - lastProbe >= probeEvery;
    const asService = probeDue ? service : { ...service, probe: undefined, route: undefined };
    const verdict = await checkHealth(asService, info, info.ips[network], start - 1000, now, lastExit());
    if (probeDue) lastProbe = now;
    if (!verdict.ok) {
      if (verdict.fatal) return { reason: verdict.reason, seenAt: ctx.clock() };
      if (probeDue && ++misses >= failuresInARow) return { reason: `${failuresInARow} probes failed in a row: ${verdict.reason}`, seenAt: ctx.clock() };
    } else if (probeDue) {
      misses = 0;
    }
    await ctx.sleep(tickMs);
  }
  return undefined;
}
