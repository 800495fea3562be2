/** Wires the real world (Docker, HAProxy, SQLite, clock) into a DeployContext for one command. */
import os from 'node:os';
import path from 'node:path';
import { createAuditTrail } from '../audit/trail.js';
import type { DeployContext } from '../deploy/context.js';
import { createDeployLock } from '../deploy/lock.js';
import { createDockerEngine } from '../engine/docker.js';
import { osUser } from '../lib/os-user.js';
import { createConsoleReporter, silentReporter } from '../lib/reporter.js';
import { realSleep, systemClock } from '../lib/time.js';
import { loadProject } from '../project/load.js';
import { createHaproxyEdge } from '../proxy/haproxy.js';
import { openStore, type Store } from '../store/db.js';
import { createDeploymentStore } from '../store/deployments.js';
import type { GlobalOptions } from './output.js';

export interface CommandContext extends DeployContext {
  readonly store: Store;
  close(): void;
}

export async function openContext(opts: GlobalOptions): Promise<CommandContext> {
  const project = await loadProject(path.resolve(opts.dir), { composeFiles: opts.file, stateDir: opts.stateDir });
  const engine = createDockerEngine();
  const store = openStore(project.stateDir);
  const user = osUser();
  return {
    project,
    engine,
    edge: createHaproxyEdge({ engine, project }),
    store,
    deployments: createDeploymentStore(store.db, systemClock),
    audit: createAuditTrail(store.db, { clock: systemClock, headFile: path.join(project.stateDir, 'audit.head') }),
    lock: createDeployLock(store.db, { clock: systemClock, sleep: realSleep, pid: process.pid, host: os.hostname(), user }),
    clock: systemClock,
    sleep: realSleep,
    user,
    report: opts.quiet ? silentReporter : createConsoleReporter(),
    close: () => store.close(),
  };
}
