/**
 * HAProxy edge adapter: runs haproxy as the project's `<project>-edge` container on the stack
 * networks, and moves traffic only through the runtime API during deploys (issue: switching by
 * reload or DNS alias dropped requests; the runtime API dropped none).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Engine } from '../engine/engine.js';
import { edgeContainerName, label, otherColor, type Color } from '../engine/labels.js';
import { BerthError } from '../lib/errors.js';
import { readFileOr, writeFileAtomic } from '../lib/files.js';
import { realSleep, type Sleep } from '../lib/time.js';
import type { Project } from '../project/model.js';
import type { Edge, EdgeApplyResult, EdgeView, SlotAddress } from './edge.js';
import { adminSocketInContainer, backendName, configDirInContainer, renderHaproxyConfig, renderRoutesOnly, routedServices } from './haproxy-config.js';
import { createHaproxyRuntime } from './haproxy-runtime.js';

export interface HaproxyEdgeOptions {
  readonly engine: Engine;
  readonly project: Project;
  readonly sleep?: Sleep;
}

export function edgePaths(stateDir: string) {
  const root = path.join(stateDir, 'edge');
  return {
    confDir: path.join(root, 'conf'),
    config: path.join(root, 'conf', 'haproxy.cfg'),
    runDir: path.join(root, 'run'),
    socket: path.join(root, 'run', 'admin.sock'),
    routesHash: path.join(root, 'routes.sha256'),
  };
}

export function createHaproxyEdge({ engine, project, sleep = realSleep }: HaproxyEdgeOptions): Edge {
  const paths = edgePaths(project.stateDir);
  if (paths.socket.length > 100) {
    throw new BerthError('EDGE', `state directory path is too long for a unix socket: ${paths.socket}`, 'set BERTH_STATE_DIR to a shorter path');
  }
  const runtime = createHaproxyRuntime(paths.socket);
  const name = edgeContainerName(project.name);
  const routesHash = createHash('sha256').update(renderRoutesOnly(project)).digest('hex');
  // What a reload cannot change: the image, the published listeners, the networks joined.
  const specHash = createHash('sha256')
    .update(JSON.stringify({ image: project.edge.image, listeners: project.edge.listeners, networks: edgeNetworks(project) }))
    .digest('hex')
    .slice(0, 16);

  async function waitReady(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await runtime.ping()) return;
      const info = await engine.inspectContainer(name);
      if (info && !info.running) {
        const logs = await engine.logs(info.id, { tail: 20 });
        throw new BerthError('EDGE', `edge container ${name} exited (code ${info.exitCode}):\n${logs.trim()}`, 'check the edge image and haproxy.cfg');
      }
      await sleep(100);
    }
    throw new BerthError('EDGE', `edge ${name} did not answer on its runtime socket within ${timeoutMs} ms`, `see \`docker logs ${name}\``);
  }

  async function create(): Promise<void> {
    fs.mkdirSync(paths.runDir, { recursive: true });
    const networks = edgeNetworks(project);
    const [first, ...rest] = networks;
    const id = await engine.createContainer({
      name,
      Image: project.edge.image,
      Cmd: ['haproxy', '-W', '-db', '-f', `${configDirInContainer}/haproxy.cfg`],
      Labels: { [label.project]: project.name, [label.role]: 'edge', [label.configHash]: specHash, [label.composeProject]: project.name, [label.composeService]: 'edge', [label.composeOneoff]: 'False' },
      ExposedPorts: Object.fromEntries(project.edge.listeners.map((l) => [`${l.hostPort}/tcp`, {}])),
      HostConfig: {
        Binds: [`${paths.confDir}:${configDirInContainer}:ro`, `${paths.runDir}:${path.dirname(adminSocketInContainer)}`],
        PortBindings: Object.fromEntries(project.edge.listeners.map((l) => [`${l.hostPort}/tcp`, [{ HostIp: l.hostIp, HostPort: String(l.hostPort) }]])),
        RestartPolicy: { Name: 'unless-stopped' },
        CapDrop: ['ALL'],
        CapAdd: ['NET_BIND_SERVICE'],
        SecurityOpt: ['no-new-privileges'],
      },
      NetworkingConfig: first ? { EndpointsConfig: { [first]: {} } } : undefined,
    });
    for (const n of rest) await engine.connectNetwork(id, n, []);
    try {
      await engine.startContainer(id);
    } catch (err) {
      await engine.removeContainer(id);
      throw err;
    }
  }

  async function syncRuntime(view: EdgeView): Promise<void> {
    for (const service of routedServices(project)) {
      const v = view[service];
      if (!v?.active) continue;
      const addr = v.slots[v.active];
      if (!addr) continue;
      const be = backendName(service);
      await runtime.run([
        `set server ${be}/${v.active} addr ${addr.ip} port ${addr.port}`,
        `set server ${be}/${v.active} state ready`,
        `set server ${be}/${otherColor(v.active)} state maint`,
      ]);
    }
  }

  return {
    async apply(view, options = { routes: true }) {
      writeFileAtomic(paths.config, renderHaproxyConfig(project, view));
      const info = await engine.inspectContainer(name);
      let result: EdgeApplyResult = 'synced';
      if (info && options.routes && info.labels[label.configHash] !== specHash) {
        // New listeners or networks need a new container: a short edge restart, only at `berth up`.
        await engine.removeContainer(info.id);
        await create();
        result = 'recreated';
      } else if (!info) {
        await create();
        result = 'created';
      } else if (!info.running) {
        await engine.startContainer(info.id);
        result = 'created';
      } else if (options.routes && readFileOr(paths.routesHash, '') !== routesHash) {
        await engine.signalContainer(info.id, 'SIGUSR2');
        await sleep(300);
        result = 'reloaded';
      }
      await waitReady();
      if (result !== 'synced') writeFileAtomic(paths.routesHash, routesHash);
      await syncRuntime(view);
      return result;
    },

    async switchTo(service, to, addr: SlotAddress) {
      const be = backendName(service);
      const started = performance.now();
      await runtime.run([
        `set server ${be}/${to} addr ${addr.ip} port ${addr.port}`,
        `set server ${be}/${to} state ready`,
        `set server ${be}/${otherColor(to)} state drain`,
      ]);
      return { ms: performance.now() - started };
    },

    async retire(service, color: Color) {
      await runtime.run([`set server ${backendName(service)}/${color} state maint`]);
    },

    async activeSessions(service, color) {
      const rows = await runtime.showStat();
      const row = rows.find((r) => r.pxname === backendName(service) && r.svname === color);
      return Number(row?.scur ?? 0);
    },

    async persist(view) {
      writeFileAtomic(paths.config, renderHaproxyConfig(project, view));
    },

    async isRunning() {
      return (await engine.inspectContainer(name))?.running === true && (await runtime.ping());
    },

    async remove() {
      const info = await engine.inspectContainer(name);
      if (info) await engine.removeContainer(info.id);
      fs.rmSync(paths.routesHash, { force: true });
    },
  };
}

/** Engine names of the networks the edge must join: every network of every routed service. */
export function edgeNetworks(project: Project): string[] {
  const names = new Set<string>();
  for (const s of routedServices(project)) {
    for (const key of Object.keys(project.services[s]?.networks ?? {})) names.add(project.networks[key]?.name ?? `${project.name}_${key}`);
  }
  return [...names].sort();
}
