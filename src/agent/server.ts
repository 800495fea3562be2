/** The agent's HTTP endpoint: GET /healthz, GET /metrics (Prometheus), POST /heartbeat (from the peer agent). */
import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { Registry } from 'prom-client';

export interface ServerRoutes {
  readonly health: () => { ok: boolean; details: Record<string, unknown> };
  readonly registry: Registry;
  readonly heartbeat?: (from: string) => void;
  /** When set, POST /heartbeat must carry `authorization: Bearer <token>`. */
  readonly heartbeatToken?: string;
}

export async function startServer(listen: { hostIp: string; hostPort: number }, routes: ServerRoutes): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    void handle(req, res, routes).catch((err) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
    });
  });
  server.keepAliveTimeout = 5_000;
  server.listen(listen.hostPort, listen.hostIp);
  await once(server, 'listening'); // rejects on 'error' (address in use, no permission)
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, routes: ServerRoutes): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && path === '/healthz') {
    const h = routes.health();
    res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify({ status: h.ok ? 'ok' : 'degraded', ...h.details })}\n`);
    return;
  }
  if (req.method === 'GET' && path === '/metrics') {
    const body = await routes.registry.metrics();
    res.writeHead(200, { 'content-type': routes.registry.contentType }).end(body);
    return;
  }
  if (req.method === 'POST' && path === '/heartbeat' && routes.heartbeat) {
    if (routes.heartbeatToken !== undefined && !sameSecret(req.headers.authorization ?? '', `Bearer ${routes.heartbeatToken}`)) {
      req.resume();
      res.writeHead(401, { 'content-type': 'text/plain' }).end('heartbeat needs the shared token (monitor.peer.token_env)\n');
      return;
    }
    const body = await readBody(req, 4096);
    let from = 'unknown';
    try {
      const parsed = JSON.parse(body) as { from?: unknown };
      if (typeof parsed.from === 'string') from = parsed.from.slice(0, 200);
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('body must be JSON {"from": "..."}\n');
      return;
    }
    routes.heartbeat(from);
    res.writeHead(204).end();
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /healthz or /metrics\n');
}

/** The request body as text; the request is destroyed past `limit` characters. */
export function readBody(req: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      body += d;
      if (body.length > limit) req.destroy(new Error('body too large'));
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function sameSecret(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}
