import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { notifyDefaults } from '../../../src/project/notify-schema.js';
import { load, loadError, yaml } from '../project/helpers.js';

const compose = yaml('services:', '  web:', '    image: nginx');
const withNotify = (...lines: string[]) => ({ 'compose.yaml': compose, 'berth.yaml': yaml('notify:', ...lines) });

describe('berth.yaml notify:', () => {
  it('resolves channels, routes and retry with defaults', async () => {
    const p = await load(
      withNotify(
        '  channels:',
        '    mail: { type: smtp, host: smtp.example.com, user: alerts, password_env: PW, from: berth@example.com, to: [ops@example.com] }',
        '    chat: { type: webhook, url: "https://hooks.example.com/x", format: slack }',
        '  routes:',
        '    - { match: { severity: [critical] }, channels: [chat], fallback: [mail] }',
        '  retry: { initial: 2s }',
      ),
      { env: { PW: 'pw' } },
    );
    const mail = p.notify?.channels.mail;
    assert.equal(mail?.type === 'smtp' && mail.password?.reveal(), 'pw');
    assert.equal(JSON.stringify(mail).includes('"password":"(secret)"'), true, 'never printed');
    assert.deepEqual(JSON.parse(JSON.stringify(mail)), {
      type: 'smtp', name: 'mail', host: 'smtp.example.com', port: 587, tls: 'starttls', user: 'alerts', password: '(secret)',
      passwordEnv: 'PW', from: 'berth@example.com', to: ['ops@example.com'], timeoutMs: 5000,
    });
    const chat = p.notify?.channels.chat;
    assert.equal(chat?.type === 'webhook' && chat.url.reveal(), 'https://hooks.example.com/x');
    assert.deepEqual(JSON.parse(JSON.stringify(chat)), { type: 'webhook', name: 'chat', url: 'https://hooks.example.com/…', format: 'slack', timeoutMs: 5000, headers: {} });
    assert.deepEqual(p.notify?.routes, [{ match: { severity: ['critical'] }, channels: ['chat'], fallback: ['mail'] }]);
    assert.deepEqual(p.notify?.retry, { ...notifyDefaults.retry, initialMs: 2000 });
    assert.equal(p.notify?.repeatMs, notifyDefaults.repeatMs);
  });

  it('url_env keeps the webhook token out of berth.yaml and out of printed config', async () => {
    const p = await load(withNotify('  channels:', '    chat: { type: webhook, url_env: SLACK_URL }'), { env: { SLACK_URL: 'https://hooks.slack.com/services/T0/B0/s3cr3t' } });
    const chat = p.notify?.channels.chat;
    assert.equal(chat?.type === 'webhook' && chat.url.reveal(), 'https://hooks.slack.com/services/T0/B0/s3cr3t');
    assert.ok(!JSON.stringify(p).includes('s3cr3t'));
  });

  it('without routes, everything goes to every channel', async () => {
    const p = await load(withNotify('  channels:', '    a: { type: webhook, url: "http://127.0.0.1:1/" }', '    b: { type: webhook, url: "http://127.0.0.1:2/" }'));
    assert.deepEqual(p.notify?.routes, [{ match: {}, channels: ['a', 'b'], fallback: [] }]);
  });

  it('smtp ports follow the TLS mode', async () => {
    const p = await load(withNotify('  channels:', '    s: { type: smtp, host: h, secure: true, from: a@b.c, to: [d@e.f] }', '    p: { type: smtp, host: h, starttls: false, from: a@b.c, to: [d@e.f] }'));
    assert.equal(p.notify?.channels.s?.type === 'smtp' && p.notify.channels.s.port, 465);
    assert.equal(p.notify?.channels.p?.type === 'smtp' && p.notify.channels.p.port, 25);
  });

  // One line per case: berth.yaml lines under `notify:` → expected message (with its position).
  const cases: Array<[string, string[], RegExp]> = [
    ['unknown channel type', ['  channels:', '    x: { type: pager }'], /berth\.yaml:3:16 notify\.channels\.x\.type: should be one of "smtp", "webhook"/],
    ['missing type', ['  channels:', '    x: { url: "http://a/" }'], /notify\.channels\.x\.type: is required/],
    ['bad webhook url', ['  channels:', '    x: { type: webhook, url: "ftp://a/" }'], /berth\.yaml:3:30 notify\.channels\.x\.url: should be an http:\/\/ or https:\/\/ URL/],
    ['bad format', ['  channels:', '    x: { type: webhook, url: "http://a/", format: xml }'], /format: should be one of "json", "slack"/],
    ['bad timeout', ['  channels:', '    x: { type: webhook, url: "http://a/", timeout: soon }'], /timeout: should be a duration like "10s"/],
    ['unknown key', ['  channels:', '    x: { type: webhook, url: "http://a/", colour: red }'], /notify\.channels\.x\.colour: unsupported key `colour`/],
    ['smtp without to', ['  channels:', '    m: { type: smtp, host: h, from: a@b.c }'], /notify\.channels\.m\.to: is required/],
    ['smtp bad address', ['  channels:', '    m: { type: smtp, host: h, from: nobody, to: [a@b.c] }'], /notify\.channels\.m\.from: should be an e-mail address/],
    ['secure and starttls', ['  channels:', '    m: { type: smtp, host: h, secure: true, starttls: true, from: a@b.c, to: [d@e.f] }'], /starttls: choose one of `secure: true`/],
    ['unset password variable', ['  channels:', '    m: { type: smtp, host: h, user: u, password_env: NOPE, from: a@b.c, to: [d@e.f] }'], /berth\.yaml:3:\d+ notify\.channels\.m\.password_env: NOPE is not set \(set it in the environment or in \.env\)/],
    ['route to unknown channel', ['  channels:', '    a: { type: webhook, url: "http://a/" }', '  routes:', '    - channels: [a, pager]'], /berth\.yaml:5:21 notify\.routes\[0\]\.channels\[1\]: unknown channel `pager`; channels are: a/],
    ['fallback to unknown channel', ['  channels:', '    a: { type: webhook, url: "http://a/" }', '  routes:', '    - { channels: [a], fallback: [b] }'], /notify\.routes\[0\]\.fallback\[0\]: unknown channel `b`/],
    ['bad severity', ['  channels:', '    a: { type: webhook, url: "http://a/" }', '  routes:', '    - { match: { severity: [urgent] }, channels: [a] }'], /severity\[0\]: should be one of "critical", "warning", "info"/],
    ['retry max below initial', ['  channels:', '    a: { type: webhook, url: "http://a/" }', '  retry: { initial: 10s, max: 1s }'], /notify\.retry\.max: should not be shorter than retry\.initial/],
    ['missing CA file', ['  channels:', '    m: { type: smtp, host: h, ca_file: nope.pem, from: a@b.c, to: [d@e.f] }'], /notify\.channels\.m\.ca_file: \/.*\/nope\.pem not found/],
    ['url and url_env', ['  channels:', '    x: { type: webhook, url: "http://a/", url_env: HOOK }'], /^berth\.yaml:3:8 notify\.channels\.x: set one of `url` and `url_env`/],
    ['unset url_env', ['  channels:', '    x: { type: webhook, url_env: HOOK }'], /notify\.channels\.x\.url_env: HOOK is not set/],
    ['no channels', ['  channels: {}'], /notify\.channels: should define at least one channel/],
  ];
  for (const [name, lines, expected] of cases) {
    it(`refuses: ${name}`, async () => assert.match(await loadError(withNotify(...lines)), expected));
  }
});
