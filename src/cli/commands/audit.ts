/** audit verify / audit list: the hash-chained trail of every change. */
import fs from 'node:fs';
import type { Command } from 'commander';
import { parseCopy } from '../../audit/copy.js';
import { describeRow } from '../../audit/record.js';
import type { AuditProblem, AuditTrail } from '../../audit/trail.js';
import { copyChainProblem } from '../../audit/verify.js';
import { BerthError, exitCodes } from '../../lib/errors.js';
import { printJson, table } from '../output.js';
import { positiveInt } from '../option-parsers.js';
import { runWithContext } from '../run.js';

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident trail of every change (who, when, what, digests, outcome)');

  audit
    .command('verify')
    .description('check the hash chain; names every edited, deleted or truncated record')
    .option('--against <file>', 'also compare with a copy of the trail, e.g. the .berth-audit.jsonl of `berth restore latest -s config --to DIR` from the off-site repository: every record of the copy must be here, unchanged')
    .action((o: { against?: string }, cmd: Command) =>
      runWithContext(cmd, async (ctx, g) => {
        const own = ctx.audit.verify();
        const against = o.against === undefined ? undefined : compareAgainst(ctx.audit, o.against);
        const result = against ? { ...own, ok: own.ok && against.problems.length === 0, problems: [...own.problems, ...against.problems], against: against.summary } : own;
        // With --json the result is the one document on stdout; a failed check is its exit code.
        if (g.json) {
          printJson(result);
          if (!result.ok) process.exitCode = exitCodes.AUDIT;
          return;
        }
        if (result.ok) process.stdout.write(`audit trail intact: ${result.count} record(s), chain verified${against ? `; it holds all ${against.summary.records} record(s) of the copy ${against.summary.file} unchanged` : ''}\n`);
        else {
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

/**
 * This trail against a copy of it (one kept off-site is out of reach of whoever can change this
 * host's): every record of the copy must be here with the same hash. A copy whose own chain is
 * broken proves nothing, and is an error of its own.
 */
function compareAgainst(trail: AuditTrail, file: string): { problems: AuditProblem[]; summary: { file: string; records: number; matched: number } } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new BerthError('NOT_FOUND', `--against ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, 'take a copy from a config snapshot: `berth restore latest --source config --to DIR`, then --against DIR/.berth-audit.jsonl');
  }
  const rows = parseCopy(text, file);
  const broken = copyChainProblem(rows);
  if (broken) throw new BerthError('AUDIT', `the copy ${file} is itself damaged (record ${broken.seq}: ${broken.message}), so it proves nothing about this trail`, 'take the copy again from another snapshot');
  const c = trail.compare(rows);
  const problems: AuditProblem[] = [];
  const at = (seq: number) => rows.find((r) => r.seq === seq)!;
  if (c.differsAt !== undefined) {
    problems.push({ seq: c.differsAt, kind: 'edited', message: `record ${c.differsAt} is not the copy's (in ${file}: ${describeRow(at(c.differsAt))}): this trail, or the copy, was changed from there on` });
  } else if (c.missingFrom !== undefined) {
    const last = rows.at(-1)!.seq;
    problems.push({ seq: c.missingFrom, kind: 'deleted', message: `record${last > c.missingFrom ? `s ${c.missingFrom}–${last}` : ` ${c.missingFrom}`} of the copy ${last > c.missingFrom ? 'are' : 'is'} not here (from ${describeRow(at(c.missingFrom))} on)` });
  }
  return { problems, summary: { file, records: rows.length, matched: c.matched } };
}
