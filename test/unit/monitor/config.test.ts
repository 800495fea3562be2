/** berth.yaml `monitor:` validation and defaults, one line per case. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { loadProject } from '../../../src/project/load.js';

const compose = 'services:\n  web:\n    image: app:1\n    ports: ["127.0.0.1:8080:80"]\n  db:\n    image: db:1\n';

async function load(berth: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bmc-'));
  fs.writeFileSync(path.join(dir, 'compose.yaml'), compose);
  fs.writeFileSync(path.join(dir, 'berth.yaml'), berth);
  try {
    return await loadProject(dir, { env: {} });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

it('defaults: a container probe per service, HTTP for routed ones, host probes; no rules', async () => {
  const p = await load('services:\n  web:\n    route: { port: 80 }\n    health: { path: /healthz }\n');
  assert.deepEqual(p.monitor.probes.map((x) => x.id), ['container:web', 'http:web', 'stats:web', 'container:db', 'stats:db', 'host:cpu', 'host:memory', 'host:disk:/']);
  const http = p.monitor.probes.find((x) => x.id === 'http:web');
  assert.equal(http?.kind === 'http' && http.url, 'http://127.0.0.1:8080/healthz');
  assert.deepEqual(p.monitor.listen, { hostIp: '127.0.0.1', hostPort: 9464 });
  assert.equal(p.monitor.groupWaitMs, 500);
});

it('custom probes and rules resolve', async () => {
  const p = await load(`monitor:
  host: false
  probes:
    db_ping: { type: postgres, service: db, port: 5432, interval: 30s }
    seq: { type: query, url: "http://127.0.0.1:3000/health", json_path: numbering.utilisation, condition: "> 90", runbook: "see 8.1" }
  rules:
    SequenceWarning: { probe: seq, condition: "value > 80", for: 5m, severity: warning }
`);
  const db = p.monitor.probes.find((x) => x.id === 'db_ping');
  assert.deepEqual(db?.kind === 'postgres' && db.target, { service: 'db', port: 5432 });
  assert.deepEqual(p.monitor.rules[0], { name: 'SequenceWarning', probe: 'seq', condition: { op: '>', threshold: 80 }, forMs: 300_000, severity: 'warning', labels: {} });
});

it('a route served over TLS gets a certificate-expiry probe per host name; overridable and disable-able', async () => {
  const p = await load(`monitor: { host: false, stats: false }
services:
  web:
    route: { hosts: [app.example.com, "*.example.org"], port: 80, tls: { listen: "127.0.0.1:8443" } }
  db:
    route: { port: 5432, tls: true }
`);
  const tls = p.monitor.probes.filter((x) => x.kind === 'tls');
  assert.deepEqual(
    tls.map((x) => x.kind === 'tls' && { id: x.id, target: x.target, serverName: x.serverName, warnDays: x.warnDays, severity: x.severity, intervalMs: x.intervalMs, service: x.service }),
    [
      { id: 'tls:web:app.example.com', target: { host: '127.0.0.1', port: 8443 }, serverName: 'app.example.com', warnDays: 14, severity: 'warning', intervalMs: 3_600_000, service: 'web' },
      { id: 'tls:web:*.example.org', target: { host: '127.0.0.1', port: 8443 }, serverName: 'probe.example.org', warnDays: 14, severity: 'warning', intervalMs: 3_600_000, service: 'web' },
      { id: 'tls:db:localhost', target: { host: '127.0.0.1', port: 443 }, serverName: 'localhost', warnDays: 14, severity: 'warning', intervalMs: 3_600_000, service: 'db' },
    ],
  );
  const tuned = await load(`monitor: { host: false, stats: false }
services:
  web:
    route: { hosts: [app.example.com], port: 80, tls: true }
    monitor: { tls: { warn_days: 30, interval: 10m, severity: critical, runbook: "renew with certbot" } }
  db:
    route: { port: 5432, tls: true }
    monitor: { tls: false }
`);
  const t = tuned.monitor.probes.filter((x) => x.kind === 'tls');
  assert.deepEqual(t.map((x) => x.id), ['tls:web:app.example.com']);
  assert.ok(t[0]!.kind === 'tls' && t[0]!.warnDays === 30 && t[0]!.intervalMs === 600_000 && t[0]!.severity === 'critical' && t[0]!.runbook === 'renew with certbot', JSON.stringify(t[0]));
  const plain = await load('services:\n  web:\n    route: { port: 80 }\n');
  assert.equal(plain.monitor.probes.filter((x) => x.kind === 'tls').length, 0, 'no route.tls, no TLS probe');
});

it('a backup host watches its replica: a replication probe (warning, every 1m), tunable or off', async () => {
  const replicate = 'backup:\n  repository: repo\n  password_env: LOCAL_PW\n  replicate:\n    from: sftp:h:/r\n    from_password_env: P\n';
  const on = await load(replicate);
  const probe = on.monitor.probes.find((x) => x.kind === 'replication');
  assert.deepEqual(probe, { id: 'replication', kind: 'replication', forMs: 0, severity: 'warning', labels: {}, alert: true, intervalMs: 60_000, timeoutMs: 5_000 });
  const tuned = await load(`${replicate}monitor:\n  replication: { interval: 5m, for: 1h, severity: critical }\n`);
  assert.deepEqual(tuned.monitor.probes.filter((x) => x.kind === 'replication').map((x) => [x.intervalMs, x.forMs, x.severity]), [[300_000, 3_600_000, 'critical']]);
  const off = await load(`${replicate}monitor:\n  replication: false\n`);
  assert.equal(off.monitor.probes.some((x) => x.kind === 'replication'), false);
  const primary = await load('backup:\n  repository: repo\n');
  assert.equal(primary.monitor.probes.some((x) => x.kind === 'replication'), false, 'a primary does not replicate');
});

it('a project with backups watches them: one backup probe over every source (warning, every 15s), tunable, replaced by a declared one, or off', async () => {
  const backup = 'backup:\n  repository: repo\n  sources:\n    db: { type: mariadb, service: db, database: app }\n';
  const on = await load(backup);
  assert.deepEqual(
    on.monitor.probes.find((x) => x.kind === 'backup'),
    { id: 'backup', kind: 'backup', forMs: 0, severity: 'warning', labels: {}, alert: true, sources: ['db', 'config'], maxAgeMs: 26 * 3_600_000, intervalMs: 15_000, timeoutMs: 5_000 },
  );
  // It alerts at once whatever the nightly job's retries: the probe itself waits for a retry that is due (probes.test.ts).
  const retrying = await load(backup.replace('  repository: repo\n', '  repository: repo\n  retries: 2\n  retry_wait: 30m\n'));
  assert.equal(retrying.monitor.probes.find((x) => x.kind === 'backup')?.forMs, 0);
  const tuned = await load(`${backup}monitor:\n  backup: { interval: 1m, max_age: 50h, for: 5m, severity: critical, runbook: "see docs/backups.md" }\n`);
  assert.deepEqual(
    tuned.monitor.probes.filter((x) => x.kind === 'backup').map((x) => x.kind === 'backup' && [x.intervalMs, x.maxAgeMs, x.forMs, x.severity, x.runbook]),
    [[60_000, 50 * 3_600_000, 300_000, 'critical', 'see docs/backups.md']],
  );
  const off = await load(`${backup}monitor:\n  backup: false\n`);
  assert.equal(off.monitor.probes.some((x) => x.kind === 'backup'), false);
  // A declared probe over every source takes the default's place; one of a single source does not.
  const declared = await load(`${backup}monitor:\n  probes:\n    backups: { type: backup, max_age: 30h }\n    db_only: { type: backup, source: db }\n`);
  assert.deepEqual(declared.monitor.probes.filter((x) => x.kind === 'backup').map((x) => x.id), ['backups', 'db_only']);
  const single = await load(`${backup}monitor:\n  probes:\n    db_only: { type: backup, source: db }\n`);
  assert.deepEqual(single.monitor.probes.filter((x) => x.kind === 'backup').map((x) => x.id), ['backup', 'db_only']);
  const none = await load('services:\n  web:\n    route: { port: 80 }\n');
  assert.equal(none.monitor.probes.some((x) => x.kind === 'backup'), false, 'no backup section, no backup probe');
});

const refusals: Array<[string, RegExp]> = [
  ['services:\n  web:\n    route: { port: 80 }\n    monitor: { tls: { warn_days: 5 } }\n', /services\.web\.monitor\.tls: the service has no `route\.tls`/],
  ['services:\n  web:\n    route: { port: 80, tls: { listen: "nope" } }\n', /services\.web\.route\.tls\.listen: should be a listener/],
  ['monitor:\n  rules:\n    r: { probe: "http:*", condition: "latency > 3" }\n', /berth\.yaml:3:\d+ monitor\.rules\.r\.condition: should be "down" or a comparison/],
  ['monitor:\n  rules:\n    r: { probe: "nope" }\n', /berth\.yaml:3:\d+ monitor\.rules\.r\.probe: matches no probe; probes are: container:web/],
  ['monitor:\n  probes:\n    x: { type: http, url: "http://a/", interval: 500ms }\n', /monitor\.probes\.x\.interval: should be at least 1s/],
  ['monitor:\n  probes:\n    x: { type: tcp, service: nope, port: 1 }\n', /monitor\.probes\.x\.service: unknown service `nope`/],
  ['monitor:\n  probes:\n    x: { type: query, url: "http://a/", json_path: a }\n', /monitor\.probes\.x\.condition: is required/],
  ['monitor:\n  bogus: 1\n', /berth\.yaml:2:\d+ monitor\.bogus/],
  ['monitor:\n  replication: { interval: 5m }\n', /berth\.yaml:2:\d+ monitor\.replication: this project does not replicate \(no `backup\.replicate` in berth\.yaml\)/],
  ['monitor:\n  probes:\n    b: { type: backup }\n', /berth\.yaml:3:\d+ monitor\.probes\.b\.type: a backup probe watches the backups of this project, but berth\.yaml has no `backup:` section/],
  ['backup:\n  repository: r\n  sources:\n    db: { type: mariadb, service: db, database: app }\nmonitor:\n  probes:\n    b: { type: backup, source: dbb }\n', /berth\.yaml:7:\d+ monitor\.probes\.b\.source: unknown backup source `dbb`; sources are: db, config/],
  ['monitor:\n  backup: { max_age: 48h }\n', /berth\.yaml:2:\d+ monitor\.backup: this project has no `backup:` section: there are no backups to watch/],
  ['backup:\n  repository: r\nmonitor:\n  backup: { interval: 1m }\n  probes:\n    all: { type: backup }\n', /berth\.yaml:4:\d+ monitor\.backup: monitor\.probes\.all watches every backup source already; tune that one, or remove it and keep this/],
  ['backup:\n  repository: r\nmonitor:\n  probes:\n    backup: { type: backup, source: config }\n', /berth\.yaml:5:\d+ monitor\.probes\.backup: the id `backup` is the default backup probe’s; name this probe otherwise, or set `monitor\.backup: false`/],
  ['monitor:\n  host: { cpu: 180 }\n', /monitor\.host\.cpu: should be a percentage/],
  ['services:\n  web:\n    monitor: { http: { interval: 200ms } }\n', /services\.web\.monitor\.http\.interval: should be at least 1s/],
];

it('refuses bad monitor config with file:line', async () => {
  for (const [yaml, message] of refusals) {
    await assert.rejects(load(yaml), (err: Error) => {
      assert.match(err.message, message, yaml);
      return true;
    });
  }
});
