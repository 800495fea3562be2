/** TLS certificate expiry: days left on the served certificate; fails below `warn_days` or on a bad handshake. */
import tls from 'node:tls';
import type { ProbeSpec } from '../../project/monitor-schema.js';
import type { PolledProbe } from '../types.js';
import type { ResolveTarget } from './target.js';

type TlsSpec = Extract<ProbeSpec, { kind: 'tls' }>;

export function createTlsProbe(spec: TlsSpec, deps: { resolve: ResolveTarget; clock: () => number }): PolledProbe {
  return {
    id: spec.id,
    kind: 'tls',
    intervalMs: spec.intervalMs,
    async run() {
      const at = deps.clock();
      try {
        const { host, port } = await deps.resolve(spec.target);
        const cert = await peerCertificate(host, port, spec.serverName, spec.timeoutMs);
        const daysLeft = Math.floor((Date.parse(cert.valid_to) - at) / 86_400_000);
        const what = `certificate of ${spec.serverName} (${cert.subject?.CN ?? '?'}) expires ${new Date(cert.valid_to).toISOString().slice(0, 10)}, in ${daysLeft} days`;
        return { ok: daysLeft >= spec.warnDays, summary: daysLeft >= spec.warnDays ? what : `${what} (< ${spec.warnDays})`, value: daysLeft, atMs: at };
      } catch (err) {
        return { ok: false, summary: `tls: ${(err as Error).message}`, atMs: at };
      }
    },
  };
}

function peerCertificate(host: string, port: number, servername: string, timeoutMs: number): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    // Expiry is what we measure, so an expired or self-signed certificate must still be read.
    const socket = tls.connect({ host, port, servername, rejectUnauthorized: false, timeout: timeoutMs }, () => {
      const cert = socket.getPeerCertificate();
      socket.destroy();
      if (!cert || !cert.valid_to) reject(new Error(`${host}:${port} sent no certificate`));
      else resolve(cert);
    });
    socket.on('timeout', () => socket.destroy(new Error(`no TLS handshake with ${host}:${port} within ${timeoutMs} ms`)));
    socket.on('error', reject);
  });
}
