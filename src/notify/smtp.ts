/**
 * SMTP channel (nodemailer): STARTTLS or implicit TLS, optional AUTH, short connection, greeting
 * and socket timeouts so a dead relay fails fast and the outbox retries. One connection per
 * message: alerts are rare, and a pooled connection would only go stale between them.
 */
import { readFileSync } from 'node:fs';
import nodemailer from 'nodemailer';
import type { SmtpChannelConfig } from '../project/notify-schema.js';
import type { Channel } from './channel.js';
import { renderEmail } from './render.js';

export function createSmtpChannel(config: SmtpChannelConfig): Channel {
  const ca = config.caFile ? readFileSync(config.caFile, 'utf8') : undefined;
  const transport = nodemailer.createTransport({
    host: config.host,
    port: config.port,
    secure: config.tls === 'secure',
    requireTLS: config.tls === 'starttls',
    ignoreTLS: config.tls === 'none',
    ...(config.user !== undefined ? { auth: { user: config.user, pass: config.password?.reveal() ?? '' } } : {}),
    ...(ca ? { tls: { ca } } : {}),
    connectionTimeout: config.timeoutMs,
    greetingTimeout: config.timeoutMs,
    socketTimeout: config.timeoutMs,
    dnsTimeout: config.timeoutMs,
  });
  return {
    name: config.name,
    type: 'smtp',
    async send(d, signal) {
      const mail = renderEmail(d);
      const sending = transport.sendMail({
        from: config.from,
        to: [...config.to],
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        // Stable across retries, so a mail delivered twice (crash between send and mark) threads as one.
        messageId: `<${d.id}@berth>`,
        headers: { 'X-Berth-Project': d.project, 'X-Berth-Dedup-Key': d.notification.dedupKey, 'X-Berth-Status': d.notification.status },
      });
      await abortable(sending, signal);
    },
    async close() {
      transport.close();
    },
  };
}

/** nodemailer takes no AbortSignal; stop waiting (the socket timeout ends the connection). */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
      (e) => (signal.removeEventListener('abort', onAbort), reject(e)),
    );
  });
}
