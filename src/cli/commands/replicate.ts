/** replicate pull / replicate status: the backup host's copy of the primary's snapshots. */
import path from 'node:path';
import type { Command } from 'commander';
import { createConsoleReporter, silentReporter } from '../../lib/reporter.js';
import { loadProject } from '../../project/load.js';
import type { Project } from '../../project/model.js';
import { describeRetention, type Retention } from '../../project/retention-schema.js';
import { pullReplica, requireReplicate, type PullResult } from '../../replicate/pull.js';
import { openReplication, type ReplicationWorld } from '../../replicate/service.js';
import { replicationStatus, type ReplicationStatus } from '../../replicate/status.js';
import { ago, printJson, reportError, table, type GlobalOptions } from '../output.js';
import { globals } from '../run.js';

export function registerReplicateCommands(program: Command): void {
  const replicate = program
    .command('replicate')
    .description("on the backup host: pull the primary's restic snapshots over SSH (read-only) into this host's repository");

  replicate
    .command('pull')
    .description("copy the primary's snapshots this host lacks; retries a cut link, never leaves a partial snapshot")
    .option('--check', "run restic check on this host's repository afterwards")
    .option('--read-data', 'with --check: read and verify all data, not just the structure')
    .option('--init', "create this host's repository even though earlier pulls stored snapshots there (it is gone, and a new, empty one is wanted)")
    .action((o: { check?: boolean; readData?: boolean; init?: boolean }, cmd: Command) =>
      withReplication(cmd, async (project, world, g) => {
        requireReplicate(project);
        const result = await pullReplica(world.deps, project, { check: o.check || o.readData, readData: o.readData, init: o.init });
        if (g.json) printJson(result);
        else process.stdout.write(describePull(result));
      }),
    );

  replicate
    .command('status')
    .description('last successful pull, newest primary vs replicated snapshot, lag, and ok|behind|failing against max_lag')
    .action((_o: unknown, cmd: Command) =>
      withReplication(cmd, async (project, world, g) => {
        requireReplicate(project);
        const status = replicationStatus(world.store.db, project);
        if (g.json) printJson(status);
        else process.stdout.write(describeStatus(status, project.replicate?.retention));
        if (status.state !== 'ok') process.exitCode = 1;
      }),
    );
}

async function withReplication(cmd: Command, body: (p: Project, w: ReplicationWorld, g: GlobalOptions) => Promise<void>): Promise<void> {
  const g = globals(cmd);
  let world: ReplicationWorld | undefined;
  try {
    const project = await loadProject(path.resolve(g.dir), { composeFiles: g.file, stateDir: g.stateDir });
    world = openReplication(project, g.quiet ? silentReporter : createConsoleReporter());
    await body(project, world, g);
  } catch (err) {
    process.exitCode = reportError(err, g);
  } finally {
    world?.close();
  }
}

function describePull(r: PullResult): string {
  const lines = [
    `pulled from ${r.from} into ${r.to} in ${(r.durationMs / 1000).toFixed(1)}s (${r.attempts} attempt(s))`,
    `copied ${r.copied.length} snapshot(s); ${r.replicaSnapshots}/${r.primarySnapshots} of the primary's snapshots are here${r.leftOut > 0 ? ` (${r.leftOut} more were removed here by this host's retention)` : ''}`,
  ];
  if (r.copied.length > 0) {
    const rows = [['ORIGINAL', 'COPY', 'TIME', 'TAGS']];
    for (const c of r.copied) rows.push([c.originalId.slice(0, 8), c.copyId.slice(0, 8), c.time, c.tags.join(',')]);
    lines.push(table(rows));
  }
  if (r.retention) {
    const { policy, kept, removed } = r.retention;
    lines.push(`this host's retention (${describeRetention(policy)}): kept ${kept}, removed ${removed.length}${removed.length > 0 ? ', unused data pruned' : ''}`);
    if (removed.length > 0) {
      const rows = [['REMOVED', 'ORIGINAL', 'TIME', 'SOURCE']];
      for (const x of removed) rows.push([x.snapshot, x.original.slice(0, 8), x.time, `${x.project}/${x.source}${x.kind === 'safety' ? ' (safety)' : ''}`]);
      lines.push(table(rows));
    }
  }
  if (r.check) lines.push(`restic check: ${r.check.ok ? 'no errors' : 'PROBLEMS FOUND'}`);
  return `${lines.join('\n')}\n`;
}

function describeStatus(s: ReplicationStatus, retention: Retention | undefined): string {
  const at = (ms?: number) => (ms === undefined ? '-' : new Date(ms).toISOString());
  const since = (ms?: number) => (ms === undefined ? '' : ` (${ago(Math.round((Date.now() - ms) / 1000))} ago)`);
  const rows = [
    ['state', `${s.state}: ${s.reason}`],
    ['from', s.from ?? '-'],
    ['last successful pull', `${at(s.lastSuccessAt)}${since(s.lastSuccessAt)}`],
    ['newest primary snapshot', at(s.primaryNewestAt)],
    ['newest replicated', at(s.replicaNewestAt)],
    ['lag', s.lagMs === undefined ? '-' : ago(Math.round(s.lagMs / 1000))],
    ['max_lag', ago(Math.round(s.maxLagMs / 1000))],
    ['snapshots', s.replicaSnapshots === undefined ? '-' : `${s.replicaSnapshots}/${s.primarySnapshots ?? '?'} of the primary's${s.leftOut ? ` (${s.leftOut} removed here by this host's retention)` : ''}`],
    ['retention here', retention ? describeRetention(retention) : 'none: every snapshot pulled is kept'],
  ];
  if (s.lastError) rows.push(['last error', s.lastError]);
  return `${table(rows)}\n`;
}
