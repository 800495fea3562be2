import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { openStore, type Store } from '../../../src/store/db.js';
import { createOutboxStore, type NewOutboxRow, type OutboxStore } from '../../../src/store/notify-outbox.js';

let store: Store;
let outbox: OutboxStore;
beforeEach(() => {
  store = openStore(fs.mkdtempSync(path.join(os.tmpdir(), 'berth-outbox-')));
  outbox = createOutboxStore(store.db);
});
afterEach(() => {
  store.close();
  fs.rmSync(store.stateDir, { recursive: true, force: true });
});

const row = (over: Partial<NewOutboxRow> = {}): NewOutboxRow => ({
  project: 'demo', channel: 'mail', dedupKey: 'web-down', status: 'firing', startsAt: 1000, reason: 'route', payload: '{}', ...over,
});
const hour = 3_600_000;

describe('outbox rows', () => {
  it('the same episode and status is queued once, per channel', () => {
    assert.equal(outbox.enqueue([row(), row({ channel: 'chat' })], 0, hour), 2);
    assert.equal(outbox.enqueue([row(), row({ channel: 'chat' })], 10, hour), 0);
    assert.equal(outbox.enqueue([row({ status: 'resolved' })], 20, hour), 1);
    assert.equal(outbox.enqueue([row({ startsAt: 5000 })], 30, hour), 1, 'a new episode of the same key');
    assert.equal(outbox.pending('mail').length, 3);
  });

  it('a firing notification is repeated only after `repeat` since its delivery, and never once resolved', () => {
    outbox.enqueue([row()], 0, hour);
    assert.equal(outbox.enqueue([row()], 2 * hour, hour), 0, 'still undelivered: no repeat');
    const claimed = outbox.claimNext('mail', 'w1', 0, 1000)!;
    outbox.markDelivered(claimed.id, 'w1', 100);
    assert.equal(outbox.enqueue([row()], 100 + hour - 1, hour), 0);
    assert.equal(outbox.enqueue([row()], 100 + hour, hour), 1);
    assert.deepEqual(outbox.pending('mail').map((r) => r.seq), [1]);
    assert.equal(outbox.enqueue([row()], 100 + 5 * hour, 0), 0, 'repeat 0 = never');
    outbox.enqueue([row({ status: 'resolved' })], 0, hour);
    const r1 = outbox.claimNext('mail', 'w1', 0, 1000)!;
    outbox.markDelivered(r1.id, 'w1', 200);
    assert.equal(outbox.enqueue([row()], 100 * hour, hour), 0, 'resolved: no more repeats');
  });

  it('a claimed row is not claimed by another worker until its lease ends or its worker is gone', () => {
    outbox.enqueue([row(), row({ dedupKey: 'b' })], 0, hour);
    const a = outbox.claimNext('mail', 'w1', 0, 1000)!;
    assert.equal(a.dedupKey, 'web-down');
    assert.equal(outbox.claimNext('mail', 'w2', 10, 1000)!.dedupKey, 'b');
    assert.equal(outbox.claimNext('mail', 'w3', 20, 1000), undefined);
    assert.equal(outbox.claimNext('mail', 'w3', 1001, 1000)!.dedupKey, 'web-down', 'lease of w1 ended');
    assert.equal(outbox.releaseClaims((w) => w === 'w2'), 1);
    assert.equal(outbox.claimNext('mail', 'w4', 30, 1000)!.dedupKey, 'b');
    outbox.markDelivered(a.id, 'w1', 40); // w1 lost its claim: its mark does nothing
    assert.equal(outbox.pending('mail').length, 2);
  });

  it('takeForFallback hands out each pending row once', () => {
    outbox.enqueue([row({ fallback: ['chat'] }), row({ dedupKey: 'b' })], 0, hour);
    assert.deepEqual(outbox.takeForFallback('mail', 5).map((r) => [r.dedupKey, r.fallback]), [['web-down', ['chat']], ['b', []]]);
    assert.deepEqual(outbox.takeForFallback('mail', 6), []);
  });
});

describe('outbox retention', () => {
  it('prunes delivered and set-aside rows older than the cut-off, never pending ones', () => {
    outbox.enqueue([row({ dedupKey: 'old' }), row({ dedupKey: 'bad' }), row({ dedupKey: 'waiting' }), row({ dedupKey: 'new' })], 0, hour);
    const old = outbox.claimNext('mail', 'w', 0, 1000)!;
    outbox.markDelivered(old.id, 'w', 10);
    const bad = outbox.claimNext('mail', 'w', 0, 1000)!;
    outbox.markFailed(bad.id, 'w', 'answered 400');
    assert.equal(outbox.prune(100), 2);
    assert.deepEqual(outbox.recent(10).map((r) => r.dedupKey).sort(), ['new', 'waiting']);
  });
});
