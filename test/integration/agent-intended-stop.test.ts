/**
 * `berth down` while the agent runs is an intended stop: the agent reports the service as
 * stopped on purpose and sends nothing. `berth up` clears that, so a container death after it
 * alerts again. All real: dockerd, `berth agent` as a process, a webhook receiver.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { createTestProject, freePort, sleep, type TestProject } from './harness.js';
import { createWebhookReceiver, fastMonitorYaml, webhookNotifyYaml, waitFor, type WebhookReceiver } from './notify-harness.js';

interface ProbeOut {
  readonly id: string;
  readonly state: string;
  readonly summary: string | null;
}

describe('berth down is an intended stop for the agent (real dockerd, real agent, webhook receiver)', () => {
  let p: TestProject;
  let hook: WebhookReceiver;
  let agent: ReturnType<TestProject['spawnBerth']> | undefined;

  const probe = async (id: string): Promise<ProbeOut | undefined> => {
    const r = await p.berth(['probes', '--json']);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as ProbeOut[]).find((x) => x.id === id);
  };
  const waitProbe = async (what: string, id: string, check: (x: ProbeOut) => boolean, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const x = await probe(id);
      if (x && check(x)) return x;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(x)}`);
      await sleep(250);
    }
  };

  before(async () => {
    hook = await createWebhookReceiver();
    const listen = await freePort();
    p = await createTestProject({
      'compose.yaml': `
services:
  app:
    image: berth-test/app:v1
  worker:
    image: berth-test/app:v1
`,
      'berth.yaml': `
name: {{NAME}}
${fastMonitorYaml(listen, 'service')}${webhookNotifyYaml(hook.url)}`,
    });
    const up = await p.berth(['up', '-q']);
    assert.equal(up.code, 0, up.stderr);
  });

  after(async () => {
    agent?.kill('SIGKILL');
    await p?.cleanup();
    await hook?.close();
  });

  it('sends nothing for services stopped by berth down, and alerts again for a death after berth up', async () => {
    agent = p.spawnBerth(['agent']);
    await waitFor('the agent to start', () => agent!.output().includes('"agent started"'), 20_000);
    await waitProbe('container:app ok', 'container:app', (x) => x.state === 'ok');

    const down = await p.berth(['down', '-q']);
    assert.equal(down.code, 0, down.stderr);
    // The deaths were seen and recorded as intended (the probe row says so), and no alert went out.
    const app = await waitProbe('container:app to read "stopped on purpose"', 'container:app', (x) => /stopped on purpose/.test(x.summary ?? '')).catch((err: Error) => assert.fail(`${err.message}\n${agent!.output().slice(-3000)}`));
    assert.equal(app.state, 'ok', JSON.stringify(app));
    assert.match(app.summary ?? '', /berth down/);
    await waitProbe('container:worker to read "stopped on purpose"', 'container:worker', (x) => /stopped on purpose/.test(x.summary ?? ''));
    await sleep(3_000); // longer than group_wait (0 s) plus the agent's 1 s tick and the outbox worker's first try
    assert.deepEqual(hook.requests.map((r) => r.body), [], 'no notification for an intended stop');
    const alerts = await p.berth(['alerts', '--json']);
    assert.equal(alerts.code, 0, alerts.stderr);
    assert.doesNotMatch(alerts.stdout, /"firing"/, alerts.stdout);

    // The intent is in the audit trail.
    const audit = await p.berth(['audit', 'list', '--json']);
    assert.equal(audit.code, 0, audit.stderr);
    assert.match(audit.stdout, /"action":\s*"stop"/);

    // berth up clears it: the next death is not intended and alerts.
    const up = await p.berth(['up', '-q']);
    assert.equal(up.code, 0, up.stderr);
    await waitProbe('container:app running again', 'container:app', (x) => x.state === 'ok' && /running/.test(x.summary ?? '') && !/stopped on purpose/.test(x.summary ?? ''));
    execFileSync('docker', ['kill', `${p.name}-app-blue`]);
    await waitFor('the alert for the unintended death', () => hook.accepted().some((r) => /firing/i.test(JSON.stringify(r.body))), 20_000);
    const firing = hook.accepted().filter((r) => /firing/i.test(JSON.stringify(r.body)));
    assert.equal(firing.length, 1, JSON.stringify(firing.map((r) => r.body)));
    const body = JSON.stringify(firing[0]!.body);
    assert.match(body, /app/);
    assert.doesNotMatch(body, /worker/, 'only the service that died');
  });
});
