/**
 * Checks that must pass before anything is touched, so bad input changes nothing:
 * images present, secret files present, host ports free (or already ours).
 */
import fs from 'node:fs';
import net from 'node:net';
import { label } from '../engine/labels.js';
import { BerthError } from '../lib/errors.js';
import type { Project } from '../project/model.js';
import type { DeployContext } from './context.js';
import { resolveImage } from './images.js';

export async function preflight(ctx: DeployContext, services: readonly string[]): Promise<void> {
  const { project } = ctx;
  await ctx.engine.ping();
  for (const name of services) {
    const s = project.services[name]!;
    await resolveImage(ctx.engine, s.image, name);
    for (const sec of s.secrets) {
      const file = project.secrets[sec.source]?.file;
      if (!file || !fs.existsSync(file)) {
        throw new BerthError('CONFIG', `service ${name}: secret "${sec.source}" file ${file ?? '(undeclared)'} does not exist`, 'create the file (keep it out of version control) or fix secrets.<name>.file');
      }
    }
  }
  if (Object.values(project.services).some((s) => s.route) && !(await ctx.engine.inspectImage(project.edge.image))) {
    throw new BerthError('NOT_FOUND', `edge image "${project.edge.image}" is not on this host`, 'build it (scripts/build-images.sh builds berth-haproxy:local) or set edge.image in berth.yaml, e.g. haproxy:2.8');
  }
  await checkPortsFree(ctx, hostPorts(project));
}

function hostPorts(project: Project): Array<{ ip: string; port: number; owner: string }> {
  const out = project.edge.listeners.map((l) => ({ ip: l.hostIp, port: l.hostPort, owner: 'the edge' }));
  for (const s of Object.values(project.services)) {
    if (s.route) continue;
    for (const p of s.ports) if (p.hostPort !== undefined && p.protocol === 'tcp') out.push({ ip: p.hostIp ?? '0.0.0.0', port: p.hostPort, owner: s.name });
  }
  return out;
}

/** A port already published by one of this project's own containers is fine; anything else holding it is a clash. */
async function checkPortsFree(ctx: DeployContext, ports: ReturnType<typeof hostPorts>): Promise<void> {
  const mine = await ctx.engine.listContainers({ [label.project]: ctx.project.name });
  const ours = new Set<number>();
  for (const c of mine) if (c.running) for (const p of await publishedPorts(ctx, c.id)) ours.add(p);
  for (const p of ports) {
    if (ours.has(p.port)) continue;
    if (!(await canBind(p.ip, p.port))) {
      throw new BerthError('CONFLICT', `port clash: ${p.ip}:${p.port} (for ${p.owner}) is already in use on this host`, `stop whatever listens there (ss -ltnp 'sport = :${p.port}') or change the port`);
    }
  }
}

async function publishedPorts(ctx: DeployContext, id: string): Promise<number[]> {
  const info = await ctx.engine.inspectContainer(id);
  return info ? Object.values(info.ports).flat() : [];
}

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host: host === '' ? '0.0.0.0' : host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}
