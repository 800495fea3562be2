/** Blue-green deploys against the real Docker engine and HAProxy edge. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestProject, dockerPs, loadUntil, webStack, type TestProject } from './harness.js';

describe('berth up / deploy / rollback (real dockerd + haproxy)', () => {
  let p: TestProject;
  before(async () => {
    p = await createTestProject(webStack);
  });
  after(async () => p.cleanup());

  it('up creates the stack and routes the host name through the edge', async () => {
    const r = await p.berth(['up']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await p.get('/', 'app.localhost')).body.trim(), 'app v1');
    const unknown = await p.get('/', 'nobody.localhost');
    assert.equal(unknown.status, 404);
    assert.deepEqual(await dockerPs(p.name), [`${p.name}-edge running`, `${p.name}-web-blue running`]);
  });

  it('up again changes nothing', async () => {
    const before = await p.berth(['status', '--json']);
    const r = await p.berth(['up']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /up to date, nothing changed/);
    const afterStatus = await p.berth(['status', '--json']);
    assert.equal(JSON.parse(afterStatus.stdout).services[0].deployment, JSON.parse(before.stdout).services[0].deployment);
  });

  it('status shows color, image, digest, health, uptime and route', async () => {
    const r = await p.berth(['status', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.edge.running, true);
    const web = s.services[0];
    assert.equal(web.service, 'web');
    assert.equal(web.color, 'blue');
    assert.equal(web.state, 'running');
    assert.equal(web.image, 'berth-test/app:v1');
    assert.match(web.imageId, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(web.route, { hosts: ['app.localhost'], port: 80 });
    assert.ok(web.uptimeSeconds >= 0);
    const text = await p.berth(['status']);
    assert.match(text.stdout, /web\s+blue\s+running/);
  });

  it('deploy switches to the new color under load with zero failed requests', async () => {
    const stop = new AbortController();
    const load = loadUntil(p.edgePort, 'app.localhost', stop.signal, 60_000);
    const r = await p.berth(['deploy', 'web', '--image', 'berth-test/app:v2']);
    stop.abort();
    const l = await load;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /edge switched blue → green in [\d.]+ ms/);
    assert.equal(l.errors, 0, `connection errors during deploy: ${l.errors}`);
    assert.equal(l.non2xx, 0, `non-2xx during deploy: ${l.non2xx}`);
    assert.ok(l.requests > 100, `too few requests: ${l.requests}`);
    assert.ok(l.bodies.get('app v2'), 'no request was served by the new version');
    assert.equal((await p.get()).body.trim(), 'app v2');
    assert.deepEqual(await dockerPs(p.name), [`${p.name}-edge running`, `${p.name}-web-green running`]);
  });

  it('the routed service\'s published port is owned by the edge and follows the switch', async () => {
    const status = JSON.parse((await p.berth(['status', '--json'])).stdout);
    const listener = status.edge.listeners.find((l: string) => l.endsWith('→ web'));
    assert.ok(listener, `no published-port listener in ${status.edge.listeners}`);
  });

  it('a new color that never becomes healthy is removed and the old one keeps serving', async () => {
    const r = await p.berth(['deploy', 'web', '--image', 'berth-test/app:never-healthy']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /GET \/healthz answered 404/);
    assert.match(r.stderr, /not healthy after 10 s|answered 404/);
    assert.equal((await p.get()).body.trim(), 'app v2');
    assert.deepEqual(await dockerPs(p.name), [`${p.name}-edge running`, `${p.name}-web-green running`]);
  });

  it('a crashing new color fails fast with its exit code and log tail', async () => {
    const r = await p.berth(['deploy', 'web', '--image', 'berth-test/app:crash']);
    assert.equal(r.code, 10, r.stderr);
    assert.match(r.stderr, /exited with code 1/);
    assert.match(r.stderr, /fatal: cannot start \(config missing\)/);
    assert.equal((await p.get()).body.trim(), 'app v2');
  });

  it('a version that dies after the switch is rolled back automatically', async () => {
    const stop = new AbortController();
    const load = loadUntil(p.edgePort, 'app.localhost', stop.signal, 60_000);
    const r = await p.berth(['deploy', 'web', '--image', 'berth-test/app:dies-later']);
    stop.abort();
    const l = await load;
    assert.equal(r.code, 11, r.stderr);
    assert.match(r.stderr, /rolled back: container .* exited with code 1/);
    const m = /traffic restored to green (\d+) ms after the failure was seen/.exec(r.stderr);
    assert.ok(m, r.stderr);
    assert.ok(Number(m[1]) < 10_000);
    assert.equal((await p.get()).body.trim(), 'app v2');
    assert.ok(l.bodies.get('app dies-later'), 'the failing version never served traffic before rollback');
    const history = JSON.parse((await p.berth(['history', 'web', '--json'])).stdout);
    assert.equal(history[0].status, 'rolled_back');
  });

  it('history lists deployments with outcome and timings', async () => {
    const r = await p.berth(['history', 'web', '--json']);
    const rows = JSON.parse(r.stdout) as Array<{ status: string; kind: string; switchMs?: number }>;
    assert.deepEqual(
      rows.map((d) => d.status),
      ['rolled_back', 'failed', 'failed', 'succeeded', 'succeeded'],
    );
    assert.ok((rows[3]!.switchMs ?? 1e9) < 1000);
  });

  it('rollback returns to the earlier deployment by digest, even after its tag moved', async () => {
    // Retag v1's tag to v3's image: the rollback must still bring back what ran (v1's digest).
    const { execFileSync } = await import('node:child_process');
    execFileSync('docker', ['tag', 'berth-test/app:v1', `berth-test/app:${p.name}`]);
    const d1 = await p.berth(['deploy', 'web', '--image', `berth-test/app:${p.name}`]);
    assert.equal(d1.code, 0, d1.stderr);
    execFileSync('docker', ['tag', 'berth-test/app:v3', `berth-test/app:${p.name}`]);
    const d2 = await p.berth(['deploy', 'web', '--image', 'berth-test/app:v2']);
    assert.equal(d2.code, 0, d2.stderr);
    const hist = JSON.parse((await p.berth(['history', 'web', '--json'])).stdout) as Array<{ id: string; imageRef: string; status: string }>;
    const target = hist.find((h) => h.imageRef === `berth-test/app:${p.name}` && h.status === 'succeeded')!;
    const r = await p.berth(['rollback', 'web', '--to', target.id]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await p.get()).body.trim(), 'app v1');
    execFileSync('docker', ['rmi', `berth-test/app:${p.name}`]);
  });

  it('rollback without --to returns to the previous successful deployment', async () => {
    const r = await p.berth(['rollback', 'web']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await p.get()).body.trim(), 'app v2');
  });

  it('keeps the images of the last successful deployments from pruning', async () => {
    const { execFileSync } = await import('node:child_process');
    const tags = execFileSync('docker', ['images', `berth-keep/${p.name}-web`, '--format', '{{.Tag}}']).toString().trim().split('\n');
    assert.ok(tags.length >= 3 && tags.length <= 5, `keep tags: ${tags}`);
  });

  it('logs prints the live container output', async () => {
    await p.get('/');
    const r = await p.berth(['logs', 'web', '--tail', '50']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /GET|response|url|\//);
  });

  it('down removes containers, edge and networks', async () => {
    const r = await p.berth(['down']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await dockerPs(p.name), []);
  });
});
