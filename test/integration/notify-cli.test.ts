/** `berth notify test|status` through the real CLI against a real webhook receiver; bad config refused at load. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createWebhookReceiver, tempDir, type WebhookReceiver } from './notify-harness.js';

const berthBin = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../bin/berth.js');

function berth(dir: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [berthBin, '-C', dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

function project(berthYaml: string): string {
  const dir = tempDir('berth-notify-cli-');
  fs.writeFileSync(path.join(dir, 'compose.yaml'), 'name: notifycli\nservices:\n  web:\n    image: berth-test/app:v1\n');
  fs.writeFileSync(path.join(dir, 'berth.yaml'), berthYaml);
  return dir;
}

describe('berth notify (CLI)', () => {
  let hook: WebhookReceiver;
  let down: WebhookReceiver;
  before(async () => {
    hook = await createWebhookReceiver();
    down = await createWebhookReceiver();
    down.script([], 500);
  });
  after(async () => {
    await hook.close();
    await down.close();
  });

  it('notify test delivers to each channel and reports it; a failing channel exits non-zero with the error', async () => {
    const dir = project(`notify:
  channels:
    ok: { type: webhook, url: "${hook.url}" }
    broken: { type: webhook, url: "${down.url}" }
  retry: { initial: 100ms, max: 200ms }
`);
    const good = await berth(dir, ['--json', 'notify', 'test', '--channel', 'ok']);
    assert.equal(good.code, 0, good.stderr);
    const { results } = JSON.parse(good.stdout) as { results: Array<{ channel: string; delivered: boolean }> };
    assert.deepEqual(results.map((r) => [r.channel, r.delivered]), [['ok', true]]);
    assert.equal(hook.accepted().length, 1);
    assert.match(String(hook.accepted()[0]!.body.title), /^\[TEST\] notifycli: berth notification test/);

    const bad = await berth(dir, ['notify', 'test', '--timeout', '2s']);
    assert.equal(bad.code, 5, bad.stderr);
    assert.match(bad.stdout, /broken\s+FAILED.*answered 500/);
    assert.match(bad.stdout, /ok\s+delivered/);
    assert.match(bad.stderr, /notification channel\(s\) failed: broken/);

    const status = await berth(dir, ['--json', 'notify', 'status']);
    assert.equal(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout) as { channels: Array<{ channel: string; pending: number; failures: number }> };
    assert.deepEqual(s.channels.map((c) => [c.channel, c.pending, c.failures > 0]), [['ok', 0, false], ['broken', 1, true]]);
  });

  it('invalid channel config is refused at load with file:line, nothing sent', async () => {
    const dir = project(`notify:
  channels:
    ok: { type: webhook, url: "${hook.url}" }
  routes:
    - channels: [ok, pagerduty]
`);
    const before = hook.requests.length;
    const r = await berth(dir, ['notify', 'test']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /berth\.yaml:5:22 notify\.routes\[0\]\.channels\[1\]: unknown channel `pagerduty`; channels are: ok/);
    assert.equal(hook.requests.length, before);
  });
});
