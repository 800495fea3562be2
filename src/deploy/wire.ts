/** Wires the real world (Docker, HAProxy, SQLite, clock) into a DeployContext for one project: the CLI and the agent's jobs. */
import os from 'node:os';
import path from 'node:path';
import { createAuditTrail } from '../audit/trail.js';
import { createDockerEngine } from '../engine/docker.js';
import { osUser } from '../lib/os-user.js';
import type { Reporter } from '../lib/reporter.js';
import { realSleep, systemClock } from '../lib/time.js';
import type { Project } from '../project/model.js';
import { createHaproxyEdge } from '../proxy/haproxy.js';
import { openStore, type Store } from '../store/db.js';
import { createDeploymentStore } from '../store/deployments.js';
import { createStoppedStore } from '../store/stopped.js';
import type { DeployContext } from './context.js';
import { createDeployLock } from './lock.js';

export interface OpenDeployContext extends DeployContext {
  readonly store: Store;
  close(): void;
}

export function openDeployContext(project: Project, report: Reporter): OpenDeployContext {
  const engine = createDockerEngine();
  const store = openStore(project.stateDir);
  const user = osUser();
  return {
    project,
    engine,
    edge: createHaproxyEdge({ engine, project }),
    store,
    deployments: createDeploymentStore(store.db, systemClock),
    stopped: createStoppedStore(store.db),
    audit: createAuditTrail(store.db, { clock: systemClock, headFile: path.join(project.stateDir, 'audit.head') }),
    lock: createDeployLock(store.db, { clock: systemClock, sleep: realSleep, pid: process.pid, host: os.hostname(), user }),
    clock: systemClock,
    sleep: realSleep,
    user,
    report,
    close: () => store.close(),
  };
}
