/**
 * The worker's retry state machine on a manual clock: exponential back-off capped at `max`, and a
 * channel counted as down after failing for `fallback_after` even below `fallback_attempts`.
 * (Delivery to real SMTP and webhook receivers is in test/integration/notify-delivery.test.ts.)
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import type { Channel, Delivery } from '../../../src/notify/channel.js';
import { createNotifier } from '../../../src/notify/notifier.js';
import { startOutboxWorker } from '../../../src/notify/worker.js';
import type { NotifyConfig } from '../../../src/project/notify-schema.js';
import { openStore } from '../../../src/store/db.js';
import { createOutboxStore } from '../../../src/store/notify-outbox.js';

function recorder(name: string, now: () => number) {
  const state = { up: true, attempts: [] as number[], got: [] as Delivery[] };
  const channel: Channel = {
    name,
    type: 'webhook',
    async send(d) {
      state.attempts.push(now());
      if (!state.up) throw new Error(`${name} refused`);
      state.got.push(d);
    },
    async close() {},
  };
  return { channel, state };
}

it('backs off 1s, 2s, 4s, 4s… and falls back once failing for fallback_after', async () => {
  let t = 0;
  const clock = () => t;
  const store = openStore(fs.mkdtempSync(path.join(os.tmpdir(), 'berth-worker-')));
  const a = recorder('a', clock);
  const b = recorder('b', clock);
  a.state.up = false;
  const config: NotifyConfig = {
    channels: {},
    routes: [{ match: {}, channels: ['a'], fallback: ['b'] }],
    repeatMs: 0,
    retry: { initialMs: 1000, maxMs: 4000, fallbackAttempts: 100, fallbackAfterMs: 10_000 },
  };
  const worker = startOutboxWorker({ db: store.db, channels: { a: a.channel, b: b.channel }, project: 'demo', clock, retry: config.retry, pollMs: 3_600_000 });
  try {
    createNotifier({ db: store.db, config, project: 'demo', clock }).notify({
      dedupKey: 'k', status: 'firing', severity: 'critical', title: 'T', summary: 'S', details: [], labels: {}, startsAtMs: 0,
    });
    for (const at of [0, 500, 1000, 2999, 3000, 7000, 11_000]) {
      t = at;
      await worker.drainOnce();
    }
    assert.deepEqual(a.state.attempts, [0, 1000, 3000, 7000, 11_000]);
    assert.equal(createOutboxStore(store.db).health('a').nextAttemptAt, 15_000);
    await worker.drainOnce();
    assert.deepEqual(b.state.got.map((d) => [d.notification.dedupKey, d.notification.status, d.fallbackFor]), [
      ['berth/notify-channel/a', 'firing', undefined],
      ['k', 'firing', 'a'],
    ]);
    a.state.up = true;
    t = 15_000;
    await worker.drainOnce();
    await worker.drainOnce();
    assert.deepEqual(a.state.got.map((d) => d.notification.dedupKey), ['k']);
    assert.deepEqual(b.state.got.map((d) => d.notification.status), ['firing', 'firing', 'resolved']);
  } finally {
    await worker.stop();
    store.close();
    fs.rmSync(store.stateDir, { recursive: true, force: true });
  }
});

it('notify() refuses a malformed notification at once and queues nothing', () => {
  const store = openStore(fs.mkdtempSync(path.join(os.tmpdir(), 'berth-notifier-')));
  try {
    const config: NotifyConfig = { channels: {}, routes: [{ match: {}, channels: ['a'], fallback: [] }], repeatMs: 0, retry: { initialMs: 1, maxMs: 1, fallbackAttempts: 1, fallbackAfterMs: 1 } };
    const notifier = createNotifier({ db: store.db, config, project: 'demo' });
    const bad = { dedupKey: '', status: 'burning', severity: 'critical', title: 'T', summary: 'S', labels: {}, startsAtMs: 0 } as unknown as Parameters<typeof notifier.notify>[0];
    assert.throws(() => notifier.notify(bad), /invalid notification "": dedupKey: .*; status: .*; details: Required/);
    assert.equal(createOutboxStore(store.db).recent(10).length, 0);
  } finally {
    store.close();
    fs.rmSync(store.stateDir, { recursive: true, force: true });
  }
});
