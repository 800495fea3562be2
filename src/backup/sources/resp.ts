/**
 * A minimal Redis client (RESP2 over TCP), enough to copy keys between two servers: one command
 * at a time, binary-safe keys, errors as rejections. Passwords travel inside the connection,
 * never on a command line.
 */
import net from 'node:net';
import { BerthError } from '../../lib/errors.js';

export type RespValue = string | number | Buffer | null | RespValue[];

export class RespError extends Error {}

export interface RespClient {
  /** Sends one command; bulk replies come back as Buffers, simple strings as strings. */
  command(...args: ReadonlyArray<string | number | Buffer>): Promise<RespValue>;
  close(): void;
}

/** Where a redis listens: TCP host and port, or a Unix socket path. */
export type RespAddress = { readonly host: string; readonly port: number } | { readonly path: string };

export const describeAddress = (a: RespAddress) => ('path' in a ? a.path : `${a.host}:${a.port}`);

export async function connectResp(opts: RespAddress & { password?: string; user?: string; timeoutMs?: number }, what: string): Promise<RespClient> {
  const where = describeAddress(opts);
  const socket = 'path' in opts ? net.connect(opts.path) : net.connect(opts.port, opts.host);
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new BerthError('BACKUP', `${what}: no connection to redis at ${where} within ${(opts.timeoutMs ?? 10_000) / 1000} s`));
    }, opts.timeoutMs ?? 10_000);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new BerthError('BACKUP', `${what}: cannot connect to redis at ${where}: ${err.message}`));
    });
  });
  let buffer: Buffer = Buffer.alloc(0);
  const waiting: Array<{ resolve: (v: RespValue) => void; reject: (e: Error) => void }> = [];
  let broken: Error | undefined;
  const failAll = (err: Error) => {
    broken ??= err;
    for (const w of waiting.splice(0)) w.reject(err);
  };
  socket.on('error', (err) => failAll(new BerthError('BACKUP', `${what}: redis connection failed: ${err.message}`)));
  socket.on('close', () => failAll(new BerthError('BACKUP', `${what}: redis closed the connection`)));
  socket.on('data', (chunk: Buffer) => {
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
    for (;;) {
      const parsed = parse(buffer, 0);
      if (!parsed) break;
      buffer = buffer.subarray(parsed.end);
      const w = waiting.shift();
      if (!w) continue;
      if (parsed.value instanceof RespError) w.reject(parsed.value);
      else w.resolve(parsed.value);
    }
  });
  const client: RespClient = {
    command(...args) {
      if (broken) return Promise.reject(broken);
      const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
      for (const a of args) {
        const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
        parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
      }
      return new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        socket.write(Buffer.concat(parts));
      });
    },
    close: () => socket.destroy(),
  };
  if (opts.password) {
    try {
      await client.command('AUTH', ...(opts.user ? [opts.user] : []), opts.password);
    } catch (err) {
      client.close();
      throw new BerthError('BACKUP', `${what}: redis refused the password: ${(err as Error).message}`);
    }
  }
  return client;
}

type Parsed = { value: RespValue | RespError; end: number } | undefined;

/** One RESP2 value starting at `at`, or undefined when the buffer does not hold it whole yet. */
export function parse(buf: Buffer, at: number): Parsed {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return undefined;
  const line = buf.toString('utf8', at + 1, eol);
  const next = eol + 2;
  switch (String.fromCharCode(buf[at]!)) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new RespError(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      if (buf.length < next + n + 2) return undefined;
      return { value: Buffer.from(buf.subarray(next, next + n)), end: next + n + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      const items: RespValue[] = [];
      let error: RespError | undefined;
      let pos = next;
      for (let i = 0; i < n; i++) {
        const item = parse(buf, pos);
        if (!item) return undefined;
        if (item.value instanceof RespError) error ??= item.value;
        else items.push(item.value);
        pos = item.end;
      }
      return { value: error ?? items, end: pos };
    }
    default:
      throw new BerthError('BACKUP', `unexpected reply from redis: ${JSON.stringify(buf.toString('utf8', at, Math.min(buf.length, at + 40)))}`);
  }
}
