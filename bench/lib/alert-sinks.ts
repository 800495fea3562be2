/**
 * Receivers for the alert benchmark, shared by berth's side and the Prometheus reference: an
 * HTTP webhook receiver and a plain SMTP sink (the `smtp-server` package, no TLS, no AUTH), each
 * stamping every arrival with Date.now() so failure → notification latency can be measured.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface Arrival<T> {
  readonly t: number;
  readonly value: T;
}

export interface Sink<T> {
  readonly arrivals: Arrival<T>[];
  /** Resolves with the first arrival at or after `since` that satisfies `match`. */
  next(since: number, match: (value: T) => boolean, timeoutMs: number): Promise<Arrival<T>>;
  close(): Promise<void>;
}

export interface WebhookSink extends Sink<Record<string, unknown>> {
  readonly url: string;
}

export interface SmtpSink extends Sink<{ raw: string; subject: string }> {
  readonly host: string;
  readonly port: number;
}

function sinkBase<T>(): Omit<Sink<T>, 'close'> & { push(value: T): void } {
  const arrivals: Arrival<T>[] = [];
  const waiters = new Set<() => void>();
  return {
    arrivals,
    push(value) {
      arrivals.push({ t: Date.now(), value });
      for (const w of waiters) w();
    },
    next(since, match, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const hit = arrivals.find((a) => a.t >= since && match(a.value));
          if (!hit) return false;
          cleanup();
          resolve(hit);
          return true;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no matching notification within ${timeoutMs} ms`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        if (!check()) waiters.add(check);
      });
    },
  };
}

export async function startWebhookSink(): Promise<WebhookSink> {
  const base = sinkBase<Record<string, unknown>>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        base.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
      } catch {
        base.push({ unparsable: true });
      }
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    ...base,
    url: `http://127.0.0.1:${port}/hook`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const base = sinkBase<{ raw: string; subject: string }>();
  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    disableReverseLookup: true, // a PTR lookup of 127.0.0.1 adds ~100 ms that is the sink's, not the sender's
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const head = raw.split(/\r?\n\r?\n/)[0]!.replace(/\r?\n[ \t]+/g, ' ');
        base.push({ raw, subject: /^Subject:\s*(.*)$/im.exec(head)?.[1]?.trim() ?? '' });
        cb();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return { ...base, host: '127.0.0.1', port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
