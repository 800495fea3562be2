/** audit verify / audit list: the hash-chained trail of every change. */
import type { Command } from 'commander';
import { BerthError } from '../../lib/errors.js';
import { printJson, table } from '../output.js';
import { positiveInt } from '../option-parsers.js';
import { runWithContext } from '../run.js';

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident trail of every change (who, when, what, digests, outcome)');

  audit
    .command('verify')
    .description('check the hash chain; names every edited, deleted or truncated record')
    .action((_o: unknown, cmd: Command) =>
      runWithContext(cmd, async (ctx, g) => {
        const result = ctx.audit.verify();
        if (g.json) printJson(result);
        else if (result.ok) process.stdout.write(`audit trail intact: ${result.count} record(s), chain verified\n`);
        if (!result.ok) {
          throw new BerthError('AUDIT', `audit trail has been tampered with:\n${result.problems.map((p) => `  seq ${p.seq}: ${p.kind}: ${p.message}`).join('\n')}`, 'restore berth.db from a backup and investigate who changed it');
        }
      }),
    );

  audit
    .command('list')
    .description('show the latest audit records')
    .option('-n, --limit <n>', 'how many', positiveInt, 50)
    .action((o: { limit: number }, cmd: Command) =>
      runWithContext(cmd, async (ctx, g) => {
        const rows = ctx.audit.list({ project: ctx.project.name, limit: o.limit });
        if (g.json) return printJson(rows);
        const out = [['SEQ', 'TIME', 'USER', 'ACTION', 'TARGET', 'OUTCOME', 'OLD', 'NEW']];
        for (const r of rows) out.push([String(r.seq), new Date(r.ts).toISOString(), r.user, r.action, r.target, r.outcome, (r.oldDigest ?? '-').slice(7, 19) || '-', (r.newDigest ?? '-').slice(7, 19) || '-']);
        process.stdout.write(`${table(out)}\n`);
      }),
    );
}
