/** berth alerts: current alerts (pending, firing) and the recent alert log, from the agent's state. */
import type { Command } from 'commander';
import type { AlertInstance } from '../../monitor/rules/alerts.js';
import { createMonitorStore } from '../../store/monitor.js';
import { ago, printJson, table } from '../output.js';
import { positiveInt } from '../option-parsers.js';
import { runWithContext } from '../run.js';

export function registerAlertsCommand(program: Command): void {
  program
    .command('alerts')
    .description('current alerts (pending and firing) and the recent alert log, as the agent recorded them')
    .option('-n, --limit <n>', 'how many recent log entries', positiveInt, 20)
    .action((o: { limit: number }, cmd: Command) =>
      runWithContext(cmd, async (ctx, g) => {
        const store = createMonitorStore(ctx.store.db, ctx.project.name);
        const now = ctx.clock();
        const current = store.alerts().map((r) => JSON.parse(r.data) as AlertInstance);
        const recent = store.alertLog(o.limit);
        const silences = store.silences(now);
        if (g.json) {
          return printJson({
            current: current.map((a) => ({ key: a.key, state: a.state, rule: a.rule, probe: a.probeId, service: a.labels.service ?? null, severity: a.severity, since: new Date(a.activeSinceMs).toISOString(), firedAt: a.firedAtMs ? new Date(a.firedAtMs).toISOString() : null, summary: a.lastResult.summary, labels: a.labels, runbook: a.runbook ?? null })),
            recent: recent.map((r) => ({ ...r, at: new Date(r.atMs).toISOString() })),
            silences,
          });
        }
        if (current.length === 0) process.stdout.write('no current alerts\n');
        else {
          const rows = [['STATE', 'ALERT', 'SERVICE', 'SEVERITY', 'FOR', 'SUMMARY']];
          for (const a of current) rows.push([a.state, `${a.rule === 'probe' ? '' : `${a.rule} `}${a.probeId}`, a.labels.service ?? '-', a.severity, ago(Math.round((now - a.activeSinceMs) / 1000)), a.lastResult.summary]);
          process.stdout.write(`${table(rows)}\n`);
        }
        if (recent.length > 0) {
          const rows = [['TIME', 'STATE', 'ALERT', 'SUMMARY']];
          for (const r of recent) rows.push([new Date(r.atMs).toISOString(), r.state, r.key.replace(/^probe\|/, ''), r.summary]);
          process.stdout.write(`\nrecent:\n${table(rows)}\n`);
        }
        if (silences.length > 0) process.stdout.write(`\n${silences.length} active silence(s); see \`berth silence list\`\n`);
      }),
    );
}
