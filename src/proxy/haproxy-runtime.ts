/** Client for HAProxy's runtime API over its unix stats socket (one connection per batch). */
import net from 'node:net';
import { BerthError } from '../lib/errors.js';

const failure = /No such (server|backend)|Unknown command|Require '|invalid|not found|Permission denied|can't|cannot/i;

export interface HaproxyRuntime {
  /** Run commands in one connection, in order; throws when HAProxy refuses any of them. */
  run(commands: readonly string[]): Promise<string>;
  showStat(): Promise<Array<Record<string, string>>>;
  ping(): Promise<boolean>;
}

export function createHaproxyRuntime(socketPath: string, timeoutMs = 5000): HaproxyRuntime {
  const send = (line: string) => sendLine(socketPath, line, timeoutMs);
  return {
    async run(commands) {
      const out = await send(commands.join(';'));
      if (failure.test(out)) {
        throw new BerthError('EDGE', `haproxy refused \`${commands.join('; ')}\`: ${out.trim()}`);
      }
      return out;
    },
    async showStat() {
      return parseCsv(await send('show stat'));
    },
    async ping() {
      try {
        return (await send('show info')).includes('Name:');
      } catch {
        return false;
      }
    },
  };
}

function sendLine(socketPath: string, line: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(socketPath);
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    socket.on('connect', () => socket.end(`${line}\n`));
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', (err) =>
      reject(new BerthError('EDGE', `cannot talk to haproxy at ${socketPath}: ${err.message}`, 'is the edge running? `berth up` starts it', { cause: err })),
    );
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

export function parseCsv(text: string): Array<Record<string, string>> {
  const lines = text.split('\n').filter((l) => l.trim());
  const header = lines.shift()?.replace(/^# /, '').split(',') ?? [];
  return lines.map((l) => {
    const cells = l.split(',');
    return Object.fromEntries(header.map((h, i) => [h, cells[i] ?? '']));
  });
}
