/** berth agent (run the daemon in the foreground), berth agent status. */
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { currentProject, type CurrentProject } from '../../agent/current-project.js';
import { createAgentEngine } from '../../agent/engine.js';
import { createJsonLog, type Log } from '../../agent/log.js';
import { createLogNotifier } from '../../agent/log-notifier.js';
import type { Job } from '../../agent/scheduler.js';
import { openBackupContext } from '../../backup/context.js';
import { runBackup } from '../../backup/run.js';
import { backupJobs, retryComing } from '../../backup/schedule.js';
import { BerthError } from '../../lib/errors.js';
import { type Reporter, silentReporter } from '../../lib/reporter.js';
import type { Notifier } from '../../notify/types.js';
import { loadProject } from '../../project/load.js';
import type { Project } from '../../project/model.js';
import { effectiveSources } from '../../project/backup-schema.js';
import { replicateJobs } from '../../replicate/jobs.js';
import { replicationStatus } from '../../replicate/status.js';
import { backupFigures, backupRecords } from '../../store/backups.js';
import { createMonitorStore } from '../../store/monitor.js';
import { ago, printJson, table } from '../output.js';
import { runWithContext } from '../run.js';

/**
 * Scheduled jobs of other areas, one line each: the nightly backup (+ prune) and, on a backup
 * host, the pull. What the backup jobs warn of (a source that failed, a retry coming, a suspect
 * dump) goes to the agent's log; their progress does not.
 */
const jobs = (project: Project, current: CurrentProject, log: Log): Job[] => {
  const report: Reporter = { ...silentReporter, warn: (message) => log('backup job', { level: 'warn', note: message }) };
  return [...backupJobs(project, report, current), ...replicateJobs(project, current)];
};

export function registerAgentCommands(program: Command): void {
  const agent = program.command('agent').description('the monitoring and scheduling daemon: probes, alerts, heartbeats, /healthz and /metrics');

  agent
    .command('run', { isDefault: true })
    .description('run the agent in the foreground until SIGTERM or SIGINT (logs are JSON lines on stdout)')
    .option('--listen <addr>', 'override monitor.listen, e.g. 127.0.0.1:9464')
    .action((o: { listen?: string }, cmd: Command) =>
      runWithContext(cmd, async (ctx, g) => {
        // Loaded here, not at start-up: prom-client and nodemailer would slow every other command.
        const [{ startAgent }, { startNotifications }] = await Promise.all([import('../../agent/agent.js'), import('../../notify/service.js')]);
        const log = createJsonLog(process.stdout, { project: ctx.project.name });
        // Backup runs read berth.yaml afresh, as the CLI does for a run it makes itself.
        const current = currentProject(ctx.project, () => loadProject(path.resolve(g.dir), { composeFiles: g.file, stateDir: g.stateDir }), log);
        const tokenEnv = ctx.project.monitor.peer?.tokenEnv;
        const peerToken = tokenEnv ? process.env[tokenEnv] : undefined;
        // Alerts go through the durable outbox to the channels of berth.yaml `notify:` (log only without one).
        const notifications = startNotifications({
          db: ctx.store.db,
          project: ctx.project.name,
          config: ctx.project.notify,
          clock: ctx.clock,
          log: (level, message, fields) => log(message, { level, ...fields }),
        });
        let running: Awaited<ReturnType<typeof startAgent>>;
        try {
          running = await startAgent({
            project: ctx.project,
            // Watching needs only the read side, which keeps dockerode out of the daemon's memory.
            engine: createAgentEngine(),
            store: ctx.store,
            // Each notification is logged (a readable trace) and queued in the durable outbox.
            notifier: teeNotifier(createLogNotifier(log), notifications.notifier),
            clock: ctx.clock,
            log,
            pid: process.pid,
            host: os.hostname(),
            jobs: jobs(ctx.project, current, log),
            // `berth backup run --agent`: the same run the nightly job makes, in this warm process.
            control: {
              async backupRun(sources, report) {
                const backup = openBackupContext(await current(), report);
                try {
                  return await runBackup(backup.ctx, { ...(sources && { sources }) });
                } finally {
                  backup.close();
                }
              },
            },
            backups: backupRecords(ctx.store.db, ctx.project.name, retryComing),
            ...(ctx.project.backup && { backupFigures: backupFigures(ctx.store.db, ctx.project.name, effectiveSources(ctx.project.backup).map((s) => s.name)) }),
            replication: () => replicationStatus(ctx.store.db, ctx.project, ctx.clock()),
            ...(peerToken ? { peerToken } : {}),
            ...(o.listen ? { listen: parseListen(o.listen) } : {}),
          });
        } catch (err) {
          await notifications.stop();
          throw err;
        }
        const signal = await new Promise<string>((resolve) => {
          process.once('SIGTERM', () => resolve('SIGTERM'));
          process.once('SIGINT', () => resolve('SIGINT'));
        });
        log('stopping', { signal });
        await running.stop();
        await notifications.stop();
      }),
    );

  agent
    .command('status')
    .description('is the agent running; its probes, firing alerts and peer heartbeat')
    .action((_o: unknown, cmd: Command) =>
      runWithContext(cmd, async (ctx, g) => {
        const store = createMonitorStore(ctx.store.db, ctx.project.name);
        const row = store.agent();
        const now = ctx.clock();
        const { agentHeld } = await import('../../agent/agent.js');
        const running = row !== undefined && row.stoppedAt === undefined && agentHeld(row, { host: os.hostname() }, now);
        const health = running && row ? await fetchHealth(row.listen) : undefined;
        const probes = store.probes();
        const alerts = store.alerts();
        const peer = ctx.project.monitor.peer;
        const hb = peer ? store.heartbeat(peer.name) : undefined;
        const status = {
          project: ctx.project.name,
          running,
          ...(row ? { pid: row.pid, host: row.host, listen: row.listen, startedAt: new Date(row.startedAt).toISOString(), lastSeenAt: new Date(row.heartbeatAt).toISOString() } : {}),
          ...(row?.stoppedAt ? { stoppedAt: new Date(row.stoppedAt).toISOString() } : {}),
          healthz: health ?? null,
          probes: { total: ctx.project.monitor.probes.length + (peer ? 1 : 0), failing: probes.filter((p) => !p.ok).length },
          alerts: { firing: alerts.filter((a) => a.state === 'firing').length, pending: alerts.filter((a) => a.state === 'pending').length },
          ...(peer ? { peer: { name: peer.name, url: peer.url, lastSeenAt: hb?.lastSeenMs ? new Date(hb.lastSeenMs).toISOString() : null, lastSentAt: hb?.lastSentMs ? new Date(hb.lastSentMs).toISOString() : null, lastError: hb?.lastError ?? null } } : {}),
        };
        if (g.json) printJson(status);
        else {
          const rows = [
            ['agent', running ? `running, pid ${row?.pid} on ${row?.host}, since ${ago(Math.round((now - (row?.startedAt ?? now)) / 1000))}` : row ? `not running (last seen ${new Date(row.heartbeatAt).toISOString()})` : 'never started'],
            ['listen', row ? `${row.listen}${health ? ` (healthz ${health.status})` : running ? ' (healthz not answering)' : ''}` : '-'],
            ['probes', `${status.probes.total} configured, ${status.probes.failing} failing`],
            ['alerts', `${status.alerts.firing} firing, ${status.alerts.pending} pending`],
          ];
          const ev = health?.dockerEvents;
          if (ev) rows.push(['docker events', `${ev.connected ? 'connected' : 'NOT connected (reconnecting)'}${ev.reconnects ? `, reopened ${ev.reconnects} time${ev.reconnects === 1 ? '' : 's'} since the agent started` : ''}`]);
          if (peer) rows.push(['peer', `${peer.name}: last heartbeat ${hb?.lastSeenMs ? `${ago(Math.round((now - hb.lastSeenMs) / 1000))} ago` : 'never'}${hb?.lastError ? `; sending fails: ${hb.lastError}` : ''}`]);
          process.stdout.write(`${table(rows)}\n`);
        }
        if (!running) process.exitCode = 1;
      }),
    );
}

export function parseListen(s: string): { hostIp: string; hostPort: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(s.trim()) ?? /^()()(\d+)$/.exec(s.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new BerthError('CONFIG', `--listen ${s}: should be an address like 127.0.0.1:9464`);
  return { hostIp: m[1] || m[2] || '127.0.0.1', hostPort: port };
}

async function fetchHealth(listen: string): Promise<{ status: string; dockerEvents?: { connected: boolean; reconnects: number } } | undefined> {
  const host = listen.startsWith('0.0.0.0:') ? listen.replace('0.0.0.0', '127.0.0.1') : listen;
  try {
    const res = await fetch(`http://${host}/healthz`, { signal: AbortSignal.timeout(2_000) });
    return (await res.json()) as { status: string; dockerEvents?: { connected: boolean; reconnects: number } };
  } catch {
    return undefined;
  }
}

function teeNotifier(...targets: Notifier[]): Notifier {
  return { notify: (n) => targets.forEach((t) => t.notify(n)) };
}
