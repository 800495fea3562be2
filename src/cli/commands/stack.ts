/** up, down, status: the stack as a whole. */
import type { Command } from 'commander';
import { downProject, reconcileIfIdle, upProject } from '../../deploy/operations.js';
import { projectStatus } from '../../deploy/status.js';
import { formatUtcMinute } from '../../lib/time.js';
import { ago, printJson, table } from '../output.js';
import { runWithContext } from '../run.js';

export function registerStackCommands(program: Command): void {
  program
    .command('up')
    .description('create or update the stack: networks, volumes, services in depends_on order, and the edge routes (idempotent)')
    .option('--no-wait', 'fail at once if another deploy holds the lock')
    .action((o: { wait: boolean }, cmd: Command) =>
      runWithContext(cmd, async (ctx, g) => {
        const result = await upProject(ctx, { wait: o.wait });
        if (g.json) return printJson(result);
        const changed = result.services.filter((s) => s.action !== 'unchanged');
        process.stdout.write(
          result.changed
            ? `${ctx.project.name}: ${changed.map((s) => `${s.service} ${s.action}`).join(', ') || 'services unchanged'}; edge ${result.edge}\n`
            : `${ctx.project.name}: up to date, nothing changed\n`,
        );
      }),
    );

  program
    .command('down')
    .description('remove the stack: containers, edge and networks (volumes only with --volumes)')
    .option('--volumes', 'also remove the named volumes (their data is lost)')
    .option('--no-wait', 'fail at once if another deploy holds the lock')
    .action((o: { volumes?: boolean; wait: boolean }, cmd: Command) =>
      runWithContext(cmd, async (ctx, g) => {
        const result = await downProject(ctx, { wait: o.wait, volumes: o.volumes === true });
        if (g.json) printJson(result);
      }),
    );

  program
    .command('status')
    .description('show every service: live color, image (tag and digest), health, uptime, route')
    .action((_o: unknown, cmd: Command) =>
      runWithContext(cmd, async (ctx, g) => {
        await reconcileIfIdle(ctx, 'berth status');
        const status = await projectStatus(ctx);
        if (g.json) return printJson(status);
        const rows = [['SERVICE', 'COLOR', 'STATE', 'HEALTH', 'IMAGE', 'DIGEST', 'UPTIME', 'ROUTE']];
        for (const s of status.services) {
          rows.push([
            s.service,
            s.color ?? '-',
            s.state,
            s.health ?? '-',
            s.image ?? '-',
            (s.repoDigests[0]?.split('@')[1] ?? s.imageId ?? '-').slice(0, 19),
            ago(s.uptimeSeconds),
            s.route ? `${s.route.hosts.join(',') || '(port)'} → :${s.route.port}` : '-',
          ]);
        }
        process.stdout.write(`project ${status.project}; edge ${status.edge.running ? 'running' : 'not running'} on ${status.edge.listeners.join(', ') || '-'}\n${table(rows)}\n`);
        for (const s of status.services) {
          if (s.extraContainers.length) process.stdout.write(`note: ${s.service} also has ${s.extraContainers.join(', ')}\n`);
          if (s.stoppedOnPurpose) process.stdout.write(`note: ${s.service} is stopped on purpose since ${formatUtcMinute(Date.parse(s.stoppedOnPurpose.at))} by ${s.stoppedOnPurpose.by} (${s.stoppedOnPurpose.reason})\n`);
        }
      }),
    );
}
