/**
 * `berth agent`: the long-lived daemon. Owns the scheduler (generic jobs), the monitor (probes →
 * rules → notifications), the dead-man's switch and the HTTP endpoint. Start order makes a bad
 * configuration fail before anything runs; stop() undoes it in reverse.
 */
import { readFileSync } from 'node:fs';
import { Cron } from 'croner';
import type { Engine } from '../engine/engine.js';
import { BerthError } from '../lib/errors.js';
import type { BackupRecords } from '../monitor/probes/backup.js';
import type { ReplicationOf } from '../monitor/probes/replication.js';
import type { ContainerEventsProbe } from '../monitor/probes/container-events.js';
import { createProbes } from '../monitor/probes/index.js';
import { createMonitor, type Monitor } from '../monitor/monitor.js';
import type { Notifier } from '../notify/types.js';
import type { Project } from '../project/model.js';
import type { Store } from '../store/db.js';
import { type AgentRow, createMonitorStore, type MonitorStore } from '../store/monitor.js';
import { createHeartbeat, type Heartbeat } from './heartbeat.js';
import type { Log } from './log.js';
import { createMetrics, type BackupFigures } from './metrics.js';
import { startControl, type ControlRoutes } from './control.js';
import { controlSocketPath } from './control-protocol.js';
import { createScheduler, type Job, type Scheduler } from './scheduler.js';
import { startServer } from './server.js';

export const agentVersion = '0.1.0';

export interface AgentOptions {
  readonly project: Project;
  readonly engine: Engine;
  readonly store: Store;
  readonly notifier: Notifier;
  readonly clock: () => number;
  readonly log: Log;
  readonly pid: number;
  readonly host: string;
  readonly jobs?: readonly Job[];
  readonly backups?: BackupRecords;
  /** The project's backups as /metrics shows them; none without it. */
  readonly backupFigures?: BackupFigures;
  readonly replication?: ReplicationOf;
  /** The value of `monitor.peer.token_env`, read by the caller from its environment. */
  readonly peerToken?: string;
  /** Override berth.yaml `monitor.listen` (tests use port 0). */
  readonly listen?: { hostIp: string; hostPort: number };
  /** What the control socket (`<state dir>/agent.sock`) can run; no socket without it. */
  readonly control?: ControlRoutes;
}

export interface RunningAgent {
  readonly port: number;
  readonly monitor: Monitor;
  readonly scheduler: Scheduler;
  readonly monitorStore: MonitorStore;
  stop(): Promise<void>;
}

/**
 * An agent row is held while its process lives (same host; a reused pid running something else
 * does not count) or while it touched the row lately (other host).
 */
export function agentHeld(row: AgentRow, me: { host: string }, now: number): boolean {
  if (row.host !== me.host) return now - row.heartbeatAt < 30_000;
  try {
    process.kill(row.pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return readFileSync(`/proc/${row.pid}/cmdline`, 'utf8').split('\0').includes('agent');
  } catch {
    return true;
  }
}

export async function startAgent(o: AgentOptions): Promise<RunningAgent> {
  const { project } = o;
  for (const job of o.jobs ?? []) validateCron(job);
  const tokenEnv = project.monitor.peer?.tokenEnv;
  if (tokenEnv && !o.peerToken) throw new BerthError('CONFIG', `monitor.peer.token_env names ${tokenEnv}, which is not set`, `set ${tokenEnv} to the secret both agents share, or remove token_env`);
  const monitorStore = createMonitorStore(o.store.db, project.name);
  const listen = o.listen ?? project.monitor.listen;
  const me = { pid: o.pid, host: o.host, listen: `${listen.hostIp}:${listen.hostPort}`, now: o.clock() };
  const holder = monitorStore.claimAgent(me, (row) => agentHeld(row, me, o.clock()));
  if (holder) {
    throw new BerthError('LOCK_HELD', `an agent for project ${project.name} already runs (pid ${holder.pid} on ${holder.host}, since ${new Date(holder.startedAt).toISOString()})`, 'stop it first (SIGTERM), or use `berth agent status` to see it');
  }
  const undo: Array<() => Promise<void> | void> = [() => void monitorStore.stopAgent({ pid: o.pid, host: o.host, now: o.clock() })];
  const stopAll = async () => {
    for (const u of undo.reverse()) await u();
  };
  try {
    const probes = createProbes(project, { engine: o.engine, clock: o.clock, log: o.log, ...(o.backups ? { backups: o.backups } : {}), ...(o.replication ? { replication: o.replication } : {}) });
    const heartbeat: Heartbeat | undefined = project.monitor.peer && createHeartbeat({ peer: project.monitor.peer, self: `${project.name}@${o.host}`, store: monitorStore, clock: o.clock, log: o.log, ...(o.peerToken ? { token: o.peerToken } : {}) });
    let monitor: Monitor | undefined;
    const engineEvents = probes.events.find((e): e is ContainerEventsProbe => 'reconnects' in e);
    const metrics = createMetrics({
      project: project.name,
      version: agentVersion,
      alerts: () => monitor?.alerts() ?? [],
      clock: o.clock,
      ...(heartbeat ? { peerSeenMs: heartbeat.lastSeenMs } : {}),
      ...(engineEvents ? { engineEvents } : {}),
      ...(o.backupFigures ? { backups: o.backupFigures } : {}),
    });
    monitor = createMonitor({
      project,
      engine: o.engine,
      store: monitorStore,
      notifier: o.notifier,
      clock: o.clock,
      polled: probes.polled,
      events: heartbeat ? [...probes.events, heartbeat] : probes.events,
      meta: heartbeat ? [...probes.meta, heartbeat.meta] : probes.meta,
      log: o.log,
      onResult: (m, id, r) => metrics.probe(m, id, r),
    });
    const server = await startServer(listen, {
      registry: metrics.registry,
      health: () => ({
        ok: true,
        details: {
          project: project.name,
          pid: o.pid,
          probes: probes.meta.length,
          alerts: monitor!.alerts().filter((a) => a.state === 'firing').length,
          ...(engineEvents ? { dockerEvents: { connected: engineEvents.connected(), reconnects: engineEvents.reconnects() } } : {}),
        },
      }),
      ...(heartbeat ? { heartbeat: (from: string) => heartbeat.received(from) } : {}),
      ...(o.peerToken ? { heartbeatToken: o.peerToken } : {}),
    }).catch((err: NodeJS.ErrnoException) => {
      throw new BerthError('CONFLICT', `the agent cannot listen on ${me.listen}: ${err.code ?? err.message}`, 'set another address in berth.yaml `monitor.listen`, or stop what uses it');
    });
    undo.push(() => server.close());
    const control = o.control && (await startControl(controlSocketPath(project.stateDir), o.control, o.log));
    if (control) undo.push(() => control.close());
    await monitor.start();
    undo.push(() => monitor!.stop());
    const scheduler = createScheduler({ log: o.log, clock: o.clock });
    for (const job of o.jobs ?? []) scheduler.add(job);
    undo.push(() => scheduler.stop());
    const touch = setInterval(() => monitorStore.touchAgent({ pid: o.pid, host: o.host, now: o.clock() }), 5_000);
    undo.push(() => clearInterval(touch));
    o.log('agent started', { project: project.name, listen: `${listen.hostIp}:${server.port}`, probes: probes.meta.length, rules: project.monitor.rules.length, jobs: (o.jobs ?? []).length, ...(control && { control: control.socketPath }) });
    let stopping: Promise<void> | undefined;
    return {
      port: server.port,
      monitor,
      scheduler,
      monitorStore,
      stop: () => (stopping ??= stopAll().then(() => o.log('agent stopped'))),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function validateCron(job: Job): void {
  try {
    new Cron(job.cron, { paused: true }).stop();
  } catch (err) {
    throw new BerthError('CONFIG', `job ${job.name}: invalid cron expression "${job.cron}": ${(err as Error).message}`, 'use five fields like "0 2 * * *" (minute hour day month weekday)');
  }
}
