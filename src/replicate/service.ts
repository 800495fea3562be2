/** Wires the real world (restic, SQLite, audit trail, clock) for a pull; used by the CLI and the agent. */
import os from 'node:os';
import path from 'node:path';
import { createAuditTrail } from '../audit/trail.js';
import { osUser } from '../lib/os-user.js';
import { type Reporter, silentReporter } from '../lib/reporter.js';
import { realSleep, systemClock } from '../lib/time.js';
import type { Project } from '../project/model.js';
import { openStore, type Store } from '../store/db.js';
import { createReplicationStore } from '../store/replications.js';
import type { PullDeps } from './pull.js';
import { createRestic } from './restic.js';

export interface ReplicationWorld {
  readonly deps: PullDeps;
  readonly store: Store;
  close(): void;
}

export function openReplication(project: Project, report: Reporter = silentReporter): ReplicationWorld {
  const store = openStore(project.stateDir);
  const deps: PullDeps = {
    restic: createRestic(),
    runs: createReplicationStore(store.db, systemClock),
    audit: createAuditTrail(store.db, { clock: systemClock, headFile: path.join(project.stateDir, 'audit.head') }),
    clock: systemClock,
    sleep: realSleep,
    user: osUser(),
    host: os.hostname(),
    pid: process.pid,
    isAlive,
    report,
  };
  return { deps, store, close: () => store.close() };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
