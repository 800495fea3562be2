/** berth probes: every configured probe and its last result, as the agent recorded it. */
import type { Command } from 'commander';
import { createMonitorStore } from '../../store/monitor.js';
import { ago, printJson, table } from '../output.js';
import { runWithContext } from '../run.js';

export function registerProbesCommand(program: Command): void {
  program
    .command('probes')
    .description('every probe (defaults and berth.yaml monitor.probes) with its last result')
    .action((_o: unknown, cmd: Command) =>
      runWithContext(cmd, async (ctx, g) => {
        const store = createMonitorStore(ctx.store.db, ctx.project.name);
        const rows = new Map(store.probes().map((p) => [p.probeId, p]));
        const now = ctx.clock();
        const list = [...ctx.project.monitor.probes.map((p) => ({ id: p.id, kind: p.kind, service: p.service, intervalMs: p.intervalMs })), ...(ctx.project.monitor.peer ? [{ id: `peer:${ctx.project.monitor.peer.name}`, kind: 'peer', service: undefined, intervalMs: ctx.project.monitor.peer.intervalMs }] : [])];
        const out = list.map((p) => {
          const r = rows.get(p.id);
          return { id: p.id, kind: p.kind, service: p.service ?? null, interval: p.kind === 'container' ? 'events' : `${p.intervalMs / 1000}s`, state: r ? (r.ok ? 'ok' : 'failing') : 'unknown', since: r ? new Date(r.sinceMs).toISOString() : null, lastRunAt: r ? new Date(r.atMs).toISOString() : null, value: r?.value ?? null, latencyMs: r?.latencyMs ?? null, summary: r?.summary ?? null };
        });
        if (g.json) return printJson(out);
        const t = [['PROBE', 'KIND', 'EVERY', 'STATE', 'FOR', 'LAST', 'SUMMARY']];
        for (const p of out) {
          const r = rows.get(p.id);
          t.push([p.id, p.kind, p.interval, p.state, r ? ago(Math.round((now - r.sinceMs) / 1000)) : '-', r ? `${ago(Math.round((now - r.atMs) / 1000))} ago` : 'never', p.summary ?? '-']);
        }
        process.stdout.write(`${table(t)}\n`);
      }),
    );
}
