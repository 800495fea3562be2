/**
 * The agent's control socket, `<state dir>/agent.sock`: a Unix socket only the agent's own user
 * can open (mode 0600), so commands never reach a TCP listener (`monitor.listen` serves health
 * and metrics only). `POST /backup/run` runs a backup inside the agent: the process that runs the
 * nightly job, already started and warm, with the agent's environment, and unaffected by the
 * caller's terminal going away. The answer is NDJSON: progress events, then the outcome or the
 * error (see control-protocol.ts).
 */
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import { z } from 'zod';
import { BerthError } from '../lib/errors.js';
import type { Reporter } from '../lib/reporter.js';
import { safeJson, type ControlLine } from './control-protocol.js';
import type { Log } from './log.js';
import { readBody } from './server.js';

/** Sun path limit on Linux (108 bytes with the terminating NUL). */
const maxSocketPath = 107;

export interface ControlRoutes {
  /** One backup run with these sources (all when undefined); resolves with the run's outcome. */
  backupRun(sources: readonly string[] | undefined, report: Reporter): Promise<unknown>;
}

const backupRunBody = z.object({ sources: z.array(z.string().min(1).max(200)).max(100).optional() }).strict();

export interface RunningControl {
  readonly socketPath: string;
  close(): Promise<void>;
}

/**
 * Listens on `socketPath`; undefined (with a log line) when the path is too long for a Unix socket.
 * The caller holds the project's agent lock, so a socket file already there is a dead agent's.
 */
export async function startControl(socketPath: string, routes: ControlRoutes, log: Log): Promise<RunningControl | undefined> {
  if (Buffer.byteLength(socketPath) > maxSocketPath) {
    log('control socket unavailable', { level: 'warn', socketPath, reason: `longer than ${maxSocketPath} bytes; use a shorter state_dir to get \`backup run --agent\`` });
    return undefined;
  }
  fs.rmSync(socketPath, { force: true });
  let busy = false;
  const server = http.createServer((req, res) => {
    void handle(req, res).catch((err: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`${err.message}\n`);
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'POST' || path !== '/backup/run') {
      req.resume();
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; the control socket answers POST /backup/run\n');
      return;
    }
    const parsed = backupRunBody.safeParse(bodyJson(await readBody(req, 64 * 1024)));
    if (!parsed.success) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`body must be JSON {"sources"?: ["name", …]}: ${parsed.error.issues[0]?.message ?? 'invalid'}\n`);
      return;
    }
    if (busy) {
      res.writeHead(409, { 'content-type': 'application/x-ndjson' });
      res.end(line({ type: 'error', error: { code: 'LOCK_HELD', message: 'the agent is already running a backup for a `backup run --agent`', hint: 'wait for it to finish (`berth backup list`), then run again' } }));
      return;
    }
    busy = true;
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const send = (l: ControlLine) => {
      if (!res.destroyed) res.write(line(l));
    };
    const report: Reporter = {
      step: (message) => send({ type: 'step', message }),
      done: (message) => send({ type: 'done', message }),
      warn: (message) => send({ type: 'warn', message }),
      info: (message) => send({ type: 'info', message }),
    };
    log('control: backup run', { sources: parsed.data.sources ?? 'all' });
    try {
      send({ type: 'outcome', outcome: await routes.backupRun(parsed.data.sources, report) });
    } catch (err) {
      const e = err instanceof BerthError ? err : undefined;
      send({ type: 'error', error: { code: e?.code ?? 'INTERNAL', message: (err as Error).message, ...(e?.hint && { hint: e.hint }) } });
    } finally {
      busy = false;
      res.end();
    }
  }

  server.listen(socketPath);
  await once(server, 'listening'); // rejects on 'error' (address in use, no permission)
  fs.chmodSync(socketPath, 0o600);
  return {
    socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        fs.rmSync(socketPath, { force: true });
      }),
  };
}

const line = (l: ControlLine) => `${JSON.stringify(l)}\n`;
/** An empty body means no options. */
const bodyJson = (body: string) => (body.trim() ? safeJson(body) : {});
