/** Probes against real in-process servers (HTTP, TCP, a real redis-server) and protocol verdicts as tables. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createDbPingProbe, judgeMariadb, judgePostgres, judgeRedis } from '../../../src/monitor/probes/db-ping.js';
import { parseCpu, parseMeminfo } from '../../../src/monitor/probes/host.js';
import { parseResponse } from '../../../src/monitor/probes/http-get.js';
import { createHttpProbe } from '../../../src/monitor/probes/http.js';
import { pick, sqlError } from '../../../src/monitor/probes/query.js';
import { createQueryProbe } from '../../../src/monitor/probes/query.js';
import { type BackupRecords, createBackupProbe } from '../../../src/monitor/probes/backup.js';
import type { LastBackupAttempt } from '../../../src/store/backups.js';
import { createProbes } from '../../../src/monitor/probes/index.js';
import { createReplicationProbe, type ReplicationReading } from '../../../src/monitor/probes/replication.js';
import type { Engine } from '../../../src/engine/engine.js';
import { load, yaml } from '../project/helpers.js';
import { cpuPercent } from '../../../src/monitor/probes/stats.js';
import { createTcpProbe } from '../../../src/monitor/probes/tcp.js';
import type { ProbeSpec } from '../../../src/project/monitor-schema.js';

const common = { forMs: 0, severity: 'critical' as const, labels: {}, alert: true, intervalMs: 1000, timeoutMs: 500 };
const resolve = async (t: { host?: string; port: number }) => ({ host: t.host ?? '127.0.0.1', port: t.port });
const deps = { resolve: resolve as never, clock: Date.now };
const signal = new AbortController().signal;

async function listen(server: http.Server | net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

describe('http probe (real server)', () => {
  let port: number;
  const server = http.createServer((req, res) => {
    if (req.url === '/slow') return void setTimeout(() => res.end('late'), 300);
    if (req.url === '/hang') return; // never answers
    if (req.url === '/down') return void res.writeHead(503).end('maintenance');
    if (req.url === '/chunked') {
      res.write('{"status":');
      return void setTimeout(() => res.end('"ok"}'), 50);
    }
    if (req.url === '/hints') {
      res.writeEarlyHints({ link: '</style.css>; rel=preload' });
      return void res.end('after hints');
    }
    res.end('{"status":"ok","numbering":{"utilisation":93.5}}');
  });
  before(async () => {
    port = await listen(server);
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  const probe = (path: string, extra: Partial<Extract<ProbeSpec, { kind: 'http' }>> = {}) =>
    createHttpProbe({ ...common, id: 'h', kind: 'http', url: `http://127.0.0.1:${port}${path}`, path: '', statusMin: 200, statusMax: 399, ...extra }, deps);

  it('passes on 2xx, fails on 5xx, body mismatch, latency and timeout', async () => {
    const cases: Array<[string, Partial<Extract<ProbeSpec, { kind: 'http' }>>, boolean, RegExp]> = [
      ['/', {}, true, /→ 200 in/],
      ['/down', {}, false, /→ 503 .*expected 200-399/],
      ['/', { body: '"status":"ok"' }, true, /200/],
      ['/', { body: 'healthy' }, false, /body does not match/],
      ['/slow', { latencyMs: 100 }, false, /slower than 100 ms/],
      ['/hang', {}, false, /no answer within 500 ms/],
      ['/chunked', { body: '^\\{"status":"ok"\\}$' }, true, /→ 200/],
      ['/hints', { body: '^after hints$' }, true, /→ 200/],
    ];
    for (const [path, extra, ok, summary] of cases) {
      const r = await probe(path, extra).run(signal);
      assert.equal(r.ok, ok, `${path} ${JSON.stringify(extra)}: ${r.summary}`);
      assert.match(r.summary, summary);
    }
  });

  it('sends the route host name through the edge address', async () => {
    let seen = '';
    const s = http.createServer((req, res) => {
      seen = req.headers.host ?? '';
      res.end('ok');
    });
    const p = await listen(s);
    const r = await createHttpProbe({ ...common, id: 'h', kind: 'http', url: `http://127.0.0.1:${p}/`, hostHeader: 'app.localhost', path: '/', statusMin: 200, statusMax: 399 }, deps).run(signal);
    s.close();
    assert.equal(r.ok, true);
    assert.equal(seen, 'app.localhost');
  });

  it('query probe reads a number from JSON and compares it', async () => {
    const q = (condition: { op: '>'; threshold: number }) => createQueryProbe({ ...common, id: 'seq', kind: 'query', url: `http://127.0.0.1:${port}/`, jsonPath: 'numbering.utilisation', condition }, { clock: Date.now });
    const bad = await q({ op: '>', threshold: 90 }).run(signal);
    assert.equal(bad.ok, false);
    assert.equal(bad.value, 93.5);
    assert.equal((await q({ op: '>', threshold: 95 }).run(signal)).ok, true);
    assert.equal(pick({ a: [{ b: 2 }] }, 'a.0.b'), 2);
  });
});

describe('HTTP response parsing', () => {
  it('waits for a complete response and decodes lengths and chunks', () => {
    const b = (s: string) => Buffer.from(s);
    const cases: Array<[string, boolean, { status: number; body: string } | undefined]> = [
      ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel', false, undefined],
      ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello', false, { status: 200, body: 'hello' }],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n', false, undefined],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n', false, { status: 200, body: 'hello' }],
      ['HTTP/1.0 404 Not Found\r\nServer: busybox\r\n\r\nno such page', false, undefined],
      ['HTTP/1.0 404 Not Found\r\nServer: busybox\r\n\r\nno such page', true, { status: 404, body: 'no such page' }],
      ['HTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n', false, { status: 204, body: '' }],
      ['SSH-2.0-OpenSSH_9.2\r\n\r\n', true, undefined],
    ];
    for (const [raw, eof, expected] of cases) assert.deepEqual(parseResponse(b(raw), eof), expected, JSON.stringify(raw));
  });
});

describe('tcp and database pings', () => {
  it('tcp: an open port passes, a closed one fails', async () => {
    const s = net.createServer((c) => c.end());
    const port = await listen(s);
    const open = await createTcpProbe({ ...common, id: 't', kind: 'tcp', target: { host: '127.0.0.1', port } }, deps).run(signal);
    s.close();
    await new Promise((r) => setTimeout(r, 50));
    const closed = await createTcpProbe({ ...common, id: 't', kind: 'tcp', target: { host: '127.0.0.1', port } }, deps).run(signal);
    assert.equal(open.ok, true, open.summary);
    assert.equal(closed.ok, false);
    assert.match(closed.summary, /ECONNREFUSED/);
  });

  it('redis: a real redis-server answers PING; a stopped one fails the probe', async () => {
    const probeServer = net.createServer();
    const port = await listen(probeServer);
    await new Promise((r) => probeServer.close(r));
    const srv = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    try {
      const probe = createDbPingProbe({ ...common, id: 'r', kind: 'redis', target: { host: '127.0.0.1', port } }, deps);
      let r = await probe.run(signal);
      for (let i = 0; i < 50 && !r.ok; i++) {
        await new Promise((res) => setTimeout(res, 100));
        r = await probe.run(signal);
      }
      assert.equal(r.ok, true, r.summary);
      assert.match(r.summary, /PONG/);
      srv.kill('SIGKILL');
      await new Promise((res) => srv.once('exit', res));
      const down = await probe.run(signal);
      assert.equal(down.ok, false);
    } finally {
      srv.kill('SIGKILL');
    }
  });

  it('protocol verdicts', () => {
    const mariaGreeting = Buffer.concat([Buffer.from([0x4a, 0, 0, 0, 0x0a]), Buffer.from('10.11.6-MariaDB\0rest')]);
    const mariaError = Buffer.concat([Buffer.from([0x17, 0, 0, 0, 0xff, 0x10, 0x04]), Buffer.from('Too many connections')]);
    const pgAuth = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 5]);
    const pgError = (code: string, msg: string) => Buffer.concat([Buffer.from('E\0\0\0\0'), Buffer.from(`SFATAL\0C${code}\0M${msg}\0\0`)]);
    const cases: Array<[string, { ok: boolean; summary: string }, boolean, RegExp]> = [
      ['mariadb greeting', judgeMariadb(mariaGreeting), true, /10\.11\.6-MariaDB/],
      ['mariadb error', judgeMariadb(mariaError), false, /1040: Too many connections/],
      ['postgres auth request', judgePostgres(pgAuth), true, /authentication/],
      ['postgres unknown role', judgePostgres(pgError('28000', 'role "berth-probe" does not exist')), true, /28000/],
      ['postgres starting up', judgePostgres(pgError('57P03', 'the database system is starting up')), false, /starting up/],
      ['redis pong', judgeRedis(Buffer.from('+PONG\r\n')), true, /PONG/],
      ['redis noauth', judgeRedis(Buffer.from('-NOAUTH Authentication required.\r\n')), true, /authentication/],
      ['redis loading', judgeRedis(Buffer.from('-LOADING Redis is loading the dataset in memory\r\n')), false, /LOADING/],
    ];
    for (const [name, v, ok, re] of cases) {
      assert.equal(v.ok, ok, name);
      assert.match(v.summary, re, name);
    }
  });
});

/** Backup records for the probe: the readers given, the others finding nothing recorded. */
const records = (r: Partial<BackupRecords>): BackupRecords => ({ lastGoodAt: () => undefined, lastAttempt: () => undefined, lastVerify: () => undefined, partlyRestored: () => undefined, ...r });

describe('resources and backups', () => {
  it('parses /proc/stat and /proc/meminfo', () => {
    assert.deepEqual(parseCpu('cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3'), { busy: 200, total: 1000 });
    assert.deepEqual(parseMeminfo('MemTotal:       1000 kB\nMemFree: 10 kB\nMemAvailable:    250 kB\n'), { total: 1024000, available: 256000 });
  });

  it('container CPU is a share of its limit', () => {
    const a = { cpuTotalNs: 0, systemCpuNs: 0, onlineCpus: 2, memoryBytes: 0, memoryLimitBytes: 1 };
    const b = { ...a, cpuTotalNs: 450, systemCpuNs: 1000 };
    assert.equal(cpuPercent(a, b), 45);
    assert.equal(cpuPercent({ ...a, cpuLimitCores: 0.5 }, { ...b, cpuLimitCores: 0.5 }), 180);
  });

  it('backup freshness against max_age, from the injected lastGoodBackupAt', async () => {
    const now = Date.UTC(2026, 10, 23, 12);
    const spec = { ...common, id: 'backup', kind: 'backup' as const, maxAgeMs: 26 * 3_600_000 };
    const fresh = await createBackupProbe(spec, { clock: () => now, backups: records({ lastGoodAt: () => now - 3_600_000 }) }).run(signal);
    const stale = await createBackupProbe(spec, { clock: () => now, backups: records({ lastGoodAt: () => now - 30 * 3_600_000 }) }).run(signal);
    const none = await createBackupProbe(spec, { clock: () => now, backups: records({}) }).run(signal);
    assert.deepEqual([fresh.ok, stale.ok, none.ok], [true, false, false]);
    assert.equal(stale.value, 30);
    assert.match(stale.summary, /older than 26 h/);
  });

  it('without source:, every source must have a fresh good backup: one failing night after night fails the probe, named', async () => {
    const now = Date.UTC(2026, 10, 23, 12);
    const spec = { ...common, id: 'backup', kind: 'backup' as const, maxAgeMs: 26 * 3_600_000 };
    const h = 3_600_000;
    const newest = (ages: Record<string, number | undefined>) => (source?: string) => {
      if (source === undefined) return Math.max(...Object.values(ages).filter((a) => a !== undefined).map((a) => now - a!));
      const age = ages[source];
      return age === undefined ? undefined : now - age;
    };
    const probe = (ages: Record<string, number | undefined>) => createBackupProbe({ ...spec, sources: Object.keys(ages) }, { clock: () => now, backups: records({ lastGoodAt: newest(ages) }) }).run(signal);

    const fresh = await probe({ db: 2 * h, files: 3 * h, config: 2 * h });
    assert.equal(fresh.ok, true, fresh.summary);
    assert.equal(fresh.summary, "backup: every source (3) has a good one within 26 h; the oldest, files's, is 3 h old (2026-11-23T09:00:00.000Z)");
    assert.equal(fresh.value, 3);

    // db has failed for two nights; the others ran: the newest good backup of "any" source is 2 h old.
    const failing = await probe({ db: 50 * h, files: 2 * h, config: 2 * h });
    assert.equal(failing.ok, false);
    assert.equal(failing.summary, "backup: db's newest good one is 50 h old (2026-11-21T10:00:00.000Z), older than 26 h");
    assert.equal(failing.value, 50);

    const never = await probe({ db: 2 * h, pg: undefined, files: 30 * h });
    assert.equal(never.ok, false);
    assert.equal(never.summary, "backup: pg has no good backup yet; files's newest good one is 30 h old (2026-11-22T06:00:00.000Z), older than 26 h");
    assert.equal(never.value, undefined);

    // A failed drill fails it too, said after the ages.
    const drill = await createBackupProbe({ ...spec, sources: ['db'] }, { clock: () => now, backups: records({ lastGoodAt: newest({ db: h }), lastVerify: () => ({ at: now, ok: false, reason: 'drill of db failed' }) }) }).run(signal);
    assert.equal(drill.ok, false);
    assert.match(drill.summary, /^backup: every source \(1\) has a good one within 26 h; .*; last verify 2026-11-23T12:00:00.000Z FAILED: drill of db failed$/);
  });

  it('a source on a schedule of its own is held to its own limit, the others to max_age', async () => {
    const now = Date.UTC(2026, 10, 23, 12);
    const h = 3_600_000;
    const spec = { ...common, id: 'backup', kind: 'backup' as const, maxAgeMs: 26 * h, sources: ['numbering', 'db'], sourceMaxAgeMs: { numbering: 30 * 60_000 } };
    const probe = (ages: Record<string, number>) => createBackupProbe(spec, { clock: () => now, backups: records({ lastGoodAt: (source) => (source ? now - ages[source]! : undefined) }) }).run(signal);
    const fresh = await probe({ numbering: 10 * 60_000, db: 20 * h });
    assert.equal(fresh.ok, true, fresh.summary);
    assert.equal(fresh.summary, "backup: every source (2) has a good one within 26 h (numbering's within 30 min, by its own schedule); the oldest, db's, is 20 h old (2026-11-22T16:00:00.000Z)");
    const missed = await probe({ numbering: 45 * 60_000, db: 20 * h });
    assert.equal(missed.ok, false);
    assert.equal(missed.summary, "backup: numbering's newest good one is 0.8 h old (2026-11-23T11:15:00.000Z), older than 30 min");
    const one = await createBackupProbe({ ...spec, source: 'numbering', sources: undefined }, { clock: () => now, backups: records({ lastGoodAt: () => now - 2 * h }) }).run(signal);
    assert.equal(one.summary, 'backup numbering: newest good one 2 h old (2026-11-23T10:00:00.000Z), older than 30 min');
  });

  it('a last backup that failed or came out suspect fails the probe at once, with the reason, however fresh the good one before it', async () => {
    const now = Date.UTC(2026, 10, 23, 12);
    const h = 3_600_000;
    const spec = { ...common, id: 'backup', kind: 'backup' as const, maxAgeMs: 26 * h };
    const attempts: Record<string, LastBackupAttempt | undefined> = {
      db: { at: now - 10 * h, ok: false, error: 'mariadb: connection refused' },
      files: { at: now - 10 * h, ok: true, suspect: 'no files' },
      config: { at: now - 10 * h, ok: true },
    };
    const good: Record<string, number> = { db: now - 34 * h, files: now - 34 * h, config: now - 10 * h };
    const backups = records({ lastGoodAt: (s) => (s ? good[s] : undefined), lastAttempt: (s) => attempts[s] });
    const all = await createBackupProbe({ ...spec, sources: ['db', 'files', 'config'] }, { clock: () => now, backups }).run(signal);
    assert.equal(all.ok, false);
    assert.equal(
      all.summary,
      "backup: db's last backup FAILED at 2026-11-23T02:00:00.000Z: mariadb: connection refused (newest good one 34 h old (2026-11-22T02:00:00.000Z)); " +
        "files's last backup (2026-11-23T02:00:00.000Z) is SUSPECT: no files (newest good one 34 h old (2026-11-22T02:00:00.000Z))",
    );
    assert.equal(all.value, 34);

    // One source: its name is said once; a first attempt that failed says there is no good backup yet.
    const one = await createBackupProbe({ ...spec, source: 'db' }, { clock: () => now, backups }).run(signal);
    assert.equal(one.summary, 'backup db: last backup FAILED at 2026-11-23T02:00:00.000Z: mariadb: connection refused (newest good one 34 h old (2026-11-22T02:00:00.000Z))');
    const first = await createBackupProbe({ ...spec, source: 'db' }, { clock: () => now, backups: records({ lastAttempt: () => attempts.db }) }).run(signal);
    assert.equal(first.summary, 'backup db: last backup FAILED at 2026-11-23T02:00:00.000Z: mariadb: connection refused (no good backup yet)');

    // The next attempt succeeds: the probe is ok again without waiting for anything.
    attempts.db = { at: now - h, ok: true };
    attempts.files = { at: now - h, ok: true };
    good.db = good.files = now - h;
    const recovered = await createBackupProbe({ ...spec, sources: ['db', 'files', 'config'] }, { clock: () => now, backups }).run(signal);
    assert.equal(recovered.ok, true, recovered.summary);
    assert.equal(recovered.summary, "backup: every source (3) has a good one within 26 h; the oldest, config's, is 10 h old (2026-11-23T02:00:00.000Z)");
  });

  it('a failure the nightly job retries is said but fails the probe only once the retry is 5 min overdue, or when no retry is due', async () => {
    const h = 3_600_000;
    const failedAt = Date.UTC(2026, 10, 23, 2);
    const spec = { ...common, id: 'backup', kind: 'backup' as const, maxAgeMs: 26 * h, sources: ['db', 'config'] };
    const attempt: { db: LastBackupAttempt } = { db: { at: failedAt, ok: false, error: 'mariadb: connection refused', retryAt: failedAt + 10 * 60_000 } };
    const good: Record<string, number> = { db: failedAt - 24 * h, config: failedAt };
    const backups = records({ lastGoodAt: (s) => (s ? good[s] : undefined), lastAttempt: (s) => (s === 'db' ? attempt.db : { at: failedAt, ok: true }) });
    const at = (ms: number) => createBackupProbe(spec, { clock: () => ms, backups }).run(signal);

    const waiting = await at(failedAt + 60_000);
    assert.equal(waiting.ok, true, waiting.summary);
    assert.equal(waiting.summary, "backup: every source (2) has a good one within 26 h; the oldest, db's, is 24 h old (2026-11-22T02:00:00.000Z); db's last backup failed at 2026-11-23T02:00:00.000Z, retry due 2026-11-23T02:10:00.000Z");
    // The retry is due at 02:10 and may take 5 min.
    assert.equal((await at(failedAt + 14 * 60_000)).ok, true);
    const overdue = await at(failedAt + 15 * 60_000);
    assert.equal(overdue.ok, false);
    assert.match(overdue.summary, /^backup: db's last backup FAILED at 2026-11-23T02:00:00.000Z: mariadb: connection refused/);
    // A source with no good backup at all fails the probe for that, retry due or not.
    const neverGood = await createBackupProbe({ ...spec, source: 'db' }, { clock: () => failedAt + 60_000, backups: records({ lastAttempt: () => attempt.db }) }).run(signal);
    assert.equal(neverGood.ok, false);
    assert.equal(neverGood.summary, 'backup db: no good backup yet; last backup failed at 2026-11-23T02:00:00.000Z, retry due 2026-11-23T02:10:00.000Z');
    // The retry failed too, and none is due after it (retries used up): it fails at once.
    attempt.db = { at: failedAt + 11 * 60_000, ok: false, error: 'mariadb: connection refused' };
    const last = await at(failedAt + 11 * 60_000 + 1_000);
    assert.equal(last.ok, false);
    assert.match(last.summary, /db's last backup FAILED at 2026-11-23T02:11:00.000Z/);
  });

  it('a source a failed restore left partly restored fails the probe at once, however fresh its last backup', async () => {
    const now = Date.UTC(2026, 10, 23, 12);
    const spec = { ...common, id: 'backup', kind: 'backup' as const, maxAgeMs: 26 * 3_600_000 };
    const partlyRestored = (source: string) => (source === 'files' ? { sinceMs: now - 600_000, by: 'ops' } : undefined);
    const deps = { clock: () => now, backups: records({ lastGoodAt: () => now - 3_600_000, partlyRestored }) };
    const all = await createBackupProbe({ ...spec, sources: ['db', 'files'] }, deps).run(signal);
    assert.equal(all.ok, false);
    assert.equal(
      all.summary,
      'backup: files PARTLY RESTORED since 2026-11-23T11:50:00.000Z by ops (a restore failed part-way; not backed up until a restore of it succeeds or `berth backup run --source files --accept-partial`)',
    );
    const one = await createBackupProbe({ ...spec, source: 'files' }, deps).run(signal);
    assert.match(one.summary, /^backup files: files PARTLY RESTORED since/);
    const other = await createBackupProbe({ ...spec, source: 'db' }, deps).run(signal);
    assert.equal(other.ok, true, 'a probe of another source is not concerned');
  });

  it('replication: ok only while the replica is ok; the reason and the age of the newest copy are said', async () => {
    const spec = { ...common, id: 'replication', kind: 'replication' as const };
    const run = (r: ReplicationReading) => createReplicationProbe(spec, { clock: () => 0, replication: () => r }).run(signal);
    const ok = await run({ state: 'ok', reason: 'newest replicated snapshot is 3.5h old (max_lag 26.0h)', ageMs: 3.5 * 3_600_000 });
    assert.deepEqual([ok.ok, ok.summary, ok.value], [true, 'replication ok: newest replicated snapshot is 3.5h old (max_lag 26.0h)', 3.5]);
    const failing = await run({ state: 'failing', reason: 'last pull failed (2 in a row): cannot reach the primary' });
    assert.deepEqual([failing.ok, failing.summary, failing.value], [false, 'replication failing: last pull failed (2 in a row): cannot reach the primary', undefined]);
    const behind = await run({ state: 'behind', reason: 'no successful pull yet' });
    assert.equal(behind.ok, false);
    const none = await createReplicationProbe(spec, { clock: () => 0 }).run(signal);
    assert.equal(none.ok, false);
  });

  it("the agent's backup probe watches every source berth.yaml declares, the project's config too", async () => {
    const project = await load({
      'compose.yaml': yaml('services:', '  db:', '    image: mariadb:11'),
      'berth.yaml': yaml('backup:', '  repository: repo', '  sources:', '    db: { type: mariadb, service: db, database: app }', 'monitor:', '  probes:', '    backups: { type: backup, max_age: 26h }'),
    });
    const now = Date.UTC(2026, 10, 23, 12);
    const asked: Array<string | undefined> = [];
    const { polled } = createProbes(project, { engine: {} as Engine, clock: () => now, backups: records({ lastGoodAt: (source) => (asked.push(source), source === 'config' ? now - 3_600_000 : undefined) }) });
    const r = await polled.find((p) => p.id === 'backups')!.run(signal);
    assert.deepEqual(asked, ['db', 'config']);
    assert.equal(r.ok, false);
    assert.match(r.summary, /^backup: db has no good backup yet$/);
  });

  it('a fresh backup whose last verify failed fails the probe, naming why; one that passed is said', async () => {
    const now = Date.UTC(2026, 10, 23, 12);
    const spec = { ...common, id: 'backup', kind: 'backup' as const, maxAgeMs: 26 * 3_600_000, source: 'db' };
    const asked: Array<string | undefined> = [];
    const failed = await createBackupProbe(spec, {
      clock: () => now,
      backups: records({ lastGoodAt: () => now - 3_600_000, lastVerify: (source) => (asked.push(source), { at: now - 7_200_000, ok: false, reason: 'drill of db failed' }) }),
    }).run(signal);
    assert.equal(failed.ok, false);
    assert.match(failed.summary, /backup db: newest good one 1 h old .*; last verify 2026-11-23T10:00:00.000Z FAILED: drill of db failed/);
    assert.deepEqual(asked, ['db']);
    const passed = await createBackupProbe(spec, { clock: () => now, backups: records({ lastGoodAt: () => now - 3_600_000, lastVerify: () => ({ at: now, ok: true }) }) }).run(signal);
    assert.equal(passed.ok, true);
    assert.match(passed.summary, /last verify .* passed/);
    const stale = await createBackupProbe(spec, { clock: () => now, backups: records({ lastGoodAt: () => now - 30 * 3_600_000, lastVerify: () => ({ at: now, ok: true }) }) }).run(signal);
    assert.equal(stale.ok, false, 'a passed verify does not make an old backup fresh');
  });
});

describe('tls probe (real TLS server, certificate made by openssl)', () => {
  it('reports the days left and fails under warn_days', async (t) => {
    const { execFileSync } = await import('node:child_process');
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const tls = await import('node:tls');
    const { createTlsProbe } = await import('../../../src/monitor/probes/tls.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'btls-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '10', '-subj', '/CN=shop.localhost', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`], { stdio: 'ignore' });
    const server = tls.createServer({ key: fs.readFileSync(`${dir}/key.pem`), cert: fs.readFileSync(`${dir}/cert.pem`) }, (s) => s.end());
    const port = await listen(server);
    t.after(() => server.close());
    const spec = { ...common, id: 'tls', kind: 'tls' as const, target: { host: '127.0.0.1', port }, serverName: 'shop.localhost' };
    const soon = await createTlsProbe({ ...spec, warnDays: 14 }, deps).run(signal);
    assert.equal(soon.ok, false, soon.summary);
    assert.ok(soon.value === 9 || soon.value === 10, soon.summary);
    assert.match(soon.summary, /certificate of shop\.localhost \(shop\.localhost\) expires .* in \d+ days \(< 14\)/);
    assert.equal((await createTlsProbe({ ...spec, warnDays: 7 }, deps).run(signal)).ok, true);
  });
});

it('SQL errors read as one line: database (no password), the server message, its code', () => {
  const maria = Object.assign(new Error("(conn:21, no: 1146, SQLState: 42S02) Table 'x.t' doesn't exist\nsql: SELECT 1 FROM t - parameters:[]"), { sqlMessage: "Table 'x.t' doesn't exist", errno: 1146 });
  assert.equal(sqlError({ driver: 'mariadb', url: 'mariadb://u:secret@db:3306/x' }, maria), "mariadb db:3306/x: Table 'x.t' doesn't exist (error 1146)");
  const pg = Object.assign(new Error('syntax error at or near "SELEC"'), { code: '42601' });
  assert.equal(sqlError({ driver: 'postgres', url: 'postgres://u:secret@127.0.0.1:5432/app' }, pg), 'postgres 127.0.0.1:5432/app: syntax error at or near "SELEC" (SQLSTATE 42601)');
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
  assert.equal(sqlError({ driver: 'postgres', url: 'postgres://u:secret@127.0.0.1:1/app' }, refused), 'postgres 127.0.0.1:1/app: connect ECONNREFUSED 127.0.0.1:1');
});
