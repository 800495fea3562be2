/** One error reporter and the JSON/table helpers every command uses (STYLE.md habit 7). */
import { BerthError, exitCodes } from '../lib/errors.js';

export interface GlobalOptions {
  readonly dir: string;
  readonly file?: string[];
  readonly stateDir?: string;
  readonly json?: boolean;
  readonly verbose?: boolean;
  readonly quiet?: boolean;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function table(rows: ReadonlyArray<ReadonlyArray<string>>): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n');
}

export function reportError(err: unknown, opts: { json?: boolean; verbose?: boolean }): number {
  const e = err instanceof BerthError ? err : undefined;
  const code = e ? exitCodes[e.code] : 1;
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ error: { code: e?.code ?? 'INTERNAL', message: (err as Error).message, hint: e?.hint } }, null, 2)}\n`);
  }
  process.stderr.write(`berth: error: ${(err as Error).message}\n`);
  if (e?.hint) process.stderr.write(`  hint: ${e.hint}\n`);
  if (!e || opts.verbose) process.stderr.write(`${(err as Error).stack ?? ''}\n`);
  return code;
}

export function ago(seconds: number | undefined): string {
  if (seconds === undefined) return '-';
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86400)}d${Math.floor((seconds % 86400) / 3600)}h`;
}
