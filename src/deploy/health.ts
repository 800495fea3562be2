/**
 * Health gating for a new color: the berth.yaml HTTP probe when set, else the Compose
 * healthcheck, else (routed) a TCP connect to the route port, else "still running after 1 s".
 * A container that exits or restarts fails fast with its last health output and logs.
 */
import http from 'node:http';
import net from 'node:net';
import type { ContainerInfo, Engine } from '../engine/engine.js';
import { BerthError } from '../lib/errors.js';
import type { Clock, Sleep } from '../lib/time.js';
import type { Service } from '../project/model.js';
import type { ExitRecord } from './exit-watch.js';

export type HealthVerdict = { readonly ok: true } | { readonly ok: false; readonly fatal: boolean; readonly reason: string };

export interface HealthDeps {
  readonly engine: Engine;
  readonly clock: Clock;
  readonly sleep: Sleep;
}

export function gateKind(service: Service): 'http' | 'healthcheck' | 'tcp' | 'running' {
  if (service.probe) return 'http';
  if (service.healthcheck && service.healthcheck.test[0] !== 'NONE') return 'healthcheck';
  return service.route ? 'tcp' : 'running';
}

/** One look at the container: is it healthy now, not yet, or failed for good? */
export async function checkHealth(
  service: Service,
  info: ContainerInfo,
  ip: string | undefined,
  since: number,
  now: number,
  lastExit?: ExitRecord,
): Promise<HealthVerdict> {
  if (!info.running || info.restartCount > 0 || info.state === 'restarting') {
    // A restarted container reports exit code 0 for its new process: prefer the recorded death.
    const exitCode = lastExit?.exitCode ?? info.exitCode;
    const why = info.oomKilled || lastExit?.oom ? 'was killed for running out of memory' : `exited with code ${exitCode}`;
    const restarted = info.restartCount > 0 ? ` (crash loop: restarted ${info.restartCount}× by its restart policy)` : '';
    return { ok: false, fatal: true, reason: `container ${info.name} ${why}${restarted}` };
  }
  if (info.health === 'unhealthy') {
    return { ok: false, fatal: true, reason: `healthcheck reports unhealthy: ${info.healthLog ?? '(no output)'}` };
  }
  switch (gateKind(service)) {
    case 'http': {
      const p = service.probe!;
      if (!ip) return { ok: false, fatal: false, reason: 'no IP address yet' };
      return httpProbe(ip, p.port, p.path, p.timeoutMs, p.statusMin, p.statusMax);
    }
    case 'healthcheck':
      return info.health === 'healthy' ? { ok: true } : { ok: false, fatal: false, reason: `health is ${info.health ?? 'unknown'}: ${info.healthLog ?? ''}`.trim() };
    case 'tcp':
      if (!ip) return { ok: false, fatal: false, reason: 'no IP address yet' };
      return tcpProbe(ip, service.route!.port, 1000);
    case 'running':
      return now - since >= 1000 ? { ok: true } : { ok: false, fatal: false, reason: 'waiting 1 s of stable running' };
  }
}

export function httpProbe(ip: string, port: number, path: string, timeoutMs: number, min = 200, max = 399): Promise<HealthVerdict> {
  return new Promise((resolve) => {
    const req = http.get({ host: ip, port, path, timeout: timeoutMs, agent: false, headers: { 'user-agent': 'berth-probe' } }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve(code >= min && code <= max ? { ok: true } : { ok: false, fatal: false, reason: `GET ${path} answered ${code}` });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ ok: false, fatal: false, reason: `GET ${path} failed: ${err.message}` }));
  });
}

function tcpProbe(ip: string, port: number, timeoutMs: number): Promise<HealthVerdict> {
  return new Promise((resolve) => {
    const s = net.connect({ host: ip, port, timeout: timeoutMs });
    s.on('connect', () => {
      s.destroy();
      resolve({ ok: true });
    });
    s.on('timeout', () => s.destroy(new Error('timeout')));
    s.on('error', (err) => resolve({ ok: false, fatal: false, reason: `tcp ${port}: ${err.message}` }));
  });
}

/** Wait until healthy; throws BerthError('HEALTH') with the reason and the container's log tail. */
export async function waitHealthy(
  deps: HealthDeps,
  service: Service,
  containerId: string,
  network: string | undefined,
  timeoutMs: number,
  lastExit: () => ExitRecord | undefined = () => undefined,
): Promise<ContainerInfo> {
  const start = deps.clock();
  let last = 'not checked yet';
  const interval = service.probe?.intervalMs ?? 250;
  for (;;) {
    const info = await deps.engine.inspectContainer(containerId);
    if (!info) throw new BerthError('HEALTH', `container ${containerId.slice(0, 12)} disappeared while starting`);
    const ip = network ? info.ips[network] : Object.values(info.ips)[0];
    const verdict = await checkHealth(service, info, ip, start, deps.clock(), lastExit());
    if (verdict.ok) return info;
    last = verdict.reason;
    if (verdict.fatal) throw await healthError(deps.engine, info, `${service.name}: ${last}`);
    if (deps.clock() - start > timeoutMs) {
      throw await healthError(deps.engine, info, `${service.name}: not healthy after ${Math.round(timeoutMs / 1000)} s (last check: ${last})`);
    }
    await deps.sleep(Math.min(interval, 250));
  }
}

async function healthError(engine: Engine, info: ContainerInfo, message: string): Promise<BerthError> {
  const logs = (await engine.logs(info.id, { tail: 15 }).catch(() => '')).trimEnd();
  const tail = logs ? `\n--- last log lines of ${info.name} ---\n${logs}` : `\n(${info.name} printed no logs)`;
  return new BerthError('HEALTH', `${message}${tail}`, 'fix the image or its health probe; the previous version keeps serving');
}
