/** logs: a service's live container output. */
import type { Command } from 'commander';
import { requireService } from '../../deploy/operations.js';
import { BerthError } from '../../lib/errors.js';
import { parseDuration } from '../../lib/duration.js';
import { runWithContext } from '../run.js';

export function registerLogsCommand(program: Command): void {
  program
    .command('logs <service>')
    .description("print a service's container logs (the live color)")
    .option('-f, --follow', 'keep printing new lines until interrupted')
    .option('--since <duration>', 'only lines newer than this, e.g. 10m or 1h')
    .option('-n, --tail <lines>', 'only the last N lines')
    .option('-t, --timestamps', 'prefix each line with its time')
    .action((name: string, o: { follow?: boolean; since?: string; tail?: string; timestamps?: boolean }, cmd: Command) =>
      runWithContext(cmd, async (ctx) => {
        requireService(ctx, name);
        const live = ctx.deployments.getLive(ctx.project.name, name);
        if (!live) throw new BerthError('NOT_FOUND', `service ${name} is not running`, 'start it with `berth up`');
        const since = o.since ? Math.floor((ctx.clock() - parseDuration(o.since)) / 1000) : undefined;
        const options = { since, tail: o.tail ? Number(o.tail) : undefined, timestamps: o.timestamps };
        if (!o.follow) {
          process.stdout.write(await ctx.engine.logs(live.containerId, options));
          return;
        }
        const abort = new AbortController();
        process.once('SIGINT', () => abort.abort());
        await ctx.engine.followLogs(live.containerId, options, (t) => process.stdout.write(t), abort.signal);
      }),
    );
}
