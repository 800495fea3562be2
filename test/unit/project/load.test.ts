import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../../src/lib/errors.js';
import { loadProject } from '../../../src/project/load.js';
import { defaultDeployPolicy } from '../../../src/project/model.js';
import { load, loadError, writeProject, yaml } from './helpers.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/projects');
const full = path.join(fixtures, 'full');
const fullEnv = { NGINX_TAG: '', PASSTHROUGH: 'pt' };

test('full fixture: project-level resources', async () => {
  const p = await loadProject(full, { env: fullEnv });
  assert.equal(p.name, 'full-stack');
  assert.equal(p.dir, full);
  assert.equal(p.stateDir, path.join(full, 'var/berth'));
  assert.deepEqual(p.composeFiles, [path.join(full, 'compose.yaml')]);
  assert.equal(p.berthFile, path.join(full, 'berth.yaml'));
  assert.deepEqual(Object.keys(p.services), ['web', 'api', 'worker']);
  assert.deepEqual(p.networks.back, {
    key: 'back',
    name: 'full-stack_back',
    external: false,
    driver: 'bridge',
    internal: true,
    labels: { purpose: 'internal' },
  });
  assert.equal(p.networks.shared?.name, 'shared');
  assert.equal(p.networks.default?.name, 'full-stack_default', 'worker uses the implicit default network');
  assert.equal(p.volumes.data?.name, 'full-stack_data');
  assert.equal(p.volumes.legacy?.name, 'legacy-data');
  assert.deepEqual(p.secrets.api_key, { key: 'api_key', file: path.join(full, 'secrets/api_key.txt') });
  assert.deepEqual(p.edge, {
    image: 'berth-haproxy:local',
    listeners: [
      { hostIp: '127.0.0.1', hostPort: 8000 },
      { hostIp: '0.0.0.0', hostPort: 8080, defaultService: 'web' },
    ],
  });
});

test('full fixture: web service (merge keys, short and long syntax, limits, route)', async () => {
  const web = (await loadProject(full, { env: fullEnv })).services.web;
  assert.ok(web);
  assert.equal(web.image, 'nginx:1.27', 'opts.env NGINX_TAG="" overrides .env, so :- applies');
  assert.deepEqual(web.command, ['nginx', '-g', 'daemon off;']);
  assert.equal(web.restart, 'unless-stopped');
  assert.deepEqual(web.labels, { team: 'ops' });
  assert.deepEqual(web.ports, [
    { containerPort: 443, protocol: 'tcp', hostPort: 8443, hostIp: '127.0.0.1' },
    { containerPort: 9000, protocol: 'udp', hostPort: 9000 },
    { containerPort: 9001, protocol: 'udp', hostPort: 9001 },
  ]);
  assert.deepEqual(web.expose, [8081, 8082]);
  assert.deepEqual(web.mounts, [
    { type: 'bind', source: path.join(full, 'html'), target: '/usr/share/nginx/html', readOnly: true, createHostPath: true },
    { type: 'bind', source: path.join(full, 'config/site.conf'), target: '/site', readOnly: true },
    { type: 'bind', source: path.join(full, 'config/site.conf'), target: '/etc/nginx/conf.d/default.conf', readOnly: true },
  ]);
  assert.deepEqual(web.tmpfs, { '/run': 'size=16m', '/tmp': '', '/var/cache/nginx': `size=${64 * 1024 ** 2}` });
  assert.deepEqual(web.networks, { front: { aliases: ['www'] }, back: { aliases: [] } });
  assert.deepEqual(web.dependsOn, { api: 'service_healthy' });
  assert.deepEqual(web.healthcheck, {
    test: ['CMD-SHELL', 'curl -fsS localhost/healthz'],
    intervalMs: 90_000,
    timeoutMs: 500,
    startPeriodMs: 10_000,
    retries: 3,
  });
  assert.deepEqual(web.limits, { nanoCpus: 500_000_000, memoryBytes: 512 * 1024 ** 2, pids: 100 });
  assert.equal(web.readOnly, true);
  assert.deepEqual([web.capAdd, web.capDrop, web.securityOpt], [['NET_BIND_SERVICE'], ['ALL'], ['no-new-privileges:true']]);
  assert.deepEqual([web.stopSignal, web.stopGracePeriodMs, web.init], ['SIGQUIT', 20_000, true]);
  assert.deepEqual(web.pos, { file: 'compose.yaml', line: 11, col: 3 });
  assert.deepEqual(web.route, { hosts: ['www.localhost', 'full.localhost'], port: 80 });
  assert.deepEqual(web.probe, { path: '/healthz', port: 80, intervalMs: 1000, timeoutMs: 2000, statusMin: 200, statusMax: 200 });
  assert.deepEqual(web.deploy, { drainMs: 5000, verifyMs: 10_000, healthTimeoutMs: 120_000, keepImages: 3 });
});

test('full fixture: api and worker services', async () => {
  const { api, worker } = (await loadProject(full, { env: fullEnv })).services;
  assert.ok(api && worker);
  assert.equal(api.image, 'ghcr.io/example/api:1.2.3');
  assert.deepEqual(api.entrypoint, ['/app/api', '--serve']);
  assert.deepEqual(api.environment, {
    LOG_LEVEL: 'debug',
    FROM_FILE: 'file value',
    FROM_DOTENV: 'from-dotenv',
    PASSTHROUGH: 'pt',
  });
  assert.deepEqual(api.mounts, [
    { type: 'volume', source: 'data', target: '/var/lib/api', readOnly: false },
    { type: 'volume', target: '/tmp/anon', readOnly: false },
    { type: 'bind', source: path.join(full, 'config'), target: '/etc/api', readOnly: true },
  ]);
  assert.deepEqual(api.secrets, [
    { source: 'db_password', target: '/run/secrets/db_password' },
    { source: 'api_key', target: '/run/secrets/key.txt' },
  ]);
  assert.deepEqual(api.limits, { nanoCpus: 2_000_000_000, memoryBytes: 1.5 * 1024 ** 3 });
  assert.equal(api.restart, 'on-failure');
  assert.deepEqual([api.user, api.workingDir, api.hostname], ['1000:1000', '/app', 'api-host']);
  assert.deepEqual(api.route, { hosts: ['api.localhost'], port: 3000 }, 'route.port defaults to the first expose');
  assert.deepEqual(api.probe, { path: '/health', port: 3000, intervalMs: 2000, timeoutMs: 1000, statusMin: 200, statusMax: 299 });
  assert.deepEqual(worker.healthcheck, { test: ['NONE'] });
  assert.equal(worker.restart, 'on-failure');
  assert.deepEqual(worker.networks, { default: { aliases: [] } });
  assert.deepEqual(worker.deploy, { ...defaultDeployPolicy, drainMs: 5000, keepImages: 3 });
});

const minimal = { 'compose.yaml': yaml('services:', '  web:', '    image: nginx') };

test('project name: COMPOSE_PROJECT_NAME, then berth.yaml, then compose, then folder', async () => {
  const named = { 'compose.yaml': yaml('name: from-compose', 'services:', '  web:', '    image: nginx') };
  const withBerth = { ...named, 'berth.yaml': 'name: From_Berth\n' };
  assert.equal((await load(withBerth, { env: { COMPOSE_PROJECT_NAME: 'From.Env' } })).name, 'fromenv');
  assert.equal((await load(withBerth)).name, 'from_berth');
  assert.equal((await load(named)).name, 'from-compose');
  assert.equal((await loadProject(await writeProject(minimal, 'My App!'), { env: {} })).name, 'myapp');
});

test('state dir: option, then BERTH_STATE_DIR, then berth.yaml, then .berth', async () => {
  const dir = await writeProject({ ...minimal, 'berth.yaml': 'state_dir: ./state\n' });
  assert.equal((await loadProject(dir, { env: {}, stateDir: '/opt/s' })).stateDir, '/opt/s');
  assert.equal((await loadProject(dir, { env: { BERTH_STATE_DIR: '/var/s' } })).stateDir, '/var/s');
  assert.equal((await loadProject(dir, { env: {} })).stateDir, path.join(dir, 'state'));
  const plain = await writeProject(minimal);
  assert.equal((await loadProject(plain, { env: {} })).stateDir, path.join(plain, '.berth'));
});

test('compose file discovery order and a missing folder', async () => {
  const dir = await writeProject({
    'docker-compose.yml': yaml('services:', '  old:', '    image: a'),
    'compose.yml': yaml('services:', '  new:', '    image: b'),
  });
  const p = await loadProject(dir, { env: {} });
  assert.deepEqual(Object.keys(p.services), ['new']);
  const empty = await writeProject({});
  await assert.rejects(loadProject(empty, { env: {} }), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /^no compose file in .*; looked for compose.yaml, compose.yml, docker-compose.yaml/);
    return true;
  });
});

test('several compose files merge: maps deeply, lists concatenated, errors name the right file', async () => {
  const files = {
    'compose.yaml': yaml(
      'services:',
      '  web:',
      '    image: nginx:1',
      '    command: ["a", "b"]',
      '    environment: [A=1, B=2]',
      '    ports: ["80:80"]',
    ),
    'compose.prod.yaml': yaml(
      'services:',
      '  web:',
      '    image: nginx:2',
      '    command: ["c"]',
      '    environment: {B: "3", C: "4"}',
      '    ports: ["443:443"]',
    ),
  };
  const opts = { composeFiles: ['compose.yaml', 'compose.prod.yaml'] };
  const web = (await load(files, opts)).services.web;
  assert.ok(web);
  assert.equal(web.image, 'nginx:2');
  assert.deepEqual(web.command, ['c']);
  assert.deepEqual(web.environment, { A: '1', B: '3', C: '4' });
  assert.deepEqual(web.ports.map((p) => p.hostPort), [80, 443]);
  const broken = { ...files, 'compose.prod.yaml': yaml('services:', '  web:', '    depends_on: [db]') };
  assert.equal(await loadError(broken, opts), 'compose.prod.yaml:3:18 services.web.depends_on[0]: unknown service `db`; services are: web');
});

test('routed services: default listener :80 when routes have hosts, and the route port moves to the edge', async () => {
  const p = await load({
    'compose.yaml': yaml('services:', '  web:', '    image: nginx', '    ports: ["127.0.0.1:8080:80", "9090:9090"]'),
    'berth.yaml': yaml('services:', '  web:', '    route: {hosts: [web.localhost]}'),
  });
  assert.deepEqual(p.edge.listeners, [
    { hostIp: '0.0.0.0', hostPort: 80 },
    { hostIp: '127.0.0.1', hostPort: 8080, defaultService: 'web' },
  ]);
  assert.deepEqual(p.services.web?.ports, [{ containerPort: 9090, protocol: 'tcp', hostPort: 9090 }]);
  assert.deepEqual(p.services.web?.route, { hosts: ['web.localhost'], port: 80 });
});

test('no listeners without routes; same port on other addresses or protocols does not clash', async () => {
  const p = await load({
    'compose.yaml': yaml(
      'x-top: allowed',
      'services:',
      '  dns:',
      '    image: dns',
      '    ports: ["53:53/tcp", "53:53/udp"]',
      '  a:',
      '    image: a',
      '    ports: ["127.0.0.1:8080:80"]',
      '  b:',
      '    image: b',
      '    ports: ["127.0.0.2:8080:80"]',
    ),
  });
  assert.deepEqual(p.edge.listeners, []);
  assert.equal(p.services.dns?.ports.length, 2);
});

test('an optional env_file may be missing; secret files are not checked at load', async () => {
  const p = await load({
    'compose.yaml': yaml(
      'services:',
      '  web:',
      '    image: nginx',
      '    env_file: [{path: missing.env, required: false}]',
      '    secrets: [pw]',
      'secrets:',
      '  pw:',
      '    file: ./nope/pw.txt',
    ),
  });
  assert.deepEqual(p.services.web?.environment, {});
  assert.match(p.secrets.pw?.file ?? '', /\/nope\/pw\.txt$/);
});
