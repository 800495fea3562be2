/** TCP probe: the port accepts a connection within the timeout. */
import net from 'node:net';
import type { ProbeSpec } from '../../project/monitor-schema.js';
import type { PolledProbe } from '../types.js';
import { elapsedMs, type ResolveTarget } from './target.js';

type TcpSpec = Extract<ProbeSpec, { kind: 'tcp' }>;

export function createTcpProbe(spec: TcpSpec, deps: { resolve: ResolveTarget; clock: () => number }): PolledProbe {
  return {
    id: spec.id,
    kind: 'tcp',
    intervalMs: spec.intervalMs,
    async run(signal) {
      const at = deps.clock();
      const t0 = process.hrtime.bigint();
      try {
        const { host, port } = await deps.resolve(spec.target);
        const socket = await connect(host, port, spec.timeoutMs, signal);
        socket.destroy();
        const ms = elapsedMs(t0);
        return { ok: true, summary: `connected to ${host}:${port} in ${ms} ms`, latencyMs: ms, value: ms, atMs: at };
      } catch (err) {
        return { ok: false, summary: `tcp: ${(err as Error).message}`, latencyMs: elapsedMs(t0), atMs: at };
      }
    },
  };
}

/** Opens a TCP connection; rejects with a readable message on refusal or timeout. */
export function connect(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, signal });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no connection to ${host}:${port} within ${timeoutMs} ms`)));
    socket.once('connect', () => {
      socket.setTimeout(0);
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`${host}:${port}: ${err.code ?? err.message}`)));
  });
}

/** Connects, writes `hello` (if any), and resolves with the first bytes the server sends. */
export function exchange(host: string, port: number, hello: Buffer | undefined, timeoutMs: number, signal?: AbortSignal): Promise<Buffer> {
  return connect(host, port, timeoutMs, signal).then(
    (socket) =>
      new Promise<Buffer>((resolve, reject) => {
        socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms`)));
        socket.once('data', (d: Buffer) => {
          socket.destroy();
          resolve(d);
        });
        socket.once('error', reject);
        socket.once('end', () => reject(new Error(`${host}:${port} closed the connection without answering`)));
        if (hello) socket.write(hello);
      }),
  );
}
