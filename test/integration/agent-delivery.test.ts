/**
 * End to end, all real: `berth up` a container, run `berth agent` as a process with an SMTP channel
 * (smtp-server sink, STARTTLS + AUTH) and a Slack-format webhook channel (http receiver), kill the
 * container with `docker kill`, and read the alert at both receivers — then the resolve after
 * `berth up` brings the service back.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { createTestProject, freePort, type TestProject } from './harness.js';
import { createSmtpSink, createWebhookReceiver, smtpPassword, smtpUser, tempDir, waitFor, type SmtpSink, type WebhookReceiver } from './notify-harness.js';

describe('berth agent delivers alerts by e-mail and webhook (real dockerd, SMTP sink, webhook receiver)', () => {
  let p: TestProject;
  let smtp: SmtpSink;
  let hook: WebhookReceiver;
  let agent: ReturnType<TestProject['spawnBerth']> | undefined;

  before(async () => {
    smtp = await createSmtpSink(tempDir('bt-agent-smtp-'));
    hook = await createWebhookReceiver();
    const listen = await freePort();
    p = await createTestProject({
      '.env': `SMTP_PASSWORD=${smtpPassword}\n`,
      'compose.yaml': `
services:
  app:
    image: berth-test/app:v1
`,
      'berth.yaml': `
name: {{NAME}}
monitor:
  listen: "127.0.0.1:${listen}"
  group_wait: 0s
  host: false
  stats: false
services:
  app:
    monitor: { runbook: "restart it with berth up; see docs/runbooks/app.md" }
notify:
  channels:
    mail:
      type: smtp
      host: 127.0.0.1
      port: ${smtp.port}
      starttls: true
      user: ${smtpUser}
      password_env: SMTP_PASSWORD
      ca_file: ${smtp.caFile}
      from: berth@example.com
      to: [ops@example.com]
    chat:
      type: webhook
      url: ${hook.url}
      format: slack
`,
    });
    const up = await p.berth(['up', '-q']);
    assert.equal(up.code, 0, up.stderr);
  });

  after(async () => {
    agent?.kill('SIGKILL');
    await p?.cleanup();
    await smtp?.stop();
    await hook?.close();
  });

  it('a killed container is reported at both receivers with its logs, then resolved', async () => {
    agent = p.spawnBerth(['agent']);
    await waitFor('the agent to start', () => agent!.output().includes('"agent started"'), 20_000);
    const t0 = Date.now();
    execFileSync('docker', ['kill', `${p.name}-app-blue`]);
    await waitFor('the alert e-mail and webhook', () => smtp.mails.length >= 1 && hook.accepted().length >= 1, 20_000);
    process.stderr.write(`# container killed → e-mail ${Date.now() - t0} ms (both channels)\n`);
    const mail = smtp.mails[0]!;
    assert.equal(mail.user, smtpUser, 'authenticated');
    assert.ok(mail.secure, 'STARTTLS');
    assert.match(mail.header('subject') ?? '', /FIRING/i);
    assert.match(mail.raw, /app/);
    assert.match(mail.raw, /docs\/runbooks\/app\.md/, 'the runbook is in the e-mail');
    const body = JSON.stringify(hook.accepted()[0]!.body);
    assert.match(body, /FIRING/i);
    assert.match(body, /app/);

    // Recovery: berth up starts the service again; the agent sends the resolve.
    const up = await p.berth(['up', '-q']);
    assert.equal(up.code, 0, up.stderr);
    await waitFor('the resolve e-mail', () => smtp.mails.some((m) => /RESOLVED/i.test(m.header('subject') ?? '')), 30_000);
    await waitFor('the resolve webhook', () => hook.accepted().some((r) => /RESOLVED/i.test(JSON.stringify(r.body))), 30_000);
    // Once each: one firing and one resolved per channel.
    const subjects = smtp.mails.map((m) => m.header('subject') ?? '');
    assert.equal(subjects.filter((s) => /FIRING/i.test(s)).length, 1, subjects.join('\n'));
    assert.equal(subjects.filter((s) => /RESOLVED/i.test(s)).length, 1, subjects.join('\n'));
  });
});
