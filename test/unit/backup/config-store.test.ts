/** berth.yaml `backup:` validation (file:line errors, defaults) and the backup store (freshness, interrupted runs). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { backupJobs, nextRuns, retryComing } from '../../../src/backup/schedule.js';
import { configFiles, configPlan, configSource, describeLeftOut, missingProjectFiles } from '../../../src/backup/sources/config.js';
import type { SourceContext } from '../../../src/backup/sources/types.js';
import { type Db, openStore } from '../../../src/store/db.js';
import { type BackupStore, backupRecords, createBackupStore, lastBackupAttempt as lastAttemptOf, lastGoodBackupAt } from '../../../src/store/backups.js';
import { silentReporter } from '../../../src/lib/reporter.js';
import { mountingProjectFiles } from '../../fixtures/mounting-project.js';
import { load, loadError, yaml } from '../project/helpers.js';

const compose = yaml('services:', '  db:', '    image: mariadb:11', '  web:', '    image: app:1', '    depends_on: [db]');

describe('backup config', () => {
  it('resolves defaults and paths', async () => {
    const p = await load({ 'compose.yaml': compose, 'berth.yaml': yaml('backup:', '  repository: backups/repo', '  sources:', '    db: { type: mariadb, service: db, database: app }') });
    const b = p.backup!;
    assert.equal(b.repository, path.join(p.dir, 'backups/repo'));
    assert.deepEqual(b.password, { file: path.join(p.dir, '.berth/backup.pass') });
    assert.equal(b.schedule, '0 2 * * *');
    assert.deepEqual(b.retention, { daily: 7, weekly: 4, monthly: 12 });
    assert.equal(b.suspectRatio, 0.5);
    assert.equal(b.lockWaitMs, 30 * 60_000);
    assert.deepEqual([b.retries, b.retryWaitMs], [1, 10 * 60_000]);
    const retries = await load({ 'compose.yaml': compose, 'berth.yaml': yaml('backup:', '  repository: r', '  retries: 3', '  retry_wait: 30m') });
    assert.deepEqual([retries.backup!.retries, retries.backup!.retryWaitMs], [3, 30 * 60_000]);
    const never = await load({ 'compose.yaml': compose, 'berth.yaml': yaml('backup:', '  repository: r', '  retries: 0') });
    assert.equal(never.backup!.retries, 0);
    assert.deepEqual(b.sources.db, { name: 'db', type: 'mariadb', service: 'db', host: '127.0.0.1', database: 'app', includeEnv: false });
    const subset = await load({ 'compose.yaml': compose, 'berth.yaml': yaml('backup:', '  repository: r', '  sources:', '    seq: { type: mariadb, service: db, database: app, tables: [numbering_sequences, numbering_audit] }', '    pg: { type: postgres, database: app, tables: [items, "audit.log"] }') });
    assert.deepEqual(subset.backup!.sources.seq!.tables, ['numbering_sequences', 'numbering_audit']);
    assert.deepEqual(subset.backup!.sources.pg!.tables, ['public.items', 'audit.log']);
    const own = await load({ 'compose.yaml': compose, 'berth.yaml': yaml('backup:', '  repository: r', '  sources:', '    seq: { type: mariadb, service: db, database: app, schedule: "*/15  * * * *" }', '    db: { type: mariadb, service: db, database: app }') });
    assert.equal(own.backup!.sources.seq!.schedule, '*/15 * * * *');
    assert.deepEqual(backupJobs(own).map((j) => [j.name, j.cron]), [[`backup:${own.name}`, '0 2 * * *'], [`backup:${own.name}:seq`, '*/15 * * * *'], [`verify:${own.name}`, '0 3 * * 0']]);
    const probe = own.monitor.probes.find((x) => x.id === 'backup');
    assert.ok(probe?.kind === 'backup');
    assert.deepEqual(probe.sourceMaxAgeMs, { seq: 30 * 60_000 }, 'held to twice its schedule’s gap, the others to max_age');
    const declared = await load({
      'compose.yaml': compose,
      'berth.yaml': yaml('backup:', '  repository: r', '  sources:', '    seq: { type: mariadb, service: db, database: app, schedule: "0 */6 * * *" }', 'monitor:', '  probes:', '    every: { type: backup }', '    seqwatch: { type: backup, source: seq, max_age: 2h }', '    seqdefault: { type: backup, source: seq }'),
    });
    const limits = Object.fromEntries(declared.monitor.probes.flatMap((x) => (x.kind === 'backup' ? [[x.id, x.sourceMaxAgeMs]] : [])));
    assert.deepEqual(limits, { every: { seq: 12 * 3_600_000 }, seqwatch: undefined, seqdefault: { seq: 12 * 3_600_000 } }, 'a probe of one source with its own max_age keeps it');
    assert.deepEqual(backupJobs(p).map((j) => [j.name, j.cron]), [[`backup:${p.name}`, '0 2 * * *'], [`verify:${p.name}`, '0 3 * * 0']]);
    assert.equal(b.verifySchedule, '0 3 * * 0');
    const noVerify = await load({ 'compose.yaml': compose, 'berth.yaml': yaml('backup:', '  repository: r', '  verify: false') });
    assert.equal(noVerify.backup!.verifySchedule, undefined);
    assert.deepEqual(backupJobs(noVerify).map((j) => j.name), [`backup:${noVerify.name}`]);
    const daily = await load({ 'compose.yaml': compose, 'berth.yaml': yaml('backup:', '  repository: r', '  verify: { schedule: "@daily" }') });
    assert.equal(daily.backup!.verifySchedule, '@daily');
    const sftp = await load({ 'compose.yaml': compose, 'berth.yaml': yaml('backup:', '  repository: sftp:u@h:/r', '  password_env: PW', '  retention: { daily: 30 }') });
    assert.equal(sftp.backup!.repository, 'sftp:u@h:/r');
    assert.deepEqual(sftp.backup!.password, { env: 'PW' });
    assert.deepEqual(sftp.backup!.retention, { daily: 30, weekly: 4, monthly: 12 });
    const waits = await load({ 'compose.yaml': compose, 'berth.yaml': yaml('backup:', '  repository: r', '  lock_wait: 1h30m') });
    assert.equal(waits.backup!.lockWaitMs, 90 * 60_000);
    const failsAtOnce = await load({ 'compose.yaml': compose, 'berth.yaml': yaml('backup:', '  repository: r', '  lock_wait: 0s') });
    assert.equal(failsAtOnce.backup!.lockWaitMs, 0);
  });

  it('takes cron nicknames and extra spaces; the agent schedules them', async () => {
    const p = await load({ 'compose.yaml': compose, 'berth.yaml': yaml('backup:', '  repository: r', '  password_env: PW', '  schedule: "@daily"', '  replicate:', '    from: sftp:h:/r', '    from_password_env: P', '    schedule: " 15  4 * * 1-5 "') });
    assert.equal(p.backup!.schedule, '@daily');
    assert.equal(p.replicate!.cron, '15 4 * * 1-5');
    const [next] = nextRuns(p.backup!.schedule, 1, new Date('2026-12-05T14:00:00Z'));
    assert.equal(next?.getHours(), 0);
    assert.equal(next?.getMinutes(), 0);
  });

  it('detects sources from images when none are declared', async () => {
    const p = await load({
      'compose.yaml': yaml(
        'services:',
        '  db:',
        '    image: docker.io/library/mariadb:11',
        '    environment: { MARIADB_DATABASE: shop, MARIADB_ROOT_PASSWORD: x }',
        '    volumes: [dbdata:/var/lib/mysql]',
        '  pg:',
        '    image: postgres:16',
        '    environment: { POSTGRES_USER: app }',
        '  cache:',
        '    image: redis:7',
        '  web:',
        '    image: app:1',
        '    volumes: [uploads:/srv/uploads]',
        'volumes:',
        '  dbdata: {}',
        '  uploads: {}',
      ),
      'berth.yaml': yaml('backup:', '  repository: /srv/repo'),
    });
    const s = p.backup!.sources;
    assert.deepEqual(Object.keys(s).sort(), ['cache', 'db', 'pg', 'uploads']);
    assert.deepEqual([s.db!.type, s.db!.service, s.db!.database], ['mariadb', 'db', 'shop']);
    assert.deepEqual([s.pg!.type, s.pg!.database], ['postgres', 'app']);
    assert.deepEqual([s.cache!.type, s.uploads!.type, s.uploads!.volume], ['redis', 'volume', 'uploads']);
  });

  it('a volume or a service named `config` is detected under another name: `config` is the project config\'s own source', async () => {
    const p = await load({
      'compose.yaml': yaml('services:', '  config:', '    image: redis:7', '  web:', '    image: app:1', '    volumes: [config:/etc/app]', 'volumes:', '  config: {}'),
      'berth.yaml': yaml('backup:', '  repository: /srv/repo'),
    });
    const s = p.backup!.sources;
    assert.deepEqual(Object.keys(s).sort(), ['config-redis', 'config-volume']);
    assert.deepEqual([s['config-redis']!.type, s['config-redis']!.service, s['config-volume']!.type, s['config-volume']!.volume], ['redis', 'config', 'volume', 'config']);
  });

  it('the config dump goes at restic\'s pace, and stops when restic gives up (the abort) rather than wait for a drain that never comes', async () => {
    // A file larger than any stream buffer, so the dump must wait for its reader.
    const p = await load({ 'compose.yaml': compose, 'berth.yaml': yaml('backup:', '  repository: r'), 'notes.txt': 'n' });
    fs.writeFileSync(path.join(p.dir, 'berth.yaml'), `${fs.readFileSync(path.join(p.dir, 'berth.yaml'), 'utf8')}# ${'x'.repeat(4 << 20)}\n`);
    const ctx = { project: p, source: { name: 'config', type: 'config', host: '', includeEnv: false }, report: silentReporter, audit: { rows: () => [] } } as unknown as SourceContext;
    // restic stopped reading: writes are never acknowledged.
    const stalled = new Writable({ highWaterMark: 1024, write: () => undefined });
    const ac = new AbortController();
    const dump = configSource.dump(ctx, stalled, ac.signal);
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(stalled.writableLength < 1 << 20, `restic's pace holds the packing back: ${stalled.writableLength} bytes waiting, of a 4 MiB file`);
    ac.abort();
    await assert.rejects(dump, /config: stopped because the repository write failed/);
  });

  it('the config source keeps compose files and berth.yaml; env files only with include_env', async () => {
    const p = await load({ 'compose.yaml': compose, 'berth.yaml': yaml('backup:', '  repository: r'), '.env': 'A=1\n', 'app.env': 'SECRET=x\n', 'notes.txt': 'n' });
    const ctx = (includeEnv: boolean) => ({ project: p, source: { name: 'config', type: 'config', host: '', includeEnv } }) as unknown as SourceContext;
    assert.deepEqual(configFiles(ctx(false)), ['berth.yaml', 'compose.yaml']);
    assert.deepEqual(configFiles(ctx(true)), ['.env', 'app.env', 'berth.yaml', 'compose.yaml']);
  });

  it('the config source keeps the files the services mount from the project folder; secrets only with include_env; written folders are data', async () => {
    const p = await load({ ...mountingProjectFiles, '.berth/marker': 'state', 'berth.yaml': yaml('backup:', '  repository: r') });
    const without = configPlan(p, false);
    assert.deepEqual(without.files, ['berth.yaml', 'compose.yaml', 'conf/site.toml', 'proxy/nginx.conf', 'site/img/logo.svg', 'site/index.html']);
    assert.deepEqual(without.leftOut, [
      { path: '.env', why: 'secret' },
      { path: 'conf/app.env', why: 'secret' },
      { path: 'data', why: 'data' },
      { path: 'db/password.txt', why: 'secret' },
    ]);
    const lines = describeLeftOut(without.leftOut);
    assert.match(lines[0]!, /^left out 3 file\(s\) holding secrets \(\.env, conf\/app\.env, db\/password\.txt\): `include_env: true` on the config source keeps them/);
    assert.match(lines[1]!, /^left out 1 folder\(s\) services write to \(data\): data, not configuration; a volume source with `path:` backs one up/);
    const withEnv = configPlan(p, true);
    assert.deepEqual(withEnv.files, ['.env', 'berth.yaml', 'compose.yaml', 'conf/app.env', 'conf/site.toml', 'db/password.txt', 'proxy/nginx.conf', 'site/img/logo.svg', 'site/index.html']);
    assert.deepEqual(withEnv.leftOut, [{ path: 'data', why: 'data' }]);
    // A volume source that backs the written folder up: nothing is left out then.
    const covered = { ...p, backup: { ...p.backup!, sources: { ...p.backup!.sources, uploads: { name: 'uploads', type: 'volume' as const, path: path.join(p.dir, 'data'), host: '127.0.0.1', includeEnv: false } } } };
    assert.deepEqual(configPlan(covered, true).leftOut, []);

    // After a config restore without the secrets: what the project mounts but does not find.
    assert.deepEqual(missingProjectFiles(p), []);
    fs.rmSync(path.join(p.dir, 'db/password.txt'));
    fs.rmSync(path.join(p.dir, 'site'), { recursive: true });
    fs.rmSync(path.join(p.dir, 'data'), { recursive: true });
    assert.deepEqual(missingProjectFiles(p), ['db/password.txt', 'site'], 'a written folder is data, not missing configuration');
  });

  const bad: Array<[string, string[], RegExp]> = [
    ['unknown key', ['backup:', '  repository: r', '  keep: 3'], /berth.yaml:3:3 backup.keep: unsupported key `keep`/],
    ['bad cron', ['backup:', '  repository: r', '  schedule: "every night"'], /berth.yaml:3:13 backup.schedule: should be a cron expression/],
    // croner would take a sixth field's first as seconds: "0 2 * * * *" would run every hour.
    ['a six-field cron', ['backup:', '  repository: r', '  schedule: "0 2 * * * *"'], /berth.yaml:3:13 backup.schedule: should be a cron expression like "0 2 \* \* \*" \(minute hour day month weekday\) or @daily/],
    ['an out-of-range cron field', ['backup:', '  repository: r', '  schedule: "0 25 * * *"'], /berth.yaml:3:13 backup.schedule: should be a cron expression like "0 2 \* \* \*" \(Invalid value for hour: 25\)/],
    ['verify: true', ['backup:', '  repository: r', '  verify: true'], /berth.yaml:3:\d+ backup.verify: should be false \(no scheduled verify\) or a mapping like \{ schedule: "0 3 \* \* 0" \}/],
    ['a bad verify schedule', ['backup:', '  repository: r', '  verify: { schedule: "0 3 * * 8" }'], /berth.yaml:3:\d+ backup.verify.schedule: should be a cron expression like "0 3 \* \* 0"/],
    ['a bad replicate schedule', ['backup:', '  repository: r', '  replicate:', '    from: sftp:h:/r', '    from_password_env: P', '    schedule: "99 3 * * *"'], /berth.yaml:6:\d+ backup.replicate.schedule: should be a cron expression like "30 3 \* \* \*" \(Invalid value for minute: 99\)/],
    ['a lock wait that is no duration', ['backup:', '  repository: r', '  lock_wait: forever'], /berth.yaml:3:\d+ backup.lock_wait: should be a duration like "10s"/],
    ['negative retries', ['backup:', '  repository: r', '  retries: -1'], /berth.yaml:3:\d+ backup.retries: should be a whole number/],
    ['a retry wait that is no duration', ['backup:', '  repository: r', '  retry_wait: soon'], /berth.yaml:3:\d+ backup.retry_wait: should be a duration like "10s"/],
    ['unknown type', ['backup:', '  repository: r', '  sources:', '    x: { type: mongo }'], /berth.yaml:4:\d+ backup.sources.x.type/],
    ['no database', ['backup:', '  repository: r', '  sources:', '    x: { type: postgres }'], /berth.yaml:4:\d+ backup.sources.x: a postgres source needs `database`/],
    ['volume and path', ['backup:', '  repository: r', '  sources:', '    x: { type: volume }'], /backup.sources.x: a volume source needs exactly one of `volume` or `path`/],
    ['unknown service', ['backup:', '  repository: r', '  sources:', '    x: { type: redis, service: cache }'], /berth.yaml:4:\d+ backup.sources.x.service: unknown service "cache"/],
    ['two passwords', ['backup:', '  repository: r', '  password_env: A', '  password_file: b'], /backup: give password_file or password_env, not both/],
    ['service and port', ['backup:', '  repository: r', '  sources:', '    x: { type: postgres, service: db, database: d, port: 5433 }'], /berth.yaml:4:\d+ backup.sources.x.port: a source dumped inside its service's container \(`service:`\) takes no `port`/],
    ['service and host', ['backup:', '  repository: r', '  sources:', '    x: { type: mariadb, service: db, database: d, host: 10.0.0.5 }'], /berth.yaml:4:\d+ backup.sources.x.host: .* takes no `host` \(that is for a database reached from this host over TCP\)/],
    ['a retention that keeps nothing', ['backup:', '  repository: r', '  retention: { daily: 0, weekly: 0, monthly: 0 }'], /berth.yaml:3:\d+ backup.retention: keeps no snapshot at all \(restic would ignore such a policy and keep everything\)/],
    ['a negative count', ['backup:', '  repository: r', '  retention: { daily: -1 }'], /berth.yaml:3:\d+ backup.retention.daily: should be a whole number \(0 or more\)/],
    ['exclude on a database source', ['backup:', '  repository: r', '  sources:', '    x: { type: postgres, database: d, exclude: [cache] }'], /berth.yaml:4:\d+ backup.sources.x.exclude: applies to a volume source only, not postgres/],
    ['exclude on a named volume with an sftp repository', ['backup:', '  repository: sftp:b@host:/r', '  sources:', '    x: { type: volume, volume: v, exclude: [cache] }'], /berth.yaml:4:\d+ backup.sources.x.exclude: cannot apply with an sftp repository: a named volume is then streamed as a tar, which leaves nothing out/],
    ['a "**" exclude', ['backup:', '  repository: r', '  sources:', '    x: { type: volume, path: d, exclude: ["a/**/b"] }'], /berth.yaml:4:\d+ backup.sources.x.exclude\[0\]: "a\/\*\*\/b": "\*\*" is not supported; a pattern without a leading "\/" already matches at any depth/],
    ['an exclude with a character class', ['backup:', '  repository: r', '  sources:', '    x: { type: volume, path: d, exclude: [ok, "log[0-9]"] }'], /berth.yaml:4:\d+ backup.sources.x.exclude\[1\]: "log\[0-9\]": character classes/],
    ['an exclude that climbs out', ['backup:', '  repository: r', '  sources:', '    x: { type: volume, path: d, exclude: [../etc] }'], /backup.sources.x.exclude\[0\]: "..\/etc": write names separated by single "\/", without "." or ".." parts/],
    ['an exclude of everything', ['backup:', '  repository: r', '  sources:', '    x: { type: volume, path: d, exclude: [/] }'], /backup.sources.x.exclude\[0\]: should be a pattern such as "cache".*; an empty pattern would leave out everything/],
    ['a bad source schedule', ['backup:', '  repository: r', '  sources:', '    x: { type: postgres, database: d, schedule: "every 15 minutes" }'], /berth.yaml:4:\d+ backup.sources.x.schedule: should be a cron expression like "\*\/15 \* \* \* \*"/],
    ['tables on a volume source', ['backup:', '  repository: r', '  sources:', '    x: { type: volume, path: d, tables: [t] }'], /berth.yaml:4:\d+ backup.sources.x.tables: applies to a mariadb, mysql, postgres source only, not volume/],
    ['an empty tables list', ['backup:', '  repository: r', '  sources:', '    x: { type: postgres, database: d, tables: [] }'], /berth.yaml:4:\d+ backup.sources.x.tables: an empty list would back up nothing; leave `tables` out to back up the whole database/],
    ['a table name with two dots', ['backup:', '  repository: r', '  sources:', '    x: { type: postgres, database: d, tables: [a.b.c] }'], /berth.yaml:4:\d+ backup.sources.x.tables\[0\]: "a.b.c": a table name, or on PostgreSQL schema.table/],
    ['a table name like an option', ['backup:', '  repository: r', '  sources:', '    x: { type: mariadb, database: d, tables: [--all] }'], /berth.yaml:4:\d+ backup.sources.x.tables\[0\]: should be a table name such as orders/],
    ['config source under another name', ['backup:', '  repository: r', '  sources:', '    settings: { type: config }'], /berth.yaml:4:\d+ backup.sources.settings: the project's config source must be named `config` \(`berth restore --all` looks for it by that name/],
  ];
  for (const [name, lines, want] of bad) {
    it(`refuses: ${name}`, async () => {
      assert.match(await loadError({ 'compose.yaml': compose, 'berth.yaml': yaml(...lines) }), want);
    });
  }
});

/** A backup store in a fresh state folder, on a clock the test sets (from 1000 ms); removed afterwards. */
function withBackupStore(test: (db: Db, s: BackupStore, clock: { now: number }) => void): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-backups-'));
  const store = openStore(dir);
  const clock = { now: 1000 };
  try {
    test(store.db, createBackupStore(store.db, () => clock.now), clock);
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('backup store', () => {
  it('lastBackupAttempt: the newest result of the source, or a run that failed before any source; safety runs and other projects are not counted', () =>
    withBackupStore((db, s, clock) => {
      const run = (id: string, kind: 'backup' | 'safety' = 'backup', project = 'shop') => s.startRun({ id, project, kind, user: 'u', pid: 1, host: 'h' });
      // Whether the agent that made a run is still there to retry it (asked with the run's pid and host).
      let agentAlive = true;
      const asked: Array<{ pid: number; host: string }> = [];
      const lastBackupAttempt = (d: typeof db, project: string, source: string) =>
        lastAttemptOf(d, project, source, (r) => {
          asked.push({ pid: r.pid, host: r.host });
          return agentAlive;
        });
      assert.equal(lastBackupAttempt(db, 'shop', 'db'), undefined);
      run('r1');
      s.addResult({ runId: 'r1', source: 'db', type: 'mariadb', status: 'succeeded', startedAt: 1000, finishedAt: 2000, snapshotId: 'aaaa1111', bytes: 10 });
      s.addResult({ runId: 'r1', source: 'files', type: 'volume', status: 'failed', startedAt: 1000, finishedAt: 2500, error: 'no such path' });
      s.finishRun('r1', 'partial', 'files: no such path');
      assert.deepEqual(lastBackupAttempt(db, 'shop', 'db'), { at: 2000, ok: true });
      assert.deepEqual(lastBackupAttempt(db, 'shop', 'files'), { at: 2500, ok: false, error: 'no such path' });
      // The nightly job says when it backs the failed source up again; a stored source has no retry.
      s.setRetryAt('r1', 602_500);
      assert.deepEqual(lastBackupAttempt(db, 'shop', 'files'), { at: 2500, ok: false, error: 'no such path', retryAt: 602_500 });
      assert.deepEqual(lastBackupAttempt(db, 'shop', 'db'), { at: 2000, ok: true });
      assert.deepEqual(asked.at(-1), { pid: 1, host: 'h' });
      // The agent that was to retry it was killed outright: no retry comes, the failure stands.
      agentAlive = false;
      assert.deepEqual(lastBackupAttempt(db, 'shop', 'files'), { at: 2500, ok: false, error: 'no such path' });
      agentAlive = true;
      s.setRetryAt('r1', undefined);
      assert.deepEqual(lastBackupAttempt(db, 'shop', 'files'), { at: 2500, ok: false, error: 'no such path' });
      // The repository refused before any source: every source's last attempt failed with it.
      clock.now = 3000;
      run('r2');
      clock.now = 3100;
      s.finishRun('r2', 'failed', 'wrong password');
      assert.deepEqual(lastBackupAttempt(db, 'shop', 'db'), { at: 3100, ok: false, error: 'wrong password' });
      // A safety snapshot and another project's run are not attempts at this project's backups.
      run('r3', 'safety');
      s.addResult({ runId: 'r3', source: 'db', type: 'mariadb', status: 'succeeded', startedAt: 4000, finishedAt: 4500 });
      run('r4', 'backup', 'other');
      s.addResult({ runId: 'r4', source: 'db', type: 'mariadb', status: 'succeeded', startedAt: 4000, finishedAt: 4600 });
      clock.now = 4700;
      s.finishRun('r4', 'failed', 'elsewhere');
      assert.deepEqual(lastBackupAttempt(db, 'shop', 'db'), { at: 3100, ok: false, error: 'wrong password' });
      // A suspect dump is stored but said so.
      run('r5');
      s.addResult({ runId: 'r5', source: 'db', type: 'mariadb', status: 'succeeded', startedAt: 5000, finishedAt: 5500, suspect: 'the dump is empty' });
      assert.deepEqual(lastBackupAttempt(db, 'shop', 'db'), { at: 5500, ok: true, suspect: 'the dump is empty' });
      assert.deepEqual(backupRecords(db, 'shop', () => true).lastAttempt('db'), { at: 5500, ok: true, suspect: 'the dump is empty' });
    }));

  it('retryComing: a retry comes while the agent that made the run is alive on this host; one on another host is taken at its word', () => {
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    assert.equal(retryComing({ pid: process.pid, host: os.hostname() }), true);
    assert.equal(retryComing({ pid: gone, host: os.hostname() }), false);
    assert.equal(retryComing({ pid: gone, host: `not-${os.hostname()}` }), true);
  });

  it('lastGoodBackupAt ignores failed, suspect and safety results; interrupted runs are marked', () =>
    withBackupStore((db, s, clock) => {
      assert.equal(lastGoodBackupAt(db, 'shop'), undefined);
      const run = (id: string, kind: 'backup' | 'safety', pid = 1) => s.startRun({ id, project: 'shop', kind, user: 'u', pid, host: 'h' });
      run('r1', 'backup');
      s.addResult({ runId: 'r1', source: 'db', type: 'mariadb', status: 'succeeded', startedAt: 1000, finishedAt: 2000, snapshotId: 'aaaa1111', bytes: 10 });
      s.addResult({ runId: 'r1', source: 'files', type: 'volume', status: 'failed', startedAt: 1000, finishedAt: 2500, error: 'x' });
      s.finishRun('r1', 'partial');
      run('r2', 'backup');
      s.addResult({ runId: 'r2', source: 'db', type: 'mariadb', status: 'succeeded', startedAt: 3000, finishedAt: 3500, suspect: 'empty' });
      run('r3', 'safety');
      s.addResult({ runId: 'r3', source: 'db', type: 'mariadb', status: 'succeeded', startedAt: 4000, finishedAt: 4500 });
      assert.equal(lastGoodBackupAt(db, 'shop'), 2000);
      assert.equal(lastGoodBackupAt(db, 'shop', 'db'), 2000);
      assert.equal(lastGoodBackupAt(db, 'shop', 'files'), undefined);
      assert.equal(s.lastResult('shop', 'db')?.runId, 'r2');
      assert.equal(s.resultBySnapshot('aaaa1111')?.runId, 'r1');
      clock.now = 9000;
      assert.deepEqual(s.markInterrupted('shop', (r) => r.id === 'r3').sort(), ['r2']);
      assert.equal(s.runs('shop').find((r) => r.id === 'r2')?.status, 'interrupted');
    }));
});
