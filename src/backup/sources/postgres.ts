/**
 * PostgreSQL: `pg_dumpall --globals-only` (roles, tablespaces) in front of `pg_dump -Fc` of one
 * database (see `frame.ts`). Recorded per table: the row count, and for tables up to
 * `md5RowLimit` rows the md5 of all rows as text in sorted order; bigger tables get the count only.
 */
import path from 'node:path';
import type { Writable } from 'node:stream';
import { BerthError } from '../../lib/errors.js';
import { readFrame, writeFrameHeader } from '../frame.js';
import { capture, type Cmd } from '../process.js';
import { pipeFrom, pipeInto, query } from './io.js';
import { compareTables, dependents, type TableFact } from './mariadb.js';
import type { DrillOutcome, SourceContext, SourceDriver } from './types.js';
import { inWhere, resolveWhere, scratchName, sourcePassword, type ToolConn } from './where.js';
import { counted } from '../../lib/plural.js';

export const md5RowLimit = 100_000;

type Conn = ToolConn;

async function connect(ctx: SourceContext): Promise<Conn> {
  const s = ctx.source;
  const where = await resolveWhere(ctx);
  const password = sourcePassword(ctx, ['POSTGRES_PASSWORD']);
  const svcEnv = s.service ? ctx.project.services[s.service]?.environment : undefined;
  const user = s.user ?? svcEnv?.POSTGRES_USER ?? 'postgres';
  const args = [...(where.kind === 'host' ? (s.socket ? socketArgs(s.socket, s.port) : ['-h', s.host, '-p', String(s.port ?? 5432)]) : []), '-U', user];
  return { where, args, env: password ? { PGPASSWORD: password } : {} };
}

/** libpq takes the socket's directory as host and its port from the file name (`.s.PGSQL.5432`). */
export function socketArgs(socket: string, port: number | undefined): string[] {
  const file = /^\.s\.PGSQL\.(\d+)$/.exec(path.basename(socket));
  return file ? ['-h', path.dirname(socket), '-p', file[1]!] : ['-h', socket, '-p', String(port ?? 5432)];
}

const psql = (c: Conn, db: string, statement: string): Cmd =>
  inWhere(c.where, ['psql', ...c.args, '-d', db, '-X', '-q', '-A', '-t', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-c', statement], c.env);

const ident = (name: string) => name.split('.').map((p) => `"${p.replaceAll('"', '""')}"`).join('.');
const literal = (s: string) => `'${s.replaceAll("'", "''")}'`;

export async function pgTableFacts(c: Conn, db: string, what: string): Promise<TableFact[]> {
  const list = await query(
    psql(c, db, `SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`),
    `${what}: list tables`,
  );
  const tables = list.split('\n').filter(Boolean);
  if (tables.length === 0) return [];
  const counts = await query(psql(c, db, tables.map((t) => `SELECT ${literal(t)}, count(*) FROM ${ident(t)}`).join(' UNION ALL ')), `${what}: count rows`);
  const rows = new Map(counts.split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]));
  const small = tables.filter((t) => Number(rows.get(t)) <= md5RowLimit);
  const sums = small.length
    ? await query(
        psql(c, db, small.map((t) => `SELECT ${literal(t)}, md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) FROM ${ident(t)} x`).join(' UNION ALL ')),
        `${what}: checksum rows`,
      )
    : '';
  const md5 = new Map(sums.split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]));
  return tables.map((name) => ({ name, rows: Number(rows.get(name)), checksum: md5.get(name) ?? '' }));
}

async function globals(c: Conn, what: string): Promise<Buffer> {
  const full = await capture(inWhere(c.where, ['pg_dumpall', ...c.args, '--globals-only'], c.env));
  if (full.code === 0) return Buffer.from(full.stdout);
  // Not a superuser: role passwords cannot be read, the rest still can.
  return Buffer.from(await query(inWhere(c.where, ['pg_dumpall', ...c.args, '--globals-only', '--no-role-passwords'], c.env), `${what}: pg_dumpall --globals-only`));
}

async function createDb(c: Conn, name: string, what: string): Promise<void> {
  await query(psql(c, 'postgres', `CREATE DATABASE ${ident(name)}`), what);
}

async function dropDb(c: Conn, name: string, what: string): Promise<void> {
  await query(psql(c, 'postgres', `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${literal(name)} AND pid <> pg_backend_pid()`), what);
  await query(psql(c, 'postgres', `DROP DATABASE IF EXISTS ${ident(name)}`), what);
}

export const postgresSource: SourceDriver = {
  filename: (s) => `postgres/${s.database}.pgdump`,

  async dump(ctx, out: Writable, signal) {
    const db = ctx.source.database!;
    const c = await connect(ctx);
    const what = `${ctx.source.name}: pg_dump ${db}`;
    const tables = await pgTableFacts(c, db, what);
    writeFrameHeader(out, [{ name: 'globals.sql', data: await globals(c, what) }]);
    await pipeFrom(inWhere(c.where, ['pg_dump', ...c.args, '-Fc', '-d', db], c.env), out, signal, what);
    return { database: db, tables, md5RowLimit };
  },

  async drill(ctx, input, facts): Promise<DrillOutcome> {
    const c = await connect(ctx);
    const scratch = scratchName('berth_drill');
    const what = `${ctx.source.name}: restore drill into ${scratch}`;
    const { rest } = await readFrame(input);
    await createDb(c, scratch, what);
    try {
      await pipeInto(inWhere(c.where, ['pg_restore', ...c.args, '--no-owner', '--no-privileges', '--exit-on-error', '-d', scratch], c.env), rest, what);
      const restored = await pgTableFacts(c, scratch, what);
      const mismatches = compareTables((facts?.tables ?? []) as TableFact[], restored);
      const rows = restored.reduce((n, t) => n + t.rows, 0);
      return { ok: mismatches.length === 0 && facts !== undefined, summary: `${counted(restored.length, 'table')}, ${counted(rows, 'row')}, ${mismatches.length ? 'differences found' : 'counts and checksums equal'}`, mismatches };
    } finally {
      await dropDb(c, scratch, `${what}: drop`).catch(() => undefined);
    }
  },

  async restore(ctx, input, opts) {
    const c = await connect(ctx);
    const db = opts.to ?? ctx.source.database!;
    const what = `${ctx.source.name}: restore into database ${db}`;
    if (opts.to && (await query(psql(c, 'postgres', `SELECT 1 FROM pg_database WHERE datname = ${literal(db)}`), what)).trim()) {
      throw new BerthError('CONFLICT', `${what}: database ${db} already exists`, '--to restores into a new database; choose another name, or restore over the source database without --to');
    }
    const { parts, rest } = await readFrame(input);
    const roles = parts.get('globals.sql');
    // Roles first (errors such as "role already exists" are expected and ignored), so owners resolve.
    if (roles?.length) await capture(inWhere(c.where, ['psql', ...c.args, '-d', 'postgres', '-X', '-q'], c.env), { input: roles });
    opts.onBegin?.();
    await dropDb(c, db, what);
    await createDb(c, db, what);
    await pipeInto(inWhere(c.where, ['pg_restore', ...c.args, '--exit-on-error', '-d', db], c.env), rest, what);
    const tables = await pgTableFacts(c, db, what);
    return `database ${db}: ${counted(tables.length, 'table')}, ${counted(tables.reduce((n, t) => n + t.rows, 0), 'row')}`;
  },

  writers: (ctx) => dependents(ctx),
};
