/** A multi-service stack: depends_on order and health conditions, .env, secrets, volumes, and the recreate path. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { createTestProject, dockerPs, freePort, httpGet, type TestProject } from './harness.js';

const files = {
  '.env': 'APP_TAG=v1\nGREETING=hello\n',
  'db-password.txt': 's3cret\n',
  'compose.yaml': `
services:
  web:
    image: berth-test/app:\${APP_TAG}
    environment:
      GREETING: \${GREETING:-unset}
      DB_PASSWORD_FILE: /run/secrets/db_password
    depends_on:
      db: { condition: service_healthy }
    secrets: [db_password]
    volumes: ["webdata:/data"]
    read_only: true
    tmpfs: ["/tmp"]
    cap_drop: [ALL]
    cap_add: [NET_BIND_SERVICE]
    deploy: { resources: { limits: { cpus: "0.5", memory: 64M } } }
  db:
    image: berth-test/app:v1
    environment: { DIES_AFTER: "1" }
    ports: ["127.0.0.1:{{PORT2}}:80"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "-", "http://127.0.0.1/healthz"]
      interval: 500ms
      timeout: 2s
      retries: 5
volumes:
  webdata:
secrets:
  db_password:
    file: ./db-password.txt
`,
  'berth.yaml': `
name: {{NAME}}
edge:
  listen: ["127.0.0.1:{{EDGE_PORT}}"]
services:
  web:
    route: { hosts: [app.localhost], port: 80 }
    health: { path: /healthz, interval: 500ms }
    deploy: { drain: 1s, verify: 2s }
  db:
    deploy: { verify: 3s }
`,
};

function inspect(container: string, format: string): string {
  return execFileSync('docker', ['inspect', '-f', format, container]).toString().trim();
}

describe('a multi-service stack (real dockerd + haproxy)', () => {
  let p: TestProject;
  before(async () => {
    p = await createTestProject(files);
  });
  after(async () => p.cleanup());

  it('up starts db first, waits for it to be healthy, then web', async () => {
    const r = await p.berth(['up']);
    assert.equal(r.code, 0, r.stderr);
    const dbHealthy = r.stderr.indexOf('db: blue healthy');
    const webStart = r.stderr.indexOf('web: starting blue');
    assert.ok(dbHealthy > 0 && webStart > dbHealthy, r.stderr);
    assert.equal(inspect(`${p.name}-db-blue`, '{{.State.Health.Status}}'), 'healthy');
  });

  it('applies .env interpolation, secrets, volumes and hardening to the container', () => {
    const web = `${p.name}-web-blue`;
    assert.equal(inspect(web, '{{.Config.Image}}').startsWith('sha256:'), true);
    assert.match(inspect(web, '{{json .Config.Env}}'), /"GREETING=hello"/);
    assert.equal(execFileSync('docker', ['exec', web, 'cat', '/run/secrets/db_password']).toString(), 's3cret\n');
    assert.equal(inspect(web, '{{.HostConfig.ReadonlyRootfs}}'), 'true');
    assert.equal(inspect(web, '{{json .HostConfig.CapDrop}}'), '["ALL"]');
    assert.equal(inspect(web, '{{.HostConfig.Memory}}'), String(64 * 1024 * 1024));
    assert.equal(inspect(web, '{{.HostConfig.NanoCpus}}'), '500000000');
    assert.match(inspect(web, '{{range .Mounts}}{{.Name}} {{end}}'), new RegExp(`${p.name}_webdata`));
    execFileSync('docker', ['exec', web, 'sh', '-c', 'echo kept > /data/marker']);
  });

  it('a service without a route is recreated, with a plain warning and the measured gap', async () => {
    const r = await p.berth(['deploy', 'db', '--image', 'berth-test/app:v2']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /db has no edge route \(it publishes raw port \d+\): replacing it by stop-and-start/);
    assert.match(r.stdout, /db: recreate to green .* gap [\d.]+ (ms|s)/);
    const served = await httpGet(await portOf(`${p.name}-db-green`), '/', 'x');
    assert.equal(served.body.trim(), 'app v2');
    const hist = JSON.parse((await p.berth(['history', 'db', '--json'])).stdout);
    assert.equal(hist[0].kind, 'recreate');
    assert.ok(hist[0].gapMs > 0);
  });

  it('a recreated service that dies in the verification window gets its previous container back', async () => {
    const r = await p.berth(['deploy', 'db', '--image', 'berth-test/app:dies-later']);
    assert.equal(r.code, 11, r.stderr);
    assert.match(r.stderr, /rolled back: container .* exited with code 1.*previous container restarted/s);
    assert.equal((await httpGet(await portOf(`${p.name}-db-green`), '/', 'x')).body.trim(), 'app v2');
    assert.deepEqual((await dockerPs(p.name)).filter((l) => l.includes('-db-')), [`${p.name}-db-green running`]);
  });

  it('a blue-green deploy keeps the named volume data', async () => {
    const r = await p.berth(['deploy', 'web', '--image', 'berth-test/app:v2']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(execFileSync('docker', ['exec', `${p.name}-web-green`, 'cat', '/data/marker']).toString(), 'kept\n');
  });

  it('up brings the compose definition back (drift) and is then idempotent', async () => {
    const r1 = await p.berth(['up']);
    assert.equal(r1.code, 0, r1.stderr);
    assert.match(r1.stdout, /web replaced|db replaced/);
    assert.equal((await p.get()).body.trim(), 'app v1');
    const r2 = await p.berth(['up']);
    assert.match(r2.stdout, /up to date, nothing changed/);
    assert.equal((await dockerPs(p.name)).length, 3);
  });

  it('a changed .env value redeploys only the affected service', async () => {
    p.write('.env', 'APP_TAG=v3\nGREETING=hello\n');
    const r = await p.berth(['up']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /web replaced/);
    assert.doesNotMatch(r.stdout, /db replaced/);
    assert.equal((await p.get()).body.trim(), 'app v3');
  });

  it('a new host name reloads the edge gracefully; a new listener recreates it', async () => {
    p.write('berth.yaml', files['berth.yaml'].replace('hosts: [app.localhost]', 'hosts: [app.localhost, www.localhost]'));
    const r = await p.berth(['up']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /edge reloaded/);
    assert.equal((await p.get('/', 'www.localhost')).body.trim(), 'app v3');
    const extra = await freePort();
    p.write('berth.yaml', files['berth.yaml'].replace('listen: ["127.0.0.1:{{EDGE_PORT}}"]', `listen: ["127.0.0.1:{{EDGE_PORT}}", "127.0.0.1:${extra}"]`));
    const r2 = await p.berth(['up']);
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(r2.stdout, /edge recreated/);
    assert.equal((await httpGet(extra, '/', 'app.localhost')).body.trim(), 'app v3');
  });
});

async function portOf(container: string): Promise<number> {
  return Number(inspect(container, '{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}'));
}
