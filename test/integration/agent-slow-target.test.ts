/**
 * A probe target that answers slowly, and one that does not answer at all, watched by a real
 * `berth agent` process: real HTTP servers on 127.0.0.1, a real webhook receiver. The slow one
 * fires with the latency the agent measured; the hung one fails with a timeout, its connections
 * are closed by the agent, and the agent's own /healthz keeps answering meanwhile.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createTestProject, freePort, httpGet, type TestProject } from './harness.js';
import { createWebhookReceiver, fastMonitorYaml, webhookNotifyYaml, waitFor, type WebhookReceiver } from './notify-harness.js';

const slowMs = 400;

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as AddressInfo).port;
}

describe('slow and hung probe targets, end to end (real agent, real HTTP servers)', () => {
  let p: TestProject;
  let hook: WebhookReceiver;
  let agent: ReturnType<TestProject['spawnBerth']> | undefined;
  let agentPort: number;
  let delay = slowMs;
  const slow = http.createServer((_req, res) => void setTimeout(() => res.writeHead(200).end('ok'), delay));
  const hung = { open: 0, closed: 0 };
  const hang = http.createServer((req) => {
    hung.open++;
    req.socket.on('close', () => hung.closed++);
  });

  const bodies = () => hook.accepted().map((r) => JSON.stringify(r.body));

  before(async () => {
    hook = await createWebhookReceiver();
    const slowPort = await listen(slow);
    const hangPort = await listen(hang);
    agentPort = await freePort();
    p = await createTestProject({
      'compose.yaml': `
services:
  api:
    image: berth-test/app:v1
`,
      'berth.yaml': `
name: {{NAME}}
services:
  api:
    monitor: { container: false, stats: false }
${fastMonitorYaml(agentPort, 'probe')}  probes:
    slow-api:
      type: http
      url: "http://127.0.0.1:${slowPort}/"
      latency: 150ms
      interval: 1s
      timeout: 3s
    hung-api:
      type: http
      url: "http://127.0.0.1:${hangPort}/"
      interval: 1s
      timeout: 1500ms
${webhookNotifyYaml(hook.url)}`,
    });
  });

  after(async () => {
    agent?.kill('SIGKILL');
    await p?.cleanup();
    await hook?.close();
    hang.closeAllConnections();
    slow.closeAllConnections();
    await Promise.all([slow, hang].map((s) => new Promise((r) => s.close(r))));
  });

  it('fires with the measured latency, reports the timeout, and stays responsive', async () => {
    agent = p.spawnBerth(['agent']);
    await waitFor('the agent to start', () => agent!.output().includes('"agent started"'), 20_000);

    // While a probe request hangs, the agent answers its own endpoints.
    await waitFor('a hanging probe request', () => hung.open > hung.closed, 10_000);
    let answered = 0;
    for (let i = 0; i < 5 && hung.open > hung.closed; i++) {
      const h = await httpGet(agentPort, '/healthz', '127.0.0.1');
      assert.equal(h.status, 200, h.body);
      assert.match(h.body, /"status":"ok"/);
      answered++;
    }
    assert.ok(answered > 0, 'asked /healthz while a probe request was hanging');
    const metrics = await httpGet(agentPort, '/metrics', '127.0.0.1');
    assert.equal(metrics.status, 200);

    await waitFor('the alerts of both probes', () => ['slow-api', 'hung-api'].every((id) => bodies().some((b) => /firing/i.test(b) && b.includes(id))), 20_000);
    const slowBody = bodies().find((b) => /firing/i.test(b) && b.includes('slow-api'))!;
    const m = /→ 200 in (\d+(?:\.\d+)?) ms; slower than 150 ms/.exec(slowBody);
    assert.ok(m, slowBody);
    assert.ok(Number(m[1]) >= slowMs, `the measured latency (${m[1]} ms) includes the server's ${slowMs} ms delay`);
    const hungBody = bodies().find((b) => /firing/i.test(b) && b.includes('hung-api'))!;
    assert.match(hungBody, /no answer within 1500 ms/, hungBody);
    // The agent gave up on the hung requests: it closed them, it did not pile them up.
    await waitFor('the agent to close timed-out requests', () => hung.closed >= 2, 10_000);
    assert.ok(hung.open - hung.closed <= 1, `at most the current probe request is open (${hung.open} opened, ${hung.closed} closed)`);

    // The slow target gets fast: resolved.
    delay = 0;
    await waitFor('the slow-api resolve', () => bodies().some((b) => /resolved/i.test(b) && b.includes('slow-api')), 20_000);
  });
});
