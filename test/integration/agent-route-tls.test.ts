/**
 * Routes served over TLS (`route.tls`) get a certificate-expiry probe by default. A real TLS
 * server on 127.0.0.1 serves, by SNI, a certificate made by openssl that expires in 5 days (inside
 * the default 14-day warning window) for one route and a 90-day one for another; a real
 * `berth agent` fires for the first only, with the days left in the message, and a route with
 * `monitor.tls: false` has no probe at all.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { createTestProject, freePort, sleep, type TestProject } from './harness.js';
import { createWebhookReceiver, fastMonitorYaml, webhookNotifyYaml, tempDir, waitFor, type WebhookReceiver } from './notify-harness.js';

function certificate(dir: string, name: string, days: number): tls.SecureContext {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.pem`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', String(days), '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`,
  ], { stdio: 'pipe' });
  return tls.createSecureContext({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) });
}

interface ProbeOut {
  readonly id: string;
  readonly state: string;
  readonly value: number | null;
  readonly summary: string | null;
}

describe('default TLS-expiry probe of each TLS route (openssl certificates, real TLS server, real agent)', () => {
  let p: TestProject;
  let hook: WebhookReceiver;
  let agent: ReturnType<TestProject['spawnBerth']> | undefined;
  let server: tls.Server;
  const sni: string[] = [];

  before(async () => {
    const dir = tempDir('bt-route-tls-');
    const contexts: Record<string, tls.SecureContext> = {
      'app.localhost': certificate(dir, 'app.localhost', 5),
      'ok.localhost': certificate(dir, 'ok.localhost', 90),
      'quiet.localhost': certificate(dir, 'quiet.localhost', 1),
    };
    server = tls.createServer({
      SNICallback: (name, cb) => {
        sni.push(name);
        cb(null, contexts[name]);
      },
    }, (socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const tlsPort = (server.address() as AddressInfo).port;
    hook = await createWebhookReceiver();
    const listen = await freePort();
    const quiet = { container: false, http: false, stats: false };
    p = await createTestProject({
      'compose.yaml': `
services:
  web:
    image: berth-test/app:v1
  api:
    image: berth-test/app:v1
  quiet:
    image: berth-test/app:v1
`,
      'berth.yaml': `
name: {{NAME}}
edge:
  listen: ["127.0.0.1:{{EDGE_PORT}}"]
services:
  web:
    route: { hosts: [app.localhost], port: 80, tls: { listen: "127.0.0.1:${tlsPort}" } }
    monitor: ${JSON.stringify({ ...quiet, runbook: 'renew: certbot renew --cert-name app' })}
  api:
    route: { hosts: [ok.localhost], port: 80, tls: { listen: "127.0.0.1:${tlsPort}" } }
    monitor: ${JSON.stringify(quiet)}
  quiet:
    route: { hosts: [quiet.localhost], port: 80, tls: { listen: "127.0.0.1:${tlsPort}" } }
    monitor: ${JSON.stringify({ ...quiet, tls: false })}
${fastMonitorYaml(listen, 'probe')}${webhookNotifyYaml(hook.url)}`,
    });
  });

  after(async () => {
    agent?.kill('SIGKILL');
    await p?.cleanup();
    await hook?.close();
    await new Promise((r) => server?.close(r));
  });

  it('fires for the certificate inside the warning window only, with the days left', async () => {
    const probes = async (): Promise<ProbeOut[]> => {
      const r = await p.berth(['probes', '--json']);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as ProbeOut[];
    };
    assert.deepEqual((await probes()).map((x) => x.id).filter((id) => id.startsWith('tls:')), ['tls:web:app.localhost', 'tls:api:ok.localhost'], 'one default probe per TLS route host; none where disabled');

    agent = p.spawnBerth(['agent']);
    await waitFor('the agent to start', () => agent!.output().includes('"agent started"'), 20_000);
    const bodies = () => hook.accepted().map((r) => JSON.stringify(r.body));
    await waitFor('the certificate alert', () => bodies().some((b) => /firing/i.test(b) && b.includes('tls:web:app.localhost')), 20_000);
    const body = bodies().find((b) => b.includes('tls:web:app.localhost'))!;
    assert.match(body, /certificate of app\.localhost \(app\.localhost\) expires \d{4}-\d{2}-\d{2}, in 4 days \(< 14\)/, body);
    assert.match(body, /"severity":"warning"/, body);
    assert.match(body, /certbot renew --cert-name app/, 'the runbook is in the message');

    let api: ProbeOut | undefined;
    for (let i = 0; i < 40 && api?.state !== 'ok'; i++) {
      api = (await probes()).find((x) => x.id === 'tls:api:ok.localhost');
      if (api?.state !== 'ok') await sleep(250);
    }
    assert.equal(api?.state, 'ok', JSON.stringify(api));
    assert.equal(api?.value, 89, JSON.stringify(api));
    assert.ok(!bodies().some((b) => b.includes('ok.localhost') || b.includes('quiet')), bodies().join('\n'));
    assert.ok(sni.includes('app.localhost') && sni.includes('ok.localhost') && !sni.includes('quiet.localhost'), `SNI seen: ${sni.join(', ')}`);
  });
});
