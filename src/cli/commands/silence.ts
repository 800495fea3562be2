/** berth silence add|list|expire: hold alert notices back for a while, with a reason (audited). */
import type { Command } from 'commander';
import { BerthError } from '../../lib/errors.js';
import { parseDuration } from '../../lib/duration.js';
import { addSilence, expireSilence } from '../../monitor/silences.js';
import { createMonitorStore } from '../../store/monitor.js';
import type { CommandContext } from '../context.js';
import { printJson, table } from '../output.js';
import { runWithContext } from '../run.js';

const deps = (ctx: CommandContext) => ({ project: ctx.project, store: createMonitorStore(ctx.store.db, ctx.project.name), audit: ctx.audit, clock: ctx.clock, user: ctx.user });

export function registerSilenceCommands(program: Command): void {
  const silence = program.command('silence').description('silences: hold alert notifications back for a while, with a reason');

  silence
    .command('add')
    .description('silence the alerts of a service (or of alerts carrying the given labels)')
    .option('--service <name>', 'the service whose alerts are silenced')
    .option('--label <k=v...>', 'match alerts by label instead of (or besides) the service')
    .requiredOption('--for <duration>', 'how long, e.g. 30m or 2h')
    .requiredOption('--reason <text>', 'why (shown in `berth silence list` and the audit trail)')
    .action((o: { service?: string; label?: string[]; for: string; reason: string }, cmd: Command) =>
      runWithContext(cmd, async (ctx, g) => {
        let durationMs: number;
        try {
          durationMs = parseDuration(o.for);
        } catch {
          throw new BerthError('CONFIG', `--for ${o.for}: should be a duration like "30m" or "2h"`);
        }
        const labels = Object.fromEntries(
          (o.label ?? []).map((l) => {
            const i = l.indexOf('=');
            if (i <= 0) throw new BerthError('CONFIG', `--label ${l}: should be key=value`);
            return [l.slice(0, i), l.slice(i + 1)];
          }),
        );
        const row = addSilence(deps(ctx), { ...(o.service ? { service: o.service } : {}), labels, durationMs, reason: o.reason });
        if (g.json) return printJson(row);
        process.stdout.write(`silence ${row.id}: ${Object.entries(row.matchers).map(([k, v]) => `${k}=${v}`).join(',')} until ${new Date(row.endsAtMs).toISOString()}\n`);
      }),
    );

  silence
    .command('list')
    .description('active silences (with --all, expired ones too)')
    .option('--all', 'include expired silences')
    .action((o: { all?: boolean }, cmd: Command) =>
      runWithContext(cmd, async (ctx, g) => {
        const now = ctx.clock();
        const rows = createMonitorStore(ctx.store.db, ctx.project.name).silences(now, o.all === true);
        if (g.json) return printJson(rows.map((r) => ({ ...r, active: r.endsAtMs > now && r.startsAtMs <= now })));
        if (rows.length === 0) return void process.stdout.write('no silences\n');
        const t = [['ID', 'MATCHES', 'UNTIL', 'BY', 'REASON']];
        for (const r of rows) t.push([r.id, Object.entries(r.matchers).map(([k, v]) => `${k}=${v}`).join(','), `${new Date(r.endsAtMs).toISOString()}${r.endsAtMs <= now ? ' (expired)' : ''}`, r.createdBy, r.reason]);
        process.stdout.write(`${table(t)}\n`);
      }),
    );

  silence
    .command('expire')
    .description('end a silence now')
    .argument('<id>', 'silence id from `berth silence list`')
    .action((id: string, _o: unknown, cmd: Command) =>
      runWithContext(cmd, async (ctx, g) => {
        expireSilence(deps(ctx), id);
        if (g.json) return printJson({ id, expired: true });
        process.stdout.write(`silence ${id} expired\n`);
      }),
    );
}
