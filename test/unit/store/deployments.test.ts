import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { BerthError } from '../../../src/lib/errors.js';
import { openStore, type Store } from '../../../src/store/db.js';
import { createDeploymentStore, type DeploymentStore, type NewDeployment } from '../../../src/store/deployments.js';

let dir: string;
let store: Store;
let now: number;
let deployments: DeploymentStore;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-deployments-'));
  store = openStore(dir);
  now = Date.UTC(2026, 10, 23, 9, 15, 0);
  deployments = createDeploymentStore(store.db, () => now);
});
afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function dep(id: string, over: Partial<NewDeployment> = {}): NewDeployment {
  return {
    id,
    project: 'shop',
    service: 'web',
    kind: 'deploy',
    color: 'blue',
    imageRef: 'shop/web:v1',
    imageId: `sha256:${id}`,
    phase: 'starting',
    snapshot: { imageRef: 'shop/web:v1', service: { name: 'web', environment: { A: '1' } } },
    user: 'alice',
    ...over,
  };
}

describe('deployment store', () => {
  it('inserts with defaults and reads the record back, snapshot parsed', () => {
    const inserted = deployments.insert(dep('d1'));
    assert.equal(inserted.status, 'running');
    assert.equal(inserted.startedAt, now);
    assert.deepEqual(deployments.get('d1'), inserted);
    assert.deepEqual(inserted.snapshot, { imageRef: 'shop/web:v1', service: { name: 'web', environment: { A: '1' } } });
    assert.equal('previousId' in inserted, false, 'absent optional fields are not set to undefined');
    assert.equal(deployments.get('nope'), undefined);
  });

  it('keeps optional fields given at insert', () => {
    const d = deployments.insert(dep('d2', { previousId: 'd1', status: 'succeeded', startedAt: 5, kind: 'recreate', color: 'green' }));
    assert.equal(d.previousId, 'd1');
    assert.equal(d.status, 'succeeded');
    assert.equal(d.startedAt, 5);
    assert.equal(d.kind, 'recreate');
    assert.equal(d.color, 'green');
  });

  it('updates only the fields in the patch', () => {
    deployments.insert(dep('d1'));
    deployments.update('d1', { phase: 'health', containerId: 'c1' });
    const d = deployments.update('d1', { phase: 'verify', switchedAt: now + 10, switchMs: 1.25, containerId: undefined });
    assert.equal(d.phase, 'verify');
    assert.equal(d.containerId, 'c1', 'undefined keeps the stored value');
    assert.equal(d.switchMs, 1.25);
    const done = deployments.update('d1', { status: 'failed', finishedAt: now + 20, error: 'boom', gapMs: 0, snapshot: { x: 1 } });
    assert.equal(done.status, 'failed');
    assert.equal(done.error, 'boom');
    assert.equal(done.gapMs, 0);
    assert.deepEqual(done.snapshot, { x: 1 });
    assert.equal(done.imageRef, 'shop/web:v1');
  });

  it('throws STATE when updating an unknown deployment', () => {
    assert.throws(() => deployments.update('ghost', { phase: 'x' }), (e: unknown) => e instanceof BerthError && e.code === 'STATE' && /ghost/.test(e.message));
  });

  it('lists per service and per project, newest first, with a limit', () => {
    deployments.insert(dep('a', { startedAt: 1 }));
    deployments.insert(dep('b', { startedAt: 2, service: 'db' }));
    deployments.insert(dep('c', { startedAt: 3 }));
    deployments.insert(dep('d', { startedAt: 4, project: 'other' }));
    assert.deepEqual(deployments.listForService('shop', 'web', 10).map((d) => d.id), ['c', 'a']);
    assert.deepEqual(deployments.listForService('shop', 'web', 1).map((d) => d.id), ['c']);
    assert.deepEqual(deployments.listForProject('shop', 10).map((d) => d.id), ['c', 'b', 'a']);
    assert.deepEqual(deployments.listForProject('shop', 2).map((d) => d.id), ['c', 'b']);
  });

  it('finds running deployments (oldest first) and the last successful ones', () => {
    deployments.insert(dep('a', { startedAt: 1, status: 'succeeded' }));
    deployments.insert(dep('b', { startedAt: 2, status: 'failed' }));
    deployments.insert(dep('c', { startedAt: 3, status: 'succeeded' }));
    deployments.insert(dep('d', { startedAt: 4, status: 'succeeded' }));
    deployments.insert(dep('e', { startedAt: 5 }));
    deployments.insert(dep('f', { startedAt: 6, service: 'db' }));
    deployments.insert(dep('g', { startedAt: 7, project: 'other' }));
    assert.deepEqual(deployments.running('shop').map((d) => d.id), ['e', 'f']);
    assert.deepEqual(deployments.lastSucceeded('shop', 'web', 2).map((d) => d.id), ['d', 'c']);
    assert.deepEqual(deployments.lastSucceeded('shop', 'db', 2), []);
  });
});

describe('live colors', () => {
  it('sets, replaces, lists and clears the live color of a service', () => {
    assert.equal(deployments.getLive('shop', 'web'), undefined);
    deployments.setLive('shop', 'web', 'blue', 'd1', 'c1');
    assert.deepEqual(deployments.getLive('shop', 'web'), { project: 'shop', service: 'web', color: 'blue', deploymentId: 'd1', containerId: 'c1', updatedAt: now });
    now += 1000;
    deployments.setLive('shop', 'web', 'green', 'd2', 'c2');
    deployments.setLive('shop', 'api', 'blue', 'd3', 'c3');
    deployments.setLive('other', 'web', 'blue', 'd4', 'c4');
    assert.deepEqual(deployments.getLive('shop', 'web'), { project: 'shop', service: 'web', color: 'green', deploymentId: 'd2', containerId: 'c2', updatedAt: now });
    assert.deepEqual(deployments.listLive('shop').map((l) => `${l.service}:${l.color}`), ['api:blue', 'web:green']);
    deployments.clearLive('shop', 'web');
    assert.equal(deployments.getLive('shop', 'web'), undefined);
    assert.deepEqual(deployments.listLive('shop').map((l) => l.service), ['api']);
    deployments.clearLive('shop', 'web');
  });

  it('refuses a live row whose color was changed by hand', () => {
    deployments.setLive('shop', 'web', 'blue', 'd1', 'c1');
    store.db.prepare("UPDATE live SET color = 'purple'").run();
    assert.throws(() => deployments.getLive('shop', 'web'), (e: unknown) => e instanceof BerthError && e.code === 'STATE' && /purple/.test(e.message));
  });
});
