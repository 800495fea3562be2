/**
 * Custom query probe: one number from SQL (PostgreSQL via `pg`, MariaDB via `mariadb`) or from an
 * HTTP JSON document (dotted path), compared with the condition, e.g. the numbering-sequence
 * utilisation of seed 002 ("value > 90").
 */
import type { ProbeSpec } from '../../project/monitor-schema.js';
import { conditionHolds } from '../rules/compile.js';
import type { PolledProbe } from '../types.js';

type QuerySpec = Extract<ProbeSpec, { kind: 'query' }>;

export function createQueryProbe(spec: QuerySpec, deps: { clock: () => number }): PolledProbe {
  return {
    id: spec.id,
    kind: 'query',
    intervalMs: spec.intervalMs,
    async run(signal) {
      const at = deps.clock();
      try {
        const value = spec.driver ? await sqlValue(spec, signal) : await jsonValue(spec, signal);
        const bad = conditionHolds(spec.condition, { ok: true, value, summary: '', atMs: at });
        return { ok: !bad, value, summary: `value ${value}${bad ? ` (condition value ${spec.condition.op} ${spec.condition.threshold})` : ''}`, atMs: at };
      } catch (err) {
        return { ok: false, summary: `query: ${spec.driver ? sqlError(spec, err) : (err as Error).message}`, atMs: at };
      }
    },
  };
}

async function sqlValue(spec: QuerySpec, _signal: AbortSignal): Promise<number> {
  let row: unknown;
  if (spec.driver === 'postgres') {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: spec.url, connectionTimeoutMillis: spec.timeoutMs, statement_timeout: spec.timeoutMs });
    await client.connect();
    try {
      row = (await client.query({ text: spec.sql ?? '', rowMode: 'array' })).rows[0];
    } finally {
      await client.end();
    }
  } else {
    const mariadb = await import('mariadb');
    const conn = await mariadb.createConnection({ ...mariaOptions(spec.url), connectTimeout: spec.timeoutMs, queryTimeout: spec.timeoutMs, rowsAsArray: true });
    try {
      row = ((await conn.query(spec.sql ?? '')) as unknown[])[0];
    } finally {
      await conn.end();
    }
  }
  return toNumber(Array.isArray(row) ? row[0] : row, 'the first column of the first row');
}

/**
 * One line naming the database (never the password) and the server's own words: mariadb's
 * message carries "(conn:N, no: N, SQLState: …)" and the whole statement on a second line.
 */
export function sqlError(spec: Pick<QuerySpec, 'driver' | 'url'>, err: unknown): string {
  const e = err as { message?: string; sqlMessage?: string; errno?: number; code?: string };
  const text = (e.sqlMessage ?? e.message ?? String(err)).split('\n')[0]!.replace(/^\(conn:[^)]*\)\s*/, '');
  const code = spec.driver === 'mariadb' ? (e.errno !== undefined ? ` (error ${e.errno})` : '') : e.code && /^[0-9A-Z]{5}$/.test(e.code) ? ` (SQLSTATE ${e.code})` : '';
  return `${spec.driver} ${where(spec.url)}: ${text}${code}`;
}

function where(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname.length > 1 ? u.pathname : ''}`;
  } catch {
    return '(bad URL)';
  }
}

function mariaOptions(url: string) {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password), database: u.pathname.slice(1) || undefined };
}

async function jsonValue(spec: QuerySpec, signal: AbortSignal): Promise<number> {
  const res = await fetch(spec.url, { signal: AbortSignal.any([signal, AbortSignal.timeout(spec.timeoutMs)]) });
  if (!res.ok) throw new Error(`GET ${spec.url} → ${res.status}`);
  return toNumber(pick(await res.json(), spec.jsonPath ?? ''), spec.jsonPath ?? 'the body');
}

/** `a.b.0.c` into parsed JSON. */
export function pick(doc: unknown, path: string): unknown {
  let cur = doc;
  for (const part of path.split('.').filter(Boolean)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function toNumber(v: unknown, what: string): number {
  const n = typeof v === 'bigint' ? Number(v) : typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new Error(`${what} is not a number (${JSON.stringify(v)})`);
  return n;
}
