/**
 * PostgreSQL: `pg_dumpall --globals-only` (roles, tablespaces) in front of `pg_dump -Fc` of one
 * database (see `frame.ts`). Recorded per table: the row count, and for tables up to
 * `md5RowLimit` rows the md5 of all rows as text in sorted order; bigger tables get the count only.
 *
 * With `tables:` only those tables are dumped (`pg_dump -t`, with their indexes, constraints,
 * triggers and owned sequences), under `postgres/tables/<db>.pgdump`; restoring such a snapshot
 * replaces them in one transaction (`pg_restore --clean --single-transaction`) and leaves the
 * database's other objects as they are.
 */
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { BerthError } from '../../lib/errors.js';
import { defaultDatabasePort } from '../../project/backup-schema.js';
import { readFrame, writeFrameHeader } from '../frame.js';
import { capture, type Cmd } from '../process.js';
import { pipeFrom, pipeInto, query } from './io.js';
import { compareTables, dependents, type TableFact } from './mariadb.js';
import { holdsSubset, missingTables, subsetFilename, subsetRestored } from './table-subset.js';
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
  const args = [...(where.kind === 'host' ? (s.socket ? socketArgs(s.socket, s.port) : ['-h', s.host, '-p', String(s.port ?? defaultDatabasePort.postgres)]) : []), '-U', user];
  return { where, args, env: password ? { PGPASSWORD: password } : {} };
}

/** libpq takes the socket's directory as host and its port from the file name (`.s.PGSQL.5432`). */
export function socketArgs(socket: string, port: number | undefined): string[] {
  const file = /^\.s\.PGSQL\.(\d+)$/.exec(path.basename(socket));
  return file ? ['-h', path.dirname(socket), '-p', file[1]!] : ['-h', socket, '-p', String(port ?? defaultDatabasePort.postgres)];
}

const psql = (c: Conn, db: string, statement: string): Cmd =>
  inWhere(c.where, ['psql', ...c.args, '-d', db, '-X', '-q', '-A', '-t', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-c', statement], c.env);

const ident = (name: string) => name.split('.').map((p) => `"${p.replaceAll('"', '""')}"`).join('.');
const literal = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** Per table (schema.table) its row count and, up to `md5RowLimit` rows, the md5 of its rows; only those of `only` when given, each of which must be there. */
export async function pgTableFacts(c: Conn, db: string, what: string, only?: readonly string[]): Promise<TableFact[]> {
  const among = only ? ` AND schemaname || '.' || tablename IN (${only.map(literal).join(', ')})` : '';
  const list = await query(
    psql(c, db, `SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')${among} ORDER BY 1`),
    `${what}: list tables`,
  );
  const tables = list.split('\n').filter(Boolean);
  if (only) missingTables(only, tables, db, what);
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
  filename: (s) => (s.tables ? subsetFilename('postgres', s.database!, 'pgdump') : `postgres/${s.database}.pgdump`),

  async dump(ctx, out: Writable, signal) {
    const db = ctx.source.database!;
    const only = ctx.source.tables;
    const c = await connect(ctx);
    const what = `${ctx.source.name}: pg_dump ${db}`;
    const tables = await pgTableFacts(c, db, what, only);
    // pg_dump -t leaves out the tables' schemas: the frame carries them, for a drill or a new database.
    const schemas = [...new Set((only ?? []).map((t) => t.split('.')[0]!).filter((n) => n !== 'public'))];
    const schemaSql = schemas.map((n) => `CREATE SCHEMA IF NOT EXISTS ${ident(n)};\n`).join('');
    writeFrameHeader(out, [{ name: 'globals.sql', data: await globals(c, what) }, ...(schemaSql ? [{ name: schemasPart, data: Buffer.from(schemaSql) }] : [])]);
    // Each name quoted, so pg_dump takes it as it is, not as a pattern.
    const picked = (only ?? []).flatMap((t) => ['-t', ident(t)]);
    await pipeFrom(inWhere(c.where, ['pg_dump', ...c.args, '-Fc', ...picked, '-d', db], c.env), out, signal, what);
    return { database: db, tables, md5RowLimit, ...(only && { only }) };
  },

  async drill(ctx, input, facts): Promise<DrillOutcome> {
    const c = await connect(ctx);
    const scratch = scratchName('berth_drill');
    const what = `${ctx.source.name}: restore drill into ${scratch}`;
    const { parts, rest } = await readFrame(input);
    await createDb(c, scratch, what);
    try {
      await createSchemas(c, scratch, parts, what);
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
    if (holdsSubset(opts)) return restoreSubset(ctx, c, db, rest, parts, what);
    opts.onBegin?.();
    await dropDb(c, db, what);
    await createDb(c, db, what);
    await pipeInto(inWhere(c.where, ['pg_restore', ...c.args, '--exit-on-error', '-d', db], c.env), rest, what);
    const tables = await pgTableFacts(c, db, what);
    return `database ${db}: ${counted(tables.length, 'table')}, ${counted(tables.reduce((n, t) => n + t.rows, 0), 'row')}`;
  },

  writers: (ctx) => dependents(ctx),
};

const subsetLockWait = '120s';

/** The frame part of a table subset's dump that creates the schemas its tables are in. */
const schemasPart = 'schemas.sql';

async function createSchemas(c: Conn, db: string, parts: ReadonlyMap<string, Buffer>, what: string): Promise<void> {
  const sql = parts.get(schemasPart);
  if (sql?.length) await query(inWhere(c.where, ['psql', ...c.args, '-d', db, '-X', '-q', '-v', 'ON_ERROR_STOP=1'], c.env), `${what}: create its schemas`, sql.toString('utf8'));
}

/**
 * A table subset is restored into the database as it is (created when missing): pg_restore drops
 * and recreates the snapshot's tables in one transaction, so a failure changes nothing and the
 * source is not held as partly restored. Other clients keep their connections; one holding a
 * lock on a table being replaced fails the restore after `subsetLockWait` instead of making it
 * wait for ever.
 */
async function restoreSubset(ctx: SourceContext, c: Conn, db: string, input: Readable, parts: ReadonlyMap<string, Buffer>, what: string): Promise<string> {
  if (!(await query(psql(c, 'postgres', `SELECT 1 FROM pg_database WHERE datname = ${literal(db)}`), what)).trim()) await createDb(c, db, what);
  // No onBegin: in one transaction, a failure (or berth killed, the connection gone) changes
  // nothing, so the source is never left partly restored. Only missing schemas are created first.
  await createSchemas(c, db, parts, what);
  const env = { ...c.env, PGOPTIONS: `-c lock_timeout=${subsetLockWait}` };
  await pipeInto(inWhere(c.where, ['pg_restore', ...c.args, '--clean', '--if-exists', '--single-transaction', '--exit-on-error', '-d', db], env), input, what).catch((err: Error) => {
    if (/lock timeout/i.test(err.message)) {
      throw new BerthError('CONFLICT', `${what}: another connection held a lock on a table being restored for ${subsetLockWait}; nothing was restored`, 'find it in pg_stat_activity, end it with pg_terminate_backend, and restore again');
    }
    if (/because other objects depend on it/i.test(err.message)) {
      throw new BerthError('CONFLICT', `${err.message}; nothing was restored`, 'a foreign key of a table outside the subset refers to a table being replaced: add that table to the source\'s `tables`, or restore the whole database');
    }
    throw new BerthError('BACKUP', `${err.message}; nothing was restored (one transaction)`);
  });
  return subsetRestored(db, ctx.source.tables, (only) => pgTableFacts(c, db, what, only));
}
