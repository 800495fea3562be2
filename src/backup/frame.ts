/**
 * A dump with small known parts in front of one streamed part (e.g. PostgreSQL globals + pg_dump):
 * restic's `--stdin` stores a single file, and a tar header would need the streamed part's size.
 * Layout: `BERTH-FRAME v1 {"parts":[{"name":..,"bytes":N}]}\n`, each part's bytes, then the stream.
 * By hand: `head -1` shows the sizes; `tail -c +K` cuts the stream out.
 */
import type { Readable, Writable } from 'node:stream';
import { PassThrough } from 'node:stream';
import { BerthError } from '../lib/errors.js';

const magic = 'BERTH-FRAME v1 ';

export function writeFrameHeader(out: Writable, parts: ReadonlyArray<{ name: string; data: Buffer }>): void {
  out.write(`${magic}${JSON.stringify({ parts: parts.map((p) => ({ name: p.name, bytes: p.data.length })) })}\n`);
  for (const p of parts) out.write(p.data);
}

/** Reads the header and parts; `rest` streams everything after them. */
export function readFrame(input: Readable): Promise<{ parts: Map<string, Buffer>; rest: Readable }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const rest = new PassThrough();
    let wanted: Array<{ name: string; bytes: number }> | undefined;
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (!wanted) {
        const nl = buf.indexOf(0x0a);
        if (nl < 0) {
          if (buf.length > 65_536) fail('no BERTH-FRAME header');
          return;
        }
        const line = buf.subarray(0, nl).toString('utf8');
        if (!line.startsWith(magic)) return fail('not a BERTH-FRAME dump');
        wanted = (JSON.parse(line.slice(magic.length)) as { parts: Array<{ name: string; bytes: number }> }).parts;
        buf = buf.subarray(nl + 1);
      }
      const total = wanted.reduce((n, p) => n + p.bytes, 0);
      if (buf.length < total) return;
      const parts = new Map<string, Buffer>();
      let at = 0;
      for (const p of wanted) {
        parts.set(p.name, buf.subarray(at, at + p.bytes));
        at += p.bytes;
      }
      input.off('data', onData);
      input.off('end', onEnd);
      rest.write(buf.subarray(at));
      input.pipe(rest);
      resolve({ parts, rest });
    };
    const onEnd = () => fail('the dump ended inside its header');
    const fail = (why: string) => {
      input.off('data', onData);
      input.destroy();
      reject(new BerthError('BACKUP', `cannot read the dump: ${why}`));
    };
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('error', (e) => reject(e));
    input.resume(); // the caller may have paused it until now
  });
}
