/** The dead-man's switch sender: stopping waits for the heartbeat in flight. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { createHeartbeat } from '../../../src/agent/heartbeat.js';
import { openStore } from '../../../src/store/db.js';
import { createMonitorStore } from '../../../src/store/monitor.js';

/** A loopback peer that answers each heartbeat after `delayMs`. */
async function slowPeer(delayMs: number): Promise<{ url: string; requests: () => number; close(): void }> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    req.resume();
    setTimeout(() => res.writeHead(204).end(), delayMs);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, requests: () => requests, close: () => server.close() };
}

it('stop() returns only once the heartbeat in flight is answered and recorded, and ignores heartbeats after it', async () => {
  const peer = await slowPeer(150);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bhb-'));
  const db = openStore(dir);
  try {
    const store = createMonitorStore(db.db, 'shop');
    const hb = createHeartbeat({
      peer: { url: peer.url, name: 'backup-host', intervalMs: 1_000, timeoutMs: 4_000, forMs: 0, severity: 'critical', labels: {}, alert: true },
      self: 'shop@primary',
      store,
      clock: Date.now,
    });
    await hb.start(() => {});
    await hb.stop();
    // The agent closes the store right after stopping: an answer landing later would write to a closed database.
    assert.equal(peer.requests(), 1);
    const row = store.heartbeat('backup-host');
    assert.ok(row?.lastSentMs, 'the answer was recorded before stop() returned');
    assert.equal(row.lastError, undefined);
    hb.received('backup-host@other');
    assert.equal(store.heartbeat('backup-host')?.lastSeenMs, undefined, 'a heartbeat after stop is not recorded');
  } finally {
    db.close();
    peer.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
