/** deploy, rollback, history: one service's versions. */
import type { Command } from 'commander';
import { deployService, requireService, rollbackService } from '../../deploy/operations.js';
import type { DeployOutcome } from '../../deploy/replace.js';
import { formatMs } from '../../lib/time.js';
import { printJson, table } from '../output.js';
import { positiveInt } from '../option-parsers.js';
import { runWithContext } from '../run.js';

function summary(o: DeployOutcome): string {
  const parts = [`${o.service}: ${o.strategy} to ${o.color} (${o.imageRef}, ${o.imageId.slice(7, 19)}) in ${formatMs(o.deployMs)}`];
  if (o.switchMs !== undefined) parts.push(`switch ${o.switchMs.toFixed(1)} ms`);
  if (o.gapMs !== undefined) parts.push(`gap ${formatMs(o.gapMs)}`);
  return `${parts.join('; ')} — deployment ${o.deploymentId}\n`;
}

export function registerDeployCommands(program: Command): void {
  program
    .command('deploy <service>')
    .description('replace a service with zero dropped requests: start the new color, health-gate, switch the edge, drain, verify, remove the old one')
    .option('--image <image>', 'deploy this image instead of the one in the compose file')
    .option('--no-wait', 'fail at once if another deploy holds the lock')
    .action((name: string, o: { image?: string; wait: boolean }, cmd: Command) =>
      runWithContext(cmd, async (ctx, g) => {
        const outcome = await deployService(ctx, name, { wait: o.wait, image: o.image });
        g.json ? printJson(outcome) : process.stdout.write(summary(outcome));
      }),
    );

  program
    .command('rollback <service>')
    .description('return a service to an earlier successful deployment (exact image digest and config), the zero-downtime way')
    .option('--to <deployment>', 'deployment id to return to (default: the one before the live one)')
    .option('--no-wait', 'fail at once if another deploy holds the lock')
    .action((name: string, o: { to?: string; wait: boolean }, cmd: Command) =>
      runWithContext(cmd, async (ctx, g) => {
        const outcome = await rollbackService(ctx, name, { wait: o.wait, to: o.to });
        g.json ? printJson(outcome) : process.stdout.write(summary(outcome));
      }),
    );

  program
    .command('history [service]')
    .description('deployments with outcome and timings, newest first')
    .option('-n, --limit <n>', 'how many', positiveInt, 20)
    .action((name: string | undefined, o: { limit: number }, cmd: Command) =>
      runWithContext(cmd, async (ctx, g) => {
        if (name) requireService(ctx, name);
        const rows = name ? ctx.deployments.listForService(ctx.project.name, name, o.limit) : ctx.deployments.listForProject(ctx.project.name, o.limit);
        if (g.json) return printJson(rows.map(({ snapshot: _s, ...r }) => r));
        const out = [['DEPLOYMENT', 'SERVICE', 'KIND', 'COLOR', 'STATUS', 'IMAGE', 'SWITCH', 'TOTAL', 'USER', 'ERROR']];
        for (const d of rows) {
          out.push([
            d.id,
            d.service,
            d.kind,
            d.color ?? '-',
            d.status,
            `${d.imageRef ?? ''} ${(d.imageId ?? '').slice(7, 19)}`.trim(),
            d.switchMs != null ? `${d.switchMs.toFixed(1)}ms` : d.gapMs != null ? `gap ${formatMs(d.gapMs)}` : '-',
            d.finishedAt ? formatMs(d.finishedAt - d.startedAt) : '-',
            d.user ?? '-',
            (d.error ?? '').split('\n')[0]!.slice(0, 60),
          ]);
        }
        process.stdout.write(`${table(out)}\n`);
      }),
    );
}
