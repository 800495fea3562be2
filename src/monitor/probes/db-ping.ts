/**
 * Database pings over the wire protocol, without credentials: the server's first answer tells
 * whether it accepts work. MariaDB/MySQL sends a greeting (or an error packet such as "Too many
 * connections"); PostgreSQL answers a startup message with an auth request, or with an error
 * whose SQLSTATE says "starting up"/"too many clients"; Redis answers PING (or NOAUTH).
 */
import type { ProbeSpec } from '../../project/monitor-schema.js';
import type { PolledProbe } from '../types.js';
import { elapsedMs, type ResolveTarget } from './target.js';
import { exchange } from './tcp.js';

type DbSpec = Extract<ProbeSpec, { kind: 'mariadb' | 'postgres' | 'redis' }>;
type Verdict = { ok: boolean; summary: string };

export function createDbPingProbe(spec: DbSpec, deps: { resolve: ResolveTarget; clock: () => number }): PolledProbe {
  const { hello, judge } = protocols[spec.kind];
  return {
    id: spec.id,
    kind: spec.kind,
    intervalMs: spec.intervalMs,
    async run(signal) {
      const at = deps.clock();
      const t0 = process.hrtime.bigint();
      try {
        const { host, port } = await deps.resolve(spec.target);
        const answer = await exchange(host, port, hello, spec.timeoutMs, signal);
        const ms = elapsedMs(t0);
        const v = judge(answer);
        return { ok: v.ok, summary: `${spec.kind} ${host}:${port}: ${v.summary} (${ms} ms)`, latencyMs: ms, value: ms, atMs: at };
      } catch (err) {
        return { ok: false, summary: `${spec.kind}: ${(err as Error).message}`, latencyMs: elapsedMs(t0), atMs: at };
      }
    },
  };
}

export const protocols: Record<DbSpec['kind'], { hello?: Buffer; judge: (b: Buffer) => Verdict }> = {
  mariadb: { judge: judgeMariadb },
  postgres: { hello: postgresStartup('berth-probe', 'postgres'), judge: judgePostgres },
  redis: { hello: Buffer.from('PING\r\n'), judge: judgeRedis },
};

export function judgeMariadb(b: Buffer): Verdict {
  const payload = b.subarray(4);
  if (payload[0] === 0x0a) {
    const end = payload.indexOf(0, 1);
    return { ok: true, summary: `server ${payload.subarray(1, end > 0 ? end : undefined).toString('latin1')} greets` };
  }
  if (payload[0] === 0xff) return { ok: false, summary: `error ${payload.readUInt16LE(1)}: ${payload.subarray(3).toString('utf8').replace(/^#\w{5}/, '')}` };
  return { ok: false, summary: 'not a MariaDB/MySQL greeting' };
}

export function postgresStartup(user: string, database: string): Buffer {
  const params = Buffer.from(`user\0${user}\0database\0${database}\0application_name\0berth-agent\0\0`);
  const b = Buffer.alloc(8 + params.length);
  b.writeInt32BE(b.length, 0);
  b.writeInt32BE(196608, 4); // protocol 3.0
  params.copy(b, 8);
  return b;
}

export function judgePostgres(b: Buffer): Verdict {
  const type = String.fromCharCode(b[0] ?? 0);
  if (type === 'R') return { ok: true, summary: 'server asks for authentication' };
  if (type !== 'E') return { ok: false, summary: 'not a PostgreSQL answer' };
  const fields: Record<string, string> = {};
  for (const f of b.subarray(5).toString('utf8').split('\0')) if (f.length > 1) fields[f[0]!] = f.slice(1);
  const code = fields.C ?? '';
  // Authentication/role errors mean the server works and checked our (absent) credentials.
  if (code.startsWith('28') || code === '3D000') return { ok: true, summary: `server answers (${code} ${fields.M ?? ''})`.trim() };
  return { ok: false, summary: `error ${code}: ${fields.M ?? 'unknown'}` };
}

export function judgeRedis(b: Buffer): Verdict {
  const line = b.toString('utf8').split('\r\n')[0] ?? '';
  if (line === '+PONG') return { ok: true, summary: 'PONG' };
  if (line.startsWith('-NOAUTH') || line.startsWith('-WRONGPASS')) return { ok: true, summary: 'answers (authentication required)' };
  return { ok: false, summary: line || 'no answer' };
}
