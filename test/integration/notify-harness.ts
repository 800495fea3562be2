/**
 * Real receivers for the notify tests: an SMTP server (the `smtp-server` package) that requires
 * STARTTLS with a certificate made by `openssl req` and AUTH PLAIN, and an HTTP webhook receiver
 * whose answers the test scripts (200, 500, hang). Both listen on 127.0.0.1 only.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { loadProject } from '../../src/project/load.js';
import type { NotifyConfig } from '../../src/project/notify-schema.js';
import { openStore, type Store } from '../../src/store/db.js';

export const smtpUser = 'alerts';
export const smtpPassword = 's3cret-pass';

export interface ReceivedMail {
  readonly raw: string;
  readonly user: string | undefined;
  readonly secure: boolean;
  readonly header: (name: string) => string | undefined;
}

export interface SmtpSink {
  readonly port: number;
  readonly caFile: string;
  readonly mails: ReceivedMail[];
  /** Number of TCP connections the server accepted. */
  connections: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const made: string[] = [];
process.once('exit', () => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh temp dir, removed when this process exits. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Self-signed certificate for 127.0.0.1/localhost, made by the real openssl. */
export function makeCertificate(dir: string): { key: string; cert: string; certFile: string } {
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: 'pipe' });
  return { key: fs.readFileSync(keyFile, 'utf8'), cert: fs.readFileSync(certFile, 'utf8'), certFile };
}

/** An SMTP sink on a fixed port that can be stopped and started again (an outage and its end). */
export async function createSmtpSink(dir: string): Promise<SmtpSink> {
  const { key, cert, certFile } = makeCertificate(dir);
  const mails: ReceivedMail[] = [];
  let server: SMTPServer | undefined;
  let port = 0;
  const sink: SmtpSink = {
    get port() {
      return port;
    },
    caFile: certFile,
    mails,
    connections: 0,
    async start() {
      const s = new SMTPServer({
        secure: false,
        key,
        cert,
        logger: false,
        disableReverseLookup: true,
        authMethods: ['PLAIN'],
        onConnect: (_session, cb) => {
          sink.connections++;
          cb();
        },
        onAuth: (auth, _session, cb) => {
          if (auth.username === smtpUser && auth.password === smtpPassword) cb(null, { user: smtpUser });
          else cb(new Error('Invalid username or password'));
        },
        onData: (stream, session, cb) => {
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            const raw = Buffer.concat(chunks).toString('utf8');
            mails.push({ raw, user: session.user as string | undefined, secure: session.secure, header: (name) => header(raw, name) });
            cb();
          });
        },
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, '127.0.0.1', () => resolve());
      });
      s.on('error', () => undefined);
      port = (s.server.address() as AddressInfo).port;
      server = s;
    },
    async stop() {
      const s = server;
      server = undefined;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
  await sink.start();
  return sink;
}

function header(raw: string, name: string): string | undefined {
  const head = raw.split(/\r?\n\r?\n/)[0]!.replace(/\r?\n[ \t]+/g, ' ');
  const m = new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(head);
  return m?.[1] === undefined ? undefined : decodeWords(m[1].trim());
}

/** RFC 2047 encoded words (`=?UTF-8?Q?…?=`, `=?UTF-8?B?…?=`), as nodemailer writes non-ASCII or quoted subjects. */
function decodeWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_all, _charset: string, enc: string, text: string) =>
      enc.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString('utf8')
        : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8'),
    );
}

export type Answer = number | 'hang';

export interface WebhookRequest {
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
  readonly answer: Answer;
}

export interface WebhookReceiver {
  readonly url: string;
  readonly requests: WebhookRequest[];
  /** Requests answered 2xx. */
  accepted(): WebhookRequest[];
  /** Answers for the next requests, in order; after them `otherwise`. */
  script(answers: Answer[], otherwise?: Answer): void;
  close(): Promise<void>;
}

export async function createWebhookReceiver(): Promise<WebhookReceiver> {
  const requests: WebhookRequest[] = [];
  let queue: Answer[] = [];
  let otherwise: Answer = 200;
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = queue.shift() ?? otherwise;
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        body = { unparsable: true };
      }
      requests.push({ headers: req.headers, body, answer });
      if (answer === 'hang') {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      res.writeHead(answer, { 'content-type': 'text/plain' }).end(answer < 300 ? 'ok' : 'receiver error');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    accepted: () => requests.filter((r) => typeof r.answer === 'number' && r.answer < 300),
    script(answers, other = 200) {
      queue = [...answers];
      otherwise = other;
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Polls `check` every 25 ms until it holds or `timeoutMs` passes (then fails with `what`). */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function tempStore(): Store & { dir: string } {
  const dir = tempDir('berth-notify-');
  return Object.assign(openStore(dir), { dir });
}

/** The `notify:` config of a real project folder with this berth.yaml, loaded as every command does. */
export async function loadNotifyConfig(berthYaml: string, env: Record<string, string> = {}, into?: string): Promise<NotifyConfig> {
  const dir = into ?? tempDir('berth-notify-project-');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'compose.yaml'), 'services:\n  web:\n    image: berth-test/app:v1\n');
  fs.writeFileSync(path.join(dir, 'berth.yaml'), berthYaml);
  const project = await loadProject(dir, { env });
  if (!project.notify) throw new Error('berth.yaml has no notify section');
  return project.notify;
}

/**
 * berth.yaml `monitor:` for the agent tests: on a known port, alerting as soon as a rule fires
 * (group_wait 0s), grouped by `groupBy`, without the host and container-stats probes. More
 * monitor keys (e.g. `  probes:`) may follow it.
 */
export const fastMonitorYaml = (listen: number, groupBy: 'probe' | 'service'): string =>
  `monitor:\n  listen: "127.0.0.1:${listen}"\n  group_wait: 0s\n  group_by: [${groupBy}]\n  host: false\n  stats: false\n`;

/** berth.yaml `notify:` sending everything to one webhook channel. */
export const webhookNotifyYaml = (url: string, channel = 'chat'): string => `notify:\n  channels:\n    ${channel}:\n      type: webhook\n      url: ${url}\n`;
