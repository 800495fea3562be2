import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jobServices, startOrder } from '../../../src/deploy/order.js';
import { isSecretKey, makeSnapshot, restoreSecrets } from '../../../src/deploy/snapshot.js';
import { project, service } from '../fixtures.js';

describe('startOrder', () => {
  it('starts dependencies first, ties by name', () => {
    const p = project([
      service('web', { dependsOn: { api: 'service_healthy' } }),
      service('api', { dependsOn: { db: 'service_healthy', cache: 'service_started' } }),
      service('db'),
      service('cache'),
      service('migrate', { dependsOn: { db: 'service_healthy' } }),
    ]);
    assert.deepEqual(startOrder(p), ['cache', 'db', 'api', 'migrate', 'web']);
  });

  it('refuses a cycle naming the services in it', () => {
    const p = project([service('a', { dependsOn: { b: 'service_started' } }), service('b', { dependsOn: { a: 'service_started' } }), service('c')]);
    assert.throws(() => startOrder(p), /cycle between: a, b/);
  });

  it('finds run-to-completion jobs', () => {
    const p = project([service('web', { dependsOn: { migrate: 'service_completed_successfully', db: 'service_healthy' } }), service('migrate'), service('db')]);
    assert.deepEqual([...jobServices(p)], ['migrate']);
  });
});

describe('deployment snapshots', () => {
  const s = service('web', { environment: { DB_PASSWORD: 'hunter2', API_KEY: 'k', MODE: 'prod' } });
  const snap = makeSnapshot({ service: s, imageRef: 'x:1', imageId: 'sha256:1', repoDigests: [], configHash: '' });

  it('never stores secret-looking values', () => {
    assert.equal(snap.service.environment.MODE, 'prod');
    assert.match(snap.service.environment.DB_PASSWORD!, /^berth-redacted:sha256:[0-9a-f]{16}$/);
    assert.doesNotMatch(JSON.stringify(snap), /hunter2/);
    assert.ok(isSecretKey('GITEA_TOKEN') && !isSecretKey('PORT'));
  });

  it('restores secrets from the current definition, and refuses when one is gone', () => {
    const now = service('web', { environment: { DB_PASSWORD: 'new', API_KEY: 'k2' } });
    assert.deepEqual(restoreSecrets(snap, now).environment, { DB_PASSWORD: 'new', API_KEY: 'k2', MODE: 'prod' });
    assert.throws(() => restoreSecrets(snap, service('web')), /secret DB_PASSWORD it ran with is no longer defined/);
  });
});
