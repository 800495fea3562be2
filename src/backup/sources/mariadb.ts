/**
 * MariaDB / MySQL: a logical dump of one database (`--single-transaction --routines --triggers
 * --events`), with per-table row counts and `CHECKSUM TABLE` values recorded just before the dump.
 * Under concurrent writes those may differ from the dumped state; the drill then reports it.
 *
 * With `tables:` only those tables (and their triggers) are dumped, as the spec's numbering
 * backup does; routines and events belong to the database and are left out. Such a snapshot is
 * stored as `mariadb/tables/<db>.sql` (not `mariadb/<db>.sql`), and restoring it replaces those
 * tables only: the database is not dropped, whatever berth.yaml says by then.
 */
import type { Readable, Writable } from 'node:stream';
import { BerthError } from '../../lib/errors.js';
import { defaultDatabasePort } from '../../project/backup-schema.js';
import type { Cmd } from '../process.js';
import { pipeFrom, pipeInto, query } from './io.js';
import type { DrillOutcome, Facts, RestoreOptions, SourceContext, SourceDriver } from './types.js';
import { inWhere, resolveWhere, scratchName, sourcePassword, type ToolConn } from './where.js';
import { counted } from '../../lib/plural.js';
import { holdsSubset, missingTables, subsetFilename, subsetRestored } from './table-subset.js';

export interface TableFact {
  readonly name: string;
  readonly rows: number;
  readonly checksum: string;
}

interface Conn extends ToolConn {
  readonly client: string;
  readonly dumper: string;
}

async function connect(ctx: SourceContext): Promise<Conn> {
  const s = ctx.source;
  const where = await resolveWhere(ctx);
  const password = sourcePassword(ctx, ['MARIADB_ROOT_PASSWORD', 'MYSQL_ROOT_PASSWORD']);
  const mysql = s.type === 'mysql';
  const args = [
    ...(where.kind === 'host' ? (s.socket ? ['--socket', s.socket, '--protocol=SOCKET'] : ['-h', s.host, '-P', String(s.port ?? defaultDatabasePort.mariadb), '--protocol=TCP']) : []),
    '-u',
    s.user ?? 'root',
  ];
  return { where, client: mysql ? 'mysql' : 'mariadb', dumper: mysql ? 'mysqldump' : 'mariadb-dump', args, env: password ? { MYSQL_PWD: password } : {} };
}

const sql = (c: Conn, db: string | undefined, statement: string): Cmd =>
  inWhere(c.where, [c.client, ...c.args, '-N', '-B', ...(db ? [db] : []), '-e', statement], c.env);

const ident = (name: string) => `\`${name.replaceAll('`', '``')}\``;
/** A string literal; a backslash escapes in MariaDB's default sql_mode. */
const literal = (value: string) => `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;

/** Tables with row count and CHECKSUM TABLE value, sorted by name; only those of `only` when given, each of which must be there. */
export async function tableFacts(c: Conn, db: string, what: string, only?: readonly string[]): Promise<TableFact[]> {
  const among = only ? ` AND table_name IN (${only.map(literal).join(', ')})` : '';
  const list = await query(sql(c, db, `SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'${among} ORDER BY table_name`), `${what}: list tables`);
  const tables = list.split('\n').filter(Boolean);
  if (only) missingTables(only, tables, db, what);
  if (tables.length === 0) return [];
  const counts = await query(sql(c, db, tables.map((t) => `SELECT ${literal(t)}, COUNT(*) FROM ${ident(t)}`).join(' UNION ALL ')), `${what}: count rows`);
  const sums = await query(sql(c, db, `CHECKSUM TABLE ${tables.map(ident).join(', ')}`), `${what}: checksum tables`);
  const rows = new Map(counts.split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]));
  const checksums = new Map(sums.split('\n').filter(Boolean).map((l) => {
    const [qualified, sum] = l.split('\t') as [string, string];
    return [qualified.slice(qualified.indexOf('.') + 1), sum];
  }));
  return tables.map((name) => ({ name, rows: Number(rows.get(name) ?? NaN), checksum: checksums.get(name) ?? '' }));
}

export function compareTables(recorded: readonly TableFact[], restored: readonly TableFact[]): string[] {
  const out: string[] = [];
  const got = new Map(restored.map((t) => [t.name, t]));
  for (const t of recorded) {
    const r = got.get(t.name);
    if (!r) out.push(`table ${t.name} missing`);
    else if (r.rows !== t.rows) out.push(`table ${t.name}: ${r.rows} rows, ${t.rows} recorded`);
    else if (t.checksum && r.checksum !== t.checksum) out.push(`table ${t.name}: checksum ${r.checksum}, ${t.checksum} recorded`);
  }
  for (const r of restored) if (!recorded.some((t) => t.name === r.name)) out.push(`table ${r.name} not in the recorded facts`);
  return out;
}

export const mariadbSource: SourceDriver = {
  filename: (s) => (s.tables ? subsetFilename(s.type, s.database!, 'sql') : `${s.type}/${s.database}.sql`),

  async dump(ctx, out: Writable, signal) {
    const db = ctx.source.database!;
    const only = ctx.source.tables;
    const c = await connect(ctx);
    const what = `${ctx.source.name}: ${c.dumper} ${db}`;
    const tables = await tableFacts(c, db, what, only);
    const whole = ['--routines', '--events', db];
    const argv = [c.dumper, ...c.args, '--single-transaction', '--triggers', '--hex-blob', '--default-character-set=utf8mb4', ...(only ? [db, '--tables', ...only] : whole)];
    await pipeFrom(inWhere(c.where, argv, c.env), out, signal, what);
    return { database: db, tables, ...(only && { only }) };
  },

  async drill(ctx, input: Readable, facts): Promise<DrillOutcome> {
    const c = await connect(ctx);
    const scratch = scratchName('berth_drill');
    const what = `${ctx.source.name}: restore drill into ${scratch}`;
    await query(sql(c, undefined, `CREATE DATABASE ${ident(scratch)}`), what);
    try {
      await pipeInto(inWhere(c.where, [c.client, ...c.args, scratch], c.env), input, what);
      const restored = await tableFacts(c, scratch, what);
      const recorded = (facts?.tables ?? []) as TableFact[];
      const mismatches = compareTables(recorded, restored);
      const rows = restored.reduce((n, t) => n + t.rows, 0);
      return { ok: mismatches.length === 0 && facts !== undefined, summary: `${counted(restored.length, 'table')}, ${counted(rows, 'row')}, checksums ${mismatches.length ? 'differ' : 'equal'}${facts ? '' : ' (no recorded facts to compare)'}`, mismatches };
    } finally {
      await query(sql(c, undefined, `DROP DATABASE IF EXISTS ${ident(scratch)}`), `${what}: drop`).catch(() => undefined);
    }
  },

  async restore(ctx, input, opts) {
    const c = await connect(ctx);
    const db = opts.to ?? ctx.source.database!;
    const what = `${ctx.source.name}: restore into database ${db}`;
    if (opts.to && (await query(sql(c, undefined, `SHOW DATABASES LIKE ${literal(db)}`), what)).trim()) {
      throw new BerthError('CONFLICT', `${what}: database ${db} already exists`, '--to restores into a new database; choose another name, or restore over the source database without --to');
    }
    if (holdsSubset(opts)) return restoreSubset(ctx, c, db, input, opts, what);
    if (!opts.to) await endOtherSessions(ctx, c, db, what);
    // Dropped and recreated so tables created after the dump do not survive the restore. A lock
    // held by a client berth did not end would make DROP wait lock_wait_timeout (a day by default).
    opts.onBegin?.();
    const drop = sql(c, undefined, `SET SESSION lock_wait_timeout = ${dropLockWaitS}; DROP DATABASE IF EXISTS ${ident(db)}; CREATE DATABASE ${ident(db)}`);
    await query(drop, what).catch((err: Error) => {
      if (!/lock wait timeout/i.test(err.message)) throw err;
      throw new BerthError('CONFLICT', `${what}: another connection held a lock on ${db} for ${dropLockWaitS} s; nothing was restored`, 'find it with SHOW PROCESSLIST (a client of this database from elsewhere), end it with KILL, and restore again');
    });
    await pipeInto(inWhere(c.where, [c.client, ...c.args, db], c.env), input, what);
    const tables = await tableFacts(c, db, what);
    return `database ${db}: ${counted(tables.length, 'table')}, ${counted(tables.reduce((n, t) => n + t.rows, 0), 'row')}`;
  },

  writers: (ctx) => dependents(ctx),
};

const dropLockWaitS = 120;

/**
 * A table subset is loaded into the database as it is: the dump drops and recreates each of its
 * tables, and the database's other tables, routines and events stay. Other clients keep their
 * connections (they may use those other tables); one holding a lock on a table being replaced
 * fails the restore after `dropLockWaitS` instead of making it wait a day.
 */
async function restoreSubset(ctx: SourceContext, c: Conn, db: string, input: Readable, opts: RestoreOptions, what: string): Promise<string> {
  await query(sql(c, undefined, `CREATE DATABASE IF NOT EXISTS ${ident(db)}`), what);
  opts.onBegin?.();
  await pipeInto(inWhere(c.where, [c.client, ...c.args, `--init-command=SET SESSION lock_wait_timeout = ${dropLockWaitS}`, db], c.env), input, what).catch((err: Error) => {
    if (!/lock wait timeout/i.test(err.message)) throw err;
    throw new BerthError('CONFLICT', `${what}: another connection held a lock on a table being restored for ${dropLockWaitS} s`, 'find it with SHOW PROCESSLIST, end it with KILL, and restore again');
  });
  return subsetRestored(db, ctx.source.tables, (only) => tableFacts(c, db, what, only));
}

/**
 * Other connections using the database (clients berth does not manage: the services writing to
 * it are stopped already) are ended, as the PostgreSQL restore does; one in the middle of a
 * transaction would otherwise hold DROP DATABASE on its metadata lock.
 */
async function endOtherSessions(ctx: SourceContext, c: Conn, db: string, what: string): Promise<void> {
  const rows = await query(sql(c, undefined, `SELECT ID, USER, COMMAND, TIME FROM information_schema.PROCESSLIST WHERE DB = ${literal(db)} AND ID <> CONNECTION_ID()`), `${what}: list its connections`);
  const sessions = rows.split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string, string, string]);
  if (sessions.length === 0) return;
  ctx.report.info(`${ctx.source.name}: ending ${sessions.length} other connection(s) to ${db}: ${sessions.map(([id, user, cmd, time]) => `#${id} ${user} (${cmd}, ${time} s)`).join(', ')}`);
  // One by one: a connection that ended meanwhile is no reason to stop.
  for (const [id] of sessions) await query(sql(c, undefined, `KILL CONNECTION ${Number(id)}`), `${what}: end connection ${id}`).catch(() => undefined);
}

/** Services whose compose `depends_on` names the source's service. */
export function dependents(ctx: SourceContext): string[] {
  const svc = ctx.source.service;
  if (!svc) return [];
  return Object.values(ctx.project.services)
    .filter((s) => svc in s.dependsOn)
    .map((s) => s.name);
}

