/**
 * Durable delivery against real receivers: an SMTP server requiring STARTTLS + AUTH PLAIN that
 * goes down and comes back, a webhook that answers 500 or hangs, a channel that stays down (its
 * route's fallback is used and the outage reported), all through the SQLite outbox.
 */
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import type { NotifyConfig } from '../../src/project/notify-schema.js';
import { startNotifications, type Notifications } from '../../src/notify/service.js';
import type { Notification } from '../../src/notify/types.js';
import { createOutboxStore } from '../../src/store/notify-outbox.js';
import {
  createSmtpSink,
  createWebhookReceiver,
  loadNotifyConfig,
  smtpPassword,
  smtpUser,
  type SmtpSink,
  tempDir,
  tempStore,
  waitFor,
  type WebhookReceiver,
} from './notify-harness.js';

const fastRetry = 'retry: { initial: 100ms, max: 400ms, fallback_attempts: 3, fallback_after: 1m }';

function incident(key: string, extra: Partial<Notification> = {}): Notification {
  return {
    dedupKey: key,
    status: 'firing',
    severity: 'critical',
    title: `[FIRING] web: ${key}`,
    summary: `web stopped answering at 12:00:00 UTC (${key})`,
    details: [{ label: 'Last probe output', value: 'GET http://web:8080/health → connection refused' }],
    logLines: ['2026-11-23T12:00:00Z web  FATAL out of memory', '2026-11-23T12:00:01Z web  exiting'],
    runbook: 'https://runbooks.example.com/web-down',
    labels: { project: 'demo', service: 'web', rule: key, severity: 'critical' },
    startsAtMs: Date.UTC(2026, 10, 23, 12, 0, 0),
    ...extra,
  };
}

describe('notify: durable delivery to real SMTP and webhook receivers', () => {
  let smtp: SmtpSink;
  let hook: WebhookReceiver;
  let running: Notifications | undefined;
  let store: ReturnType<typeof tempStore>;

  before(async () => {
    smtp = await createSmtpSink(tempDir('berth-smtp-'));
    hook = await createWebhookReceiver();
  });
  after(async () => {
    await smtp.stop();
    await hook.close();
  });
  afterEach(async () => {
    await running?.stop();
    running = undefined;
    store?.close();
    smtp.mails.length = 0;
    hook.requests.length = 0;
    hook.script([], 200);
    if (smtp.port) await smtp.start().catch(() => undefined); // already running is fine
  });

  function start(config: NotifyConfig): Notifications {
    store = tempStore();
    running = startNotifications({ db: store.db, project: 'demo', config, pollMs: 50 });
    return running;
  }

  const mailYaml = (): string => `notify:
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
      timeout: 2s
  ${fastRetry}
`;

  it('SMTP down then back: every notification arrives, once, over STARTTLS with AUTH', async () => {
    const config = await loadNotifyConfig(mailYaml(), { SMTP_PASSWORD: smtpPassword });
    await smtp.stop();
    const { notifier } = start(config);
    for (const key of ['db-down', 'disk-full', 'cert-expiry']) notifier.notify(incident(key));
    notifier.notify(incident('db-down')); // the same incident again: not queued twice
    const outbox = createOutboxStore(store.db);
    await waitFor('three failed attempts while the relay is down', () => outbox.health('mail').failures >= 3);
    assert.equal(smtp.mails.length, 0);
    assert.equal(outbox.pending('mail').length, 3);
    assert.match(outbox.health('mail').lastError ?? '', /ECONNREFUSED|connect/i);

    await smtp.start();
    await waitFor('three mails', () => smtp.mails.length >= 3);
    await running!.worker.drainOnce();
    await new Promise((r) => setTimeout(r, 300));
    await running!.worker.drainOnce();

    assert.equal(smtp.mails.length, 3, 'each notification once');
    const keys = smtp.mails.map((m) => m.header('X-Berth-Dedup-Key')).sort();
    assert.deepEqual(keys, ['cert-expiry', 'db-down', 'disk-full']);
    assert.equal(new Set(smtp.mails.map((m) => m.header('Message-ID'))).size, 3);
    for (const m of smtp.mails) {
      assert.equal(m.user, smtpUser, 'authenticated');
      assert.equal(m.secure, true, 'upgraded with STARTTLS');
    }
    const mail = smtp.mails.find((m) => m.header('X-Berth-Dedup-Key') === 'db-down')!;
    assert.match(mail.header('Subject') ?? '', /\[FIRING\] web: db-down/);
    const body = mail.raw.replace(/=\r?\n/g, '');
    for (const part of ['web stopped answering', 'Last probe output', 'connection refused', 'FATAL out of memory', 'runbooks.example.com/web-down', '2026-11-23 12:00:00 UTC']) {
      assert.ok(body.includes(part), `mail shows ${part}`);
    }
    assert.equal(outbox.pending().length, 0);
    assert.equal(outbox.health('mail').failures, 0);
  });

  it('webhook answering 500 is retried with back-off until it accepts; JSON and Slack bodies', async () => {
    hook.script([500, 500], 200);
    const config = await loadNotifyConfig(`notify:
  channels:
    hook: { type: webhook, url: "${hook.url}", headers: { Authorization: "Bearer t0ken" } }
  ${fastRetry}
`);
    const { notifier } = start(config);
    const t0 = Date.now();
    notifier.notify(incident('api-5xx', { severity: 'warning' }));
    await waitFor('an accepted request', () => hook.accepted().length === 1);
    const elapsed = Date.now() - t0;
    assert.equal(hook.requests.length, 3, 'two refusals, then accepted');
    assert.ok(elapsed >= 100 + 200 - 20, `backed off 100 ms then 200 ms (took ${elapsed} ms)`);
    const keys = new Set(hook.requests.map((r) => r.headers['idempotency-key']));
    assert.equal(keys.size, 1, 'the same Idempotency-Key on every attempt');
    const body = hook.accepted()[0]!.body;
    assert.equal(body.project, 'demo');
    assert.equal(body.dedupKey, 'api-5xx');
    assert.equal(body.status, 'firing');
    assert.equal(body.severity, 'warning');
    assert.deepEqual(body.logLines, incident('x').logLines);
    assert.equal(hook.accepted()[0]!.headers.authorization, 'Bearer t0ken');

    await running!.stop();
    store.close();
    hook.requests.length = 0;
    const slack = await loadNotifyConfig(`notify:
  channels:
    chat: { type: webhook, url: "${hook.url}", format: slack }
`);
    start(slack).notifier.notify(incident('queue-stuck'));
    await waitFor('the Slack message', () => hook.accepted().length === 1);
    const msg = hook.accepted()[0]!.body as { text: string; blocks: Array<{ type: string; text?: { text: string } }> };
    assert.match(msg.text, /\[FIRING\] web: queue-stuck/);
    assert.equal(msg.blocks[0]!.type, 'header');
    const all = JSON.stringify(msg.blocks);
    assert.ok(all.includes('FATAL out of memory') && all.includes('<https://runbooks.example.com/web-down|'));
  });

  it('a notification the webhook refuses for good (400) is set aside and does not block the ones behind it', async () => {
    hook.script([400], 200);
    const config = await loadNotifyConfig(`notify:
  channels:
    hook: { type: webhook, url: "${hook.url}" }
  ${fastRetry}
`);
    const { notifier } = start(config);
    notifier.notify(incident('poison'));
    notifier.notify(incident('next-one'));
    await waitFor('the next one delivered', () => hook.accepted().length === 1);
    await running!.worker.drainOnce();
    assert.deepEqual(hook.requests.map((r) => [r.body.dedupKey, r.answer]), [['poison', 400], ['next-one', 200]]);
    const outbox = createOutboxStore(store.db);
    const states = outbox.recent(10).reverse().map((r) => [r.dedupKey, r.state, r.attempts]);
    assert.deepEqual(states, [['poison', 'failed', 1], ['next-one', 'delivered', 1]]);
    assert.match(outbox.recent(10).at(-1)!.lastError ?? '', /answered 400/);
    assert.equal(outbox.health('hook').failures, 0, 'the channel itself is fine');
  });

  it('a webhook that hangs is timed out and retried', async () => {
    hook.script(['hang'], 200);
    const config = await loadNotifyConfig(`notify:
  channels:
    hook: { type: webhook, url: "${hook.url}", timeout: 300ms }
  ${fastRetry}
`);
    const { notifier } = start(config);
    notifier.notify(incident('slow-receiver'));
    await waitFor('delivery after the timeout', () => hook.accepted().length === 1);
    await running!.worker.drainOnce(); // the in-flight send is marked before this resolves
    assert.equal(hook.requests.length, 2);
    const [row] = createOutboxStore(store.db).recent(1);
    assert.equal(row!.state, 'delivered');
    assert.equal(row!.attempts, 2);
  });

  it('an SMTP relay that accepts the connection but never greets is timed out, then retried', async () => {
    const silent = net.createServer(() => undefined); // accepts, says nothing
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    const port = (silent.address() as AddressInfo).port;
    try {
      const config = await loadNotifyConfig(`notify:
  channels:
    mail: { type: smtp, host: 127.0.0.1, port: ${port}, starttls: false, from: berth@example.com, to: [ops@example.com], timeout: 300ms }
  ${fastRetry}
`);
      const { notifier } = start(config);
      notifier.notify(incident('silent-relay'));
      const outbox = createOutboxStore(store.db);
      await waitFor('two timed-out attempts', () => outbox.health('mail').failures >= 2);
      assert.match(outbox.health('mail').lastError ?? '', /greeting|timeout/i);
      assert.equal(outbox.pending('mail').length, 1, 'still queued');
    } finally {
      await running?.stop();
      running = undefined;
      silent.close();
    }
  });

  it('a channel that stays down: fallback gets the notifications and a failure notice; on recovery each goes out once', async () => {
    hook.script([], 503);
    const config = await loadNotifyConfig(`notify:
  channels:
    primary: { type: webhook, url: "${hook.url}" }
    mail:
      type: smtp
      host: 127.0.0.1
      port: ${smtp.port}
      user: ${smtpUser}
      password_env: SMTP_PASSWORD
      ca_file: ${smtp.caFile}
      from: berth@example.com
      to: [ops@example.com]
  routes:
    - match: { severity: [critical] }
      channels: [primary]
      fallback: [mail]
  ${fastRetry}
`, { SMTP_PASSWORD: smtpPassword });
    const { notifier } = start(config);
    notifier.notify(incident('web-down'));
    notifier.notify(incident('db-down'));
    notifier.notify(incident('just-info', { severity: 'info' })); // matches no route: not sent anywhere
    await waitFor('notice + two copies by mail', () => smtp.mails.length >= 3);
    const byKey = (k: string) => smtp.mails.filter((m) => m.header('X-Berth-Dedup-Key') === k);
    assert.equal(byKey('web-down').length, 1);
    assert.equal(byKey('db-down').length, 1);
    const notice = byKey('berth/notify-channel/primary');
    assert.equal(notice.length, 1, 'one notice that the channel is failing');
    assert.match(notice[0]!.header('Subject') ?? '', /channel "primary" is failing/);
    assert.match(notice[0]!.raw.replace(/=\r?\n/g, ''), /answered 503/);
    assert.match(byKey('web-down')[0]!.raw.replace(/=\r?\n/g, ''), /channel "primary" keeps failing/);

    // While it stays down, a new notification goes to the fallback at once.
    notifier.notify(incident('cache-down'));
    await waitFor('the new copy by mail', () => byKey('cache-down').length === 1);
    assert.equal(hook.accepted().length, 0);

    hook.script([], 200);
    await waitFor('the primary delivers the three queued notifications', () => hook.accepted().length >= 3);
    await waitFor('the recovery notice by mail', () => notice.length + byKey('berth/notify-channel/primary').length >= 3);
    await new Promise((r) => setTimeout(r, 300));
    await running!.worker.drainOnce();
    const delivered = hook.accepted().map((r) => r.body.dedupKey).sort();
    assert.deepEqual(delivered, ['cache-down', 'db-down', 'web-down'], 'each once on the recovered channel');
    const notices = byKey('berth/notify-channel/primary').map((m) => m.header('X-Berth-Status'));
    assert.deepEqual(notices, ['firing', 'resolved']);
    assert.equal(smtp.mails.length, 5, 'notice, three copies, recovery notice');
    assert.equal(createOutboxStore(store.db).pending().length, 0);
  });
});
