/** Every refusal names file:line:col and the key path; one line per case. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadError, yaml } from './helpers.js';

const web = ['services:', '  web:', '    image: nginx'];

const cases: [string, Record<string, string>, string][] = [
  [
    'build',
    { 'compose.yaml': yaml('services:', '  web:', '    build: .', '    ports: ["80:80"]') },
    'compose.yaml:3:5 services.web.build: build is not supported: berth deploys images; build it with `docker build -t NAME .` and set `image: NAME`',
  ],
  [
    'unknown service key',
    { 'compose.yaml': yaml(...web, '    colour: blue') },
    'compose.yaml:4:5 services.web.colour: unsupported key `colour` (custom keys must start with `x-`)',
  ],
  [
    'misspelt service key',
    { 'compose.yaml': yaml(...web, '    enviroment: { A: b }') },
    'compose.yaml:4:5 services.web.enviroment: unsupported key `enviroment`: did you mean `environment`?',
  ],
  [
    'Compose setting berth does not take (not answered with the berth key it resembles)',
    { 'compose.yaml': yaml(...web, '    cpu_shares: 512') },
    'compose.yaml:4:5 services.web.cpu_shares: unsupported key `cpu_shares`: a Compose setting berth does not support; remove it',
  ],
  [
    'top-level Compose setting berth does not take',
    { 'compose.yaml': yaml(...web, 'include: [other.yaml]') },
    'compose.yaml:4:1 include: unsupported key `include`: a Compose setting berth does not support; remove it',
  ],
  [
    'unknown top-level key',
    { 'compose.yaml': yaml(...web, 'includes: []') },
    'compose.yaml:4:1 includes: unsupported key `includes` (this mapping takes `name`, `version`, `services`, `networks`, `volumes`, `secrets`, `configs`; custom keys must start with `x-`)',
  ],
  [
    'privileged',
    { 'compose.yaml': yaml(...web, '    privileged: true') },
    'compose.yaml:4:5 services.web.privileged: unsupported key `privileged`: berth does not run privileged containers; grant what is needed with cap_add',
  ],
  [
    'no image',
    { 'compose.yaml': yaml('services:', '  web:', '    restart: always') },
    'compose.yaml:2:3 services.web: service has no `image`; berth deploys images, set `image: NAME`',
  ],
  [
    'depends_on unknown service (list)',
    { 'compose.yaml': yaml(...web, '    depends_on:', '      - db') },
    'compose.yaml:5:9 services.web.depends_on[0]: unknown service `db`; services are: web',
  ],
  [
    'depends_on unknown service (map)',
    { 'compose.yaml': yaml(...web, '    depends_on:', '      db:', '        condition: service_healthy') },
    'compose.yaml:5:7 services.web.depends_on.db: unknown service `db`; services are: web',
  ],
  [
    'depends_on bad condition',
    { 'compose.yaml': yaml(...web, '  db:', '    image: postgres', '    depends_on:', '      web: {condition: started}') },
    'compose.yaml:7:24 services.db.depends_on.web.condition: should be one of "service_started", "service_healthy", "service_completed_successfully"',
  ],
  [
    'undeclared named volume',
    { 'compose.yaml': yaml(...web, '    volumes:', '      - data:/var/lib/data') },
    'compose.yaml:5:9 services.web.volumes[0]: volume `data` is not declared in the top-level `volumes:` section',
  ],
  [
    'undeclared network (list)',
    { 'compose.yaml': yaml(...web, '    networks: [front]') },
    'compose.yaml:4:16 services.web.networks[0]: network `front` is not declared in the top-level `networks:` section',
  ],
  [
    'undeclared network (map)',
    { 'compose.yaml': yaml(...web, '    networks:', '      back:', '        aliases: [api]') },
    'compose.yaml:5:7 services.web.networks.back: network `back` is not declared in the top-level `networks:` section',
  ],
  [
    'undeclared secret',
    { 'compose.yaml': yaml(...web, '    secrets: [token]') },
    'compose.yaml:4:15 services.web.secrets[0]: secret `token` is not declared in the top-level `secrets:` section',
  ],
  [
    'secret from environment',
    { 'compose.yaml': yaml(...web, 'secrets:', '  token:', '    environment: TOKEN') },
    'compose.yaml:5:3 secrets.token.file: is required\n' +
      'compose.yaml:6:5 secrets.token.environment: unsupported key `environment`: berth mounts secrets from files; write the value to a file and use `file:`',
  ],
  [
    'bad duration',
    { 'compose.yaml': yaml(...web, '    healthcheck:', '      test: curl -f localhost', '      interval: soon') },
    'compose.yaml:6:17 services.web.healthcheck.interval: should be a duration like "10s"',
  ],
  [
    'bad memory',
    { 'compose.yaml': yaml(...web, '    mem_limit: lots') },
    'compose.yaml:4:16 services.web.mem_limit: should be a size like "512M"',
  ],
  [
    'bad port',
    { 'compose.yaml': yaml(...web, '    ports:', '      - "80:80/sctp"') },
    'compose.yaml:5:9 services.web.ports[0]: should be a port like "8080:80", "127.0.0.1:8080:80/tcp" or "80"; protocol must be tcp or udp, got "80:80/sctp"',
  ],
  [
    'list where a mapping belongs',
    { 'compose.yaml': yaml(...web, '    healthcheck: [curl]') },
    'compose.yaml:4:18 services.web.healthcheck: should be a mapping',
  ],
  [
    'port clash between services',
    {
      'compose.yaml': yaml(...web, '    ports: ["8080:80"]', '  api:', '    image: api', '    ports:', '      - 127.0.0.1:8080:3000'),
    },
    'compose.yaml:8:9 services.api.ports[0]: port clash: host port 8080 is published by web and api (also at compose.yaml:4:13)',
  ],
  [
    'port clash with an edge listener',
    {
      'compose.yaml': yaml(...web, '    ports: ["8443:443"]'),
      'berth.yaml': yaml('edge:', '  listen: ["127.0.0.1:8443"]'),
    },
    'compose.yaml:4:13 services.web.ports[0]: port clash: host port 8443 is published by edge.listen and web (also at berth.yaml:2:12)',
  ],
  [
    'berth.yaml has settings for unknown service',
    { 'compose.yaml': yaml(...web), 'berth.yaml': yaml('services:', '  api:', '    route: {hosts: [api.localhost], port: 80}') },
    'berth.yaml:2:3 services.api: berth.yaml has settings for unknown service `api`; services are: web',
  ],
  [
    'berth.yaml unknown key',
    { 'compose.yaml': yaml(...web), 'berth.yaml': yaml('deploy:', '  drain: 5s', '  rollback: true') },
    'berth.yaml:3:3 deploy.rollback: unsupported key `rollback` (this mapping takes `drain`, `verify`, `health_timeout`, `keep_images`; custom keys must start with `x-`)',
  ],
  [
    'berth.yaml key with dashes',
    { 'compose.yaml': yaml(...web), 'berth.yaml': yaml('deploy:', '  health-timeout: 30s') },
    'berth.yaml:2:3 deploy.health-timeout: unsupported key `health-timeout`: did you mean `health_timeout`?',
  ],
  [
    'berth.yaml route without a port',
    { 'compose.yaml': yaml(...web), 'berth.yaml': yaml('services:', '  web:', '    route: {hosts: [web.localhost]}') },
    'berth.yaml:3:5 services.web.route: service `web` publishes and exposes no port; set `route.port`',
  ],
  [
    'berth.yaml bad status',
    {
      'compose.yaml': yaml(...web, '    expose: [80]'),
      'berth.yaml': yaml('services:', '  web:', '    health: {path: /, status: "399-200"}'),
    },
    'berth.yaml:3:31 services.web.health.status: should be an HTTP status like 200 or a range like "200-399"',
  ],
  [
    'malformed YAML',
    { 'compose.yaml': yaml(...web, '    ports: ["80:80"', '  db:') },
    'compose.yaml:5:3 invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
  ],
  [
    'duplicate key',
    { 'compose.yaml': yaml(...web, '    image: httpd') },
    'compose.yaml:4:5 invalid YAML: Map keys must be unique',
  ],
  [
    'required env_file missing',
    { 'compose.yaml': yaml(...web, '    env_file: [app.env]') },
    'compose.yaml:4:16 services.web.env_file[0]: env file app.env not found (set `required: false` if it is optional)',
  ],
  [
    'bad .env line',
    { 'compose.yaml': yaml(...web), '.env': 'A=1\n!!\n' },
    '.env:2:1 should be KEY=VALUE, got "!!"',
  ],
];

for (const [name, files, expected] of cases) {
  test(`refuses: ${name}`, async () => {
    assert.equal(await loadError(files), expected);
  });
}

test('every problem is reported at once, in file order', async () => {
  const message = await loadError({
    'compose.yaml': yaml(
      'services:',
      '  web:',
      '    build: .',
      '    privileged: true',
      '    depends_on: [cache]',
      '  db:',
      '    image: postgres',
      '    volumes: ["data:/var/lib/postgresql/data"]',
    ),
    'berth.yaml': yaml('services:', '  api: {}'),
  });
  assert.deepEqual(message.split('\n'), [
    'compose.yaml:3:5 services.web.build: build is not supported: berth deploys images; build it with `docker build -t NAME .` and set `image: NAME`',
    'compose.yaml:4:5 services.web.privileged: unsupported key `privileged`: berth does not run privileged containers; grant what is needed with cap_add',
    'compose.yaml:8:15 services.db.volumes[0]: volume `data` is not declared in the top-level `volumes:` section',
    'berth.yaml:2:3 services.api: berth.yaml has settings for unknown service `api`; services are: web, db',
  ]);
});

test('a value that failed interpolation is reported once, and other problems still are', async () => {
  const message = await loadError({
    'compose.yaml': yaml(...web, '    ports: ["${PORT:?set PORT}:80"]', '    colour: blue'),
  });
  assert.deepEqual(message.split('\n'), [
    'compose.yaml:4:13 services.web.ports[0]: required variable PORT is missing a value: set PORT',
    'compose.yaml:5:5 services.web.colour: unsupported key `colour` (custom keys must start with `x-`)',
  ]);
});

test('a schema problem in one berth.yaml section does not hide the others\' problems; checks reading the broken section stay quiet', async () => {
  const compose = yaml(...web, '    volumes: ["data:/d"]', 'volumes:', '  data: {}');
  const message = await loadError({
    'compose.yaml': compose,
    'berth.yaml': yaml(
      'backup:',
      '  repository: repo',
      '  sources:',
      '    db: { type: mariadb }',
      'services:',
      '  web:',
      '    backup: { volumes: [nope] }',
      'monitor:',
      '  probes:',
      '    x: { type: bogus }',
    ),
  });
  assert.deepEqual(message.split('\n'), [
    'berth.yaml:4:9 backup.sources.db: a mariadb source needs `database` (one database per source, so a restore drill can load it into a scratch database)',
    'berth.yaml:7:25 services.web.backup.volumes[0]: `nope` is not a named volume of service `web`; its named volumes are: data',
    'berth.yaml:10:16 monitor.probes.x.type: should be one of "http", "tcp", "mariadb", "postgres", "redis", "tls", "backup", "query"',
  ]);
  // A typo in backup: the per-service backup settings are not told that backup: is missing.
  const broken = await loadError({
    'compose.yaml': compose,
    'berth.yaml': yaml('backup:', '  repository: repo', '  retention: { daily: -1 }', 'services:', '  web:', '    backup: { volumes: [data] }', '  api: {}'),
  });
  assert.deepEqual(broken.split('\n'), [
    'berth.yaml:3:23 backup.retention.daily: should be a whole number (0 or more)',
    'berth.yaml:7:3 services.api: berth.yaml has settings for unknown service `api`; services are: web',
  ]);
});
