/**
 * One `GET` over a fresh TCP connection (`Connection: close`), for the HTTP probe. A probe needs
 * the status and at most 64 KB of body; node:http's request/response machinery cost more CPU than
 * everything else the agent does (1.3 % of a core at 10 probes/s against 0.8 % for this), so plain
 * http:// probes use this and https:// ones node:https (see http.ts).
 */
import net from 'node:net';

export interface GetResult {
  readonly status: number;
  readonly body: string;
}

const maxBody = 64 * 1024;
/** Reads land here and are copied out at once, so one buffer serves every connection. */
const readBuffer = Buffer.allocUnsafe(16 * 1024);

export function rawGet(url: URL, hostHeader: string | undefined, timeoutMs: number, signal: AbortSignal): Promise<GetResult> {
  return new Promise((resolve, reject) => {
    const port = Number(url.port || 80);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    // `onread` hands each read to us in one reused buffer, past the stream machinery ('data' events):
    // a fifth less CPU for 50 probes every 5 s.
    const socket = net.connect({ host, port, onread: { buffer: readBuffer, callback: (n, buf) => (onData(Buffer.from(buf.subarray(0, n))), true) } });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err?: Error, result?: GetResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve(result!);
    };
    const onAbort = () => finish(new Error('aborted'));
    const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('connect', () => {
      const target = `${url.pathname || '/'}${url.search}`;
      socket.write(`GET ${target} HTTP/1.1\r\nHost: ${hostHeader ?? url.host}\r\nUser-Agent: berth-agent\r\nAccept: */*\r\nConnection: close\r\n\r\n`);
    });
    const onData = (d: Buffer) => {
      chunks.push(d);
      size += d.length;
      const parsed = parseResponse(Buffer.concat(chunks), false);
      if (parsed || size > maxBody + 16 * 1024) finish(undefined, parsed ?? parseResponse(Buffer.concat(chunks), true) ?? { status: 0, body: '' });
    };
    socket.on('end', () => {
      const parsed = parseResponse(Buffer.concat(chunks), true);
      if (parsed) finish(undefined, parsed);
      else finish(new Error(size === 0 ? 'connection closed without an answer' : 'malformed HTTP response'));
    });
    socket.on('error', (err: NodeJS.ErrnoException) => finish(new Error(err.code === 'ECONNREFUSED' ? `connect ECONNREFUSED ${host}:${port}` : err.message)));
  });
}

/**
 * The response in `buf`, once it is complete (`atEof`: the server closed the connection, so a
 * body without length ends here, and a truncated one is returned as far as it goes).
 */
export function parseResponse(buf: Buffer, atEof: boolean): GetResult | undefined {
  let start = 0;
  for (;;) {
    const headEnd = buf.indexOf('\r\n\r\n', start);
    if (headEnd < 0) return undefined;
    const head = buf.subarray(start, headEnd).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
    if (!m) return undefined;
    const status = Number(m[1]);
    if (status >= 100 && status < 200) {
      start = headEnd + 4; // interim response (103 Early Hints…): the real one follows
      continue;
    }
    const headers = new Map(head.slice(1).map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    const rest = buf.subarray(headEnd + 4);
    if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) {
      const body = dechunk(rest);
      if (body) return { status, body: body.subarray(0, maxBody).toString('utf8') };
      return atEof || rest.length > maxBody ? { status, body: rest.subarray(0, maxBody).toString('utf8') } : undefined;
    }
    const length = headers.has('content-length') ? Number(headers.get('content-length')) : undefined;
    if (length !== undefined && rest.length >= Math.min(length, maxBody)) return { status, body: rest.subarray(0, Math.min(length, maxBody)).toString('utf8') };
    if (status === 204 || status === 304) return { status, body: '' };
    return atEof ? { status, body: rest.subarray(0, maxBody).toString('utf8') } : undefined;
  }
}

/** The decoded body once the last (zero-size) chunk has arrived, else undefined. */
function dechunk(buf: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', pos);
    if (eol < 0) return undefined;
    const size = parseInt(buf.subarray(pos, eol).toString('latin1').split(';')[0]!, 16);
    if (Number.isNaN(size)) return undefined;
    if (size === 0) return Buffer.concat(parts);
    if (buf.length < eol + 2 + size + 2) return undefined;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    pos = eol + 2 + size + 2;
  }
}
