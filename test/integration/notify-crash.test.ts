/**
 * The agent is SIGKILLed while notifications are pending (one in flight, one queued): after a
 * restart they are delivered, and the one already delivered is not sent again.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startNotifications } from '../../src/notify/service.js';
import { openStore } from '../../src/store/db.js';
import { createOutboxStore } from '../../src/store/notify-outbox.js';
import { createWebhookReceiver, loadNotifyConfig, tempDir, waitFor, type WebhookReceiver } from './notify-harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));
let hook: WebhookReceiver;
before(async () => {
  hook = await createWebhookReceiver();
});
after(async () => hook.close());

it('SIGKILL with rows pending: delivered after restart, the delivered one not again', async () => {
  const stateDir = tempDir('berth-notify-crash-');
  hook.script([200, 'hang'], 200); // a is accepted, b hangs, c waits behind b
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'notify-child.ts'), stateDir, hook.url], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  try {
    await waitFor('a accepted and b in flight', () => hook.requests.length === 2, 30_000);
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
  } finally {
    child.kill('SIGKILL');
  }

  const store = openStore(stateDir);
  const outbox = createOutboxStore(store.db);
  const rows = outbox.recent(10).reverse();
  assert.deepEqual(rows.map((r) => [r.dedupKey, r.state]), [['a', 'delivered'], ['b', 'pending'], ['c', 'pending']]);

  const config = await loadNotifyConfig(`notify:\n  channels:\n    hook: { type: webhook, url: "${hook.url}" }\n`);
  const restarted = startNotifications({ db: store.db, project: 'demo', config, pollMs: 50 });
  try {
    await waitFor('b and c delivered after the restart', () => hook.accepted().length === 3);
    await restarted.worker.drainOnce();
    const accepted = hook.accepted().map((r) => r.body.dedupKey);
    assert.deepEqual(accepted, ['a', 'b', 'c'], 'each accepted once, in order');
    const sent = (k: string) => hook.requests.filter((r) => r.body.dedupKey === k).length;
    assert.equal(sent('a'), 1, 'the delivered row is never sent again');
    assert.equal(sent('b'), 2, 'the request cut off by the kill was never answered, so it is sent again');
    assert.equal(sent('c'), 1);
    const ids = hook.requests.filter((r) => r.body.dedupKey === 'b').map((r) => r.headers['idempotency-key']);
    assert.equal(ids[0], ids[1], 'the resend carries the same Idempotency-Key');
    assert.equal(outbox.pending().length, 0);
  } finally {
    await restarted.stop();
    store.close();
  }
});
