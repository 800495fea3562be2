/** One registration point: a resolved probe spec → the probe that runs it. */
import type { Engine } from '../../engine/engine.js';
import type { Project } from '../../project/model.js';
import type { ProbeSpec } from '../../project/monitor-schema.js';
import type { EventProbe, PolledProbe, ProbeMeta } from '../types.js';
import { type BackupRecords, createBackupProbe } from './backup.js';
import { createContainerEventsProbe } from './container-events.js';
import { createDbPingProbe } from './db-ping.js';
import { createHostProbe } from './host.js';
import { createHttpProbe } from './http.js';
import { createQueryProbe } from './query.js';
import { createReplicationProbe, type ReplicationOf } from './replication.js';
import { createStatsProbe } from './stats.js';
import { createTargetResolver } from './target.js';
import { createTcpProbe } from './tcp.js';
import { createTlsProbe } from './tls.js';

export interface ProbeDeps {
  readonly engine: Engine;
  readonly clock: () => number;
  /** The project's backup records (SQLite), read by the `backup` probe. */
  readonly backups?: BackupRecords;
  /** On a backup host: the replica's state (`replicate/status.ts`). */
  readonly replication?: ReplicationOf;
  readonly log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface ProbeSet {
  readonly polled: readonly PolledProbe[];
  readonly events: readonly EventProbe[];
  readonly meta: readonly ProbeMeta[];
}

export function createProbes(project: Project, deps: ProbeDeps): ProbeSet {
  const resolve = createTargetResolver(deps.engine, project.name);
  const specs = project.monitor.probes;
  const polled: PolledProbe[] = [];
  for (const spec of specs) {
    const p = polledProbe(spec, { ...deps, resolve, project: project.name });
    if (p) polled.push(p);
  }
  const containerServices = specs.filter((s) => s.kind === 'container').map((s) => s.service ?? '');
  const events: EventProbe[] = containerServices.length
    ? [createContainerEventsProbe({ engine: deps.engine, project: project.name, services: containerServices, restartLoop: project.monitor.restartLoop, clock: deps.clock, ...(deps.log ? { log: deps.log } : {}) })]
    : [];
  const meta = specs.map(({ id, kind, service, forMs, severity, labels, runbook, alert }): ProbeMeta => ({ id, kind, forMs, severity, labels, alert, ...(service ? { service } : {}), ...(runbook ? { runbook } : {}) }));
  return { polled, events, meta };
}

function polledProbe(spec: ProbeSpec, d: ProbeDeps & { resolve: ReturnType<typeof createTargetResolver>; project: string }): PolledProbe | undefined {
  switch (spec.kind) {
    case 'container':
      return undefined;
    case 'http':
      return createHttpProbe(spec, d);
    case 'tcp':
      return createTcpProbe(spec, d);
    case 'mariadb':
    case 'postgres':
    case 'redis':
      return createDbPingProbe(spec, d);
    case 'tls':
      return createTlsProbe(spec, d);
    case 'host':
      return createHostProbe(spec, d);
    case 'stats':
      return createStatsProbe(spec, d);
    case 'backup':
      return createBackupProbe(spec, d);
    case 'replication':
      return createReplicationProbe(spec, d);
    case 'query':
      return createQueryProbe(spec, d);
  }
}
