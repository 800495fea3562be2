/**
 * Redis: BGSAVE, wait until LASTSAVE moves (the new RDB is complete), then a tar of the RDB file
 * plus the AOF directory when appendonly is on. The key count recorded is the one just before
 * BGSAVE; with writes in between the drill reports the difference.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { BerthError } from '../../lib/errors.js';
import { label } from '../../engine/labels.js';
import { defaultDatabasePort } from '../../project/backup-schema.js';
import type { Cmd } from '../process.js';
import { extractTar, pipeFrom, pipeInto, query } from './io.js';
import { connectResp, describeAddress, type RespAddress, type RespClient, RespError, type RespValue } from './resp.js';
import type { DrillOutcome, RestoreOptions, SourceContext, SourceDriver } from './types.js';
import { inWhere, resolveWhere, sourcePassword, type ToolConn } from './where.js';
import { counted } from '../../lib/plural.js';

const saveTimeoutMs = 10 * 60_000;

type Conn = ToolConn;

async function connect(ctx: SourceContext): Promise<Conn> {
  const s = ctx.source;
  const where = await resolveWhere(ctx);
  const password = sourcePassword(ctx, ['REDIS_PASSWORD']);
  const args = where.kind === 'host' ? (s.socket ? ['-s', s.socket] : ['-h', s.host, '-p', String(s.port ?? defaultDatabasePort.redis)]) : [];
  return { where, args, env: password ? { REDISCLI_AUTH: password } : {} };
}

const cli = (c: Conn, ...command: string[]): Cmd => inWhere(c.where, ['redis-cli', ...c.args, '--raw', ...command], c.env);

async function redis(c: Conn, what: string, ...command: string[]): Promise<string> {
  const out = (await query(cli(c, ...command), what)).trim();
  if (/^(ERR|NOAUTH|WRONGPASS|LOADING)/.test(out)) throw new BerthError('BACKUP', `${what}: redis answered ${out.split('\n')[0]}`);
  return out;
}

/** Total keys over all databases, from INFO keyspace (`db0:keys=3,expires=0,...`). */
export function keyCount(infoKeyspace: string): number {
  return [...infoKeyspace.matchAll(/^db\d+:keys=(\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

async function configValue(c: Conn, what: string, key: string, fallback: string): Promise<string> {
  const out = await redis(c, what, 'CONFIG', 'GET', key).catch(() => '');
  return out.split('\n')[1]?.trim() || fallback;
}

async function freshSave(c: Conn, what: string): Promise<void> {
  const before = Number(await redis(c, what, 'LASTSAVE'));
  // LASTSAVE has one-second resolution: start the save in a later second than the last one.
  while (Math.floor(Date.now() / 1000) <= before) await sleep(100);
  await redis(c, what, 'BGSAVE', 'SCHEDULE');
  const deadline = Date.now() + saveTimeoutMs;
  while (Number(await redis(c, what, 'LASTSAVE')) <= before) {
    const info = await redis(c, what, 'INFO', 'persistence');
    if (/rdb_last_bgsave_status:err/.test(info) && !/rdb_bgsave_in_progress:1/.test(info)) throw new BerthError('BACKUP', `${what}: BGSAVE failed (see the redis log)`);
    if (Date.now() > deadline) throw new BerthError('BACKUP', `${what}: BGSAVE did not finish within ${saveTimeoutMs / 60_000} minutes`);
    await sleep(200);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const redisSource: SourceDriver = {
  filename: (s) => `redis/${s.name}.tar`,

  async dump(ctx, out: Writable, signal) {
    const c = await connect(ctx);
    const what = `${ctx.source.name}: redis`;
    if (c.where.kind === 'host' && !ctx.source.socket && !['127.0.0.1', 'localhost', '::1'].includes(ctx.source.host)) {
      throw new BerthError('CONFIG', `${what}: a redis source over TCP must be on this host (its RDB file is read from disk)`, 'use `service:` for a redis in a container');
    }
    const keys = keyCount(await redis(c, what, 'INFO', 'keyspace'));
    await freshSave(c, what);
    const dir = await configValue(c, what, 'dir', '/data');
    const rdb = await configValue(c, what, 'dbfilename', 'dump.rdb');
    const aof = (await configValue(c, what, 'appendonly', 'no')) === 'yes';
    const aofDir = aof ? await configValue(c, what, 'appenddirname', 'appendonlydir') : undefined;
    const files = [rdb, ...(aofDir ? [aofDir] : [])];
    await pipeFrom(inWhere(c.where, ['tar', '-c', '-C', dir, ...files]), out, signal, `${what}: read ${files.join(', ')} in ${dir}`);
    return { keys, rdb, aof: aofDir ?? null };
  },

  async drill(ctx, input, facts): Promise<DrillOutcome> {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-drill-'));
    const what = `${ctx.source.name}: restore drill`;
    try {
      await pipeInto({ file: 'tar', args: ['-x', '-C', scratch] }, input, `${what}: extract`);
      const rdb = String(facts?.rdb ?? 'dump.rdb');
      await query({ file: 'redis-check-rdb', args: [path.join(scratch, rdb)] }, `${what}: redis-check-rdb`);
      const keys = await keysInScratchServer(scratch, rdb, what);
      const recorded = typeof facts?.keys === 'number' ? facts.keys : undefined;
      const mismatches = recorded === undefined ? ['no recorded key count'] : keys === recorded ? [] : [`${keys} keys restored, ${recorded} recorded`];
      return { ok: mismatches.length === 0, summary: `RDB valid, ${counted(keys, 'key')}${facts?.aof ? ', AOF present' : ''}`, mismatches };
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  },

  async restore(ctx, input, opts) {
    if (opts.to) {
      await extractTar(input, opts.to, ctx.source.name);
      return `RDB/AOF files extracted into ${opts.to}`;
    }
    const svc = ctx.source.service;
    if (!svc) return restoreOnHost(ctx, input, opts);
    const [ctr] = await ctx.engine.listContainers({ [label.project]: ctx.project.name, [label.service]: svc });
    if (!ctr) throw new BerthError('BACKUP', `${ctx.source.name}: service ${svc} has no container to restore into`, 'run `berth up` first');
    // The caller stopped the service (it is one of the writers); write into its /data through a helper.
    const image = ctx.project.backup?.helperImage ?? 'berth-helper:local';
    const cmd: Cmd = { file: 'docker', args: ['run', '--rm', '-i', '--log-driver', 'none', '--network', 'none', '--volumes-from', ctr.name, '--entrypoint', '/bin/sh', image, '-c', 'cd /data && rm -rf appendonlydir && tar -x'] };
    opts.onBegin?.();
    await pipeInto(cmd, input, `${ctx.source.name}: write /data of ${ctr.name}`);
    return `RDB/AOF restored into ${ctr.name}:/data`;
  },

  writers: (ctx) => (ctx.source.service ? [ctx.source.service] : []),
};

async function keysInScratchServer(dir: string, rdb: string, what: string): Promise<number> {
  const scratch = await startScratchServer(dir, rdb, what);
  try {
    return keyCount(scratch.keyspace);
  } finally {
    scratch.stop();
  }
}

/** A private redis-server on a free loopback port that loads `rdb` from `dir`; resolves once loaded. */
async function startScratchServer(dir: string, rdb: string, what: string): Promise<{ port: number; keyspace: string; stop(): void }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--dbfilename', rdb, '--appendonly', 'no', '--save', ''], { stdio: 'ignore' });
  const stop = () => void child.kill('SIGKILL');
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const info = await query({ file: 'redis-cli', args: ['-p', String(port), 'INFO', 'keyspace'] }, what).catch(() => undefined);
      if (info !== undefined && !/loading:1/.test(info)) return { port, keyspace: info, stop };
      if (child.exitCode !== null) throw new BerthError('BACKUP', `${what}: scratch redis-server exited with ${child.exitCode} (is the RDB readable by this redis version?)`);
      if (Date.now() > deadline) throw new BerthError('BACKUP', `${what}: scratch redis-server did not answer within 60 s`);
      await sleep(100);
    }
  } catch (err) {
    stop();
    throw err;
  }
}

/** Keys per database index, from INFO keyspace. */
export function keysPerDb(infoKeyspace: string): Map<number, number> {
  return new Map([...infoKeyspace.matchAll(/^db(\d+):keys=(\d+)/gm)].map((m) => [Number(m[1]), Number(m[2])]));
}

const text = (v: RespValue) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v));
const copyBatch = 500;

/**
 * A redis on the host (no container to swap /data in), over TCP or its Unix socket: the RDB from
 * the snapshot is loaded into a scratch redis-server, the target is emptied (FLUSHALL: the RDB is
 * the whole server), and every key is copied over with DUMP and RESTORE … REPLACE (values and
 * TTLs; pipelined a batch at a time). The key count per database must then be the same on both,
 * else the restore fails.
 */
async function restoreOnHost(ctx: SourceContext, input: Readable, opts: RestoreOptions): Promise<string> {
  const s = ctx.source;
  const target: RespAddress = s.socket ? { path: s.socket } : { host: s.host, port: s.port ?? defaultDatabasePort.redis };
  const what = `${s.name}: restore into redis ${describeAddress(target)}`;
  const password = sourcePassword(ctx, ['REDIS_PASSWORD']);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-redis-restore-'));
  let scratch: Awaited<ReturnType<typeof startScratchServer>> | undefined;
  const clients: RespClient[] = [];
  try {
    await pipeInto({ file: 'tar', args: ['-x', '-C', dir] }, input, `${what}: extract`);
    // The tar holds the RDB file and, with appendonly, the AOF directory.
    const files = fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
    const rdb = files.find((f) => f.endsWith('.rdb')) ?? files[0];
    if (!rdb) throw new BerthError('BACKUP', `${what}: the snapshot holds no RDB file (${fs.readdirSync(dir).join(', ') || 'empty'})`);
    scratch = await startScratchServer(dir, rdb, what);
    const wanted = keysPerDb(scratch.keyspace);
    const from = await connectResp({ host: '127.0.0.1', port: scratch.port }, `${what} (scratch server)`);
    clients.push(from);
    const to = await connectResp({ ...target, ...(password && { password }), ...(s.user && { user: s.user }) }, what);
    clients.push(to);
    ctx.report.info(`${s.name}: FLUSHALL on ${describeAddress(target)}, then copying ${[...wanted.values()].reduce((a, b) => a + b, 0)} keys from the snapshot`);
    opts.onBegin?.();
    await to.command('FLUSHALL');
    for (const [db, expected] of wanted) {
      await Promise.all([from.command('SELECT', db), to.command('SELECT', db)]);
      let cursor = '0';
      let copied = 0;
      do {
        const [next, keys] = (await from.command('SCAN', cursor, 'COUNT', copyBatch)) as [Buffer, Buffer[]];
        cursor = text(next);
        const dumped = await Promise.all(keys.map((k) => Promise.all([from.command('DUMP', k), from.command('PTTL', k)])));
        // PTTL -1: no expiry (RESTORE takes 0); -2 or no payload: the key expired meanwhile.
        const live = keys.map((k, i) => [k, ...dumped[i]!] as const).filter(([, payload, ttl]) => payload !== null && ttl !== -2);
        await Promise.all(live.map(([k, payload, ttl]) => to.command('RESTORE', k, Math.max(Number(ttl), 0), payload as Buffer, 'REPLACE')));
        copied += live.length;
      } while (cursor !== '0');
      ctx.report.info(`${s.name}: db${db}: ${copied} of ${expected} keys copied`);
    }
    const got = keysPerDb(text(await to.command('INFO', 'keyspace')));
    const differs = [...new Set([...wanted.keys(), ...got.keys()])].filter((db) => (wanted.get(db) ?? 0) !== (got.get(db) ?? 0));
    if (differs.length) {
      throw new BerthError('BACKUP', `${what}: key counts differ after the copy: ${differs.map((db) => `db${db} ${got.get(db) ?? 0} of ${wanted.get(db) ?? 0}`).join(', ')}`, 'something wrote to the target meanwhile (stop its writers: `writers:` on the source), or keys expired during the copy; restore again');
    }
    const total = [...got.values()].reduce((a, b) => a + b, 0);
    return `${total} keys in ${got.size} database(s) copied into ${describeAddress(target)} (flushed first; key counts equal)`;
  } catch (err) {
    if (err instanceof RespError) throw new BerthError('BACKUP', `${what}: redis answered ${err.message}`, /NOAUTH|WRONGPASS|invalid password/i.test(err.message) ? 'set password_env or password_file on the source' : undefined);
    throw err;
  } finally {
    for (const c of clients) c.close();
    scratch?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
