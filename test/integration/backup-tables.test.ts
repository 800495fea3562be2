/**
 * `tables:` on a database source: only those tables are dumped (the spec's numbering backup), the
 * drill checks them, and a restore replaces them alone, leaving the database's other tables, and
 * tables made since, as they are — decided by the snapshot, not by berth.yaml at restore time.
 * The host's real MariaDB and PostgreSQL over TCP, real restic.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backupJobs } from '../../src/backup/schedule.js';
import { silentReporter } from '../../src/lib/reporter.js';
import { loadProject } from '../../src/project/load.js';
import { db, dbEnv, mariadb, psql, restic } from './backup-harness.js';
import { createTestProject, type TestProject } from './harness.js';
import { createResticRepository } from './restic-repo.js';

interface Drill {
  source: string;
  ok: boolean;
  summary: string;
}

describe('a table subset of a database', { timeout: 240_000 }, () => {
  const tag = randomBytes(3).toString('hex');
  const mdb = `bt_tb_${tag}`;
  const pdb = `bt_tp_${tag}`;
  let p: TestProject;
  let repo: string;
  let pass: string;
  let berthYaml: string;
  const run = (args: string[]) => p.berth(['--json', ...args], dbEnv);
  const source = (name: string, type: string, database: string, extra: string) =>
    `    ${name}: { type: ${type}, host: 127.0.0.1, database: ${database}, user: ${db.user}, password_env: BT_DB_PASSWORD${extra} }`;
  /** berth.yaml with these lines of `backup:` and these sources. */
  const berthFile = (settings: readonly string[], sources: readonly string[]) =>
    ['name: {{NAME}}', 'backup:', '  repository: repo', '  password_file: backup.pass', ...settings, '  sources:', ...sources, ''].join('\n');

  before(async () => {
    mariadb(undefined, `CREATE DATABASE ${mdb}`);
    mariadb(
      mdb,
      [
        'CREATE TABLE numbering_configs (id INT PRIMARY KEY, pattern VARCHAR(40))',
        "INSERT INTO numbering_configs VALUES (1, 'DOC-{YYYY}-{SEQ}'), (2, 'RFA-{SEQ}')",
        'CREATE TABLE numbering_sequences (config_id INT PRIMARY KEY, last_value INT, touched INT DEFAULT 0)',
        'INSERT INTO numbering_sequences (config_id, last_value) SELECT seq, seq * 10 FROM seq_1_to_300',
        'CREATE TRIGGER seq_touch BEFORE UPDATE ON numbering_sequences FOR EACH ROW SET NEW.touched = OLD.touched + 1',
        'CREATE TABLE orders (id INT PRIMARY KEY, total INT)',
        'INSERT INTO orders SELECT seq, seq FROM seq_1_to_50',
        'CREATE PROCEDURE order_count() SELECT COUNT(*) FROM orders',
      ].join('; '),
    );
    psql('postgres', `CREATE DATABASE ${pdb}`);
    psql(
      pdb,
      [
        'CREATE TABLE items (id serial PRIMARY KEY, name text)',
        "INSERT INTO items (name) SELECT 'i' || g FROM generate_series(1, 120) g",
        'CREATE SCHEMA audit',
        'CREATE TABLE audit.log (id int PRIMARY KEY, what text)',
        "INSERT INTO audit.log SELECT g, 'event ' || g FROM generate_series(1, 40) g",
        'CREATE TABLE other (id int PRIMARY KEY)',
        'INSERT INTO other SELECT generate_series(1, 10)',
      ].join('; '),
    );
    p = await createTestProject({ 'compose.yaml': 'services:\n  web:\n    image: berth-test/app:v1\n' });
    repo = path.join(p.dir, 'repo');
    pass = path.join(p.dir, 'backup.pass');
    fs.writeFileSync(pass, `pw-${tag}\n`, { mode: 0o600 });
    createResticRepository(repo, pass);
    berthYaml = berthFile([], [
      source('numbering', 'mariadb', mdb, ', tables: [numbering_configs, numbering_sequences]'),
      source('catalog', 'postgres', pdb, ', tables: [items, audit.log]'),
      source('typo', 'mariadb', mdb, ', tables: [numbering_configs, numbering_seqs]'),
      source('whole', 'mariadb', mdb, ''),
    ]);
    p.write('berth.yaml', berthYaml);
  });
  after(async () => {
    await p?.cleanup();
    try {
      mariadb(undefined, `DROP DATABASE IF EXISTS ${mdb}; DROP DATABASE IF EXISTS ${mdb}_copy`);
      psql('postgres', `DROP DATABASE IF EXISTS ${pdb} WITH (FORCE)`);
    } catch {
      // the databases' servers are gone: nothing to drop
    }
  });

  it('backs up only the named tables, with their trigger, and no routine or other table', async () => {
    const r = await run(['backup', 'run', '--source', 'numbering', '--source', 'catalog']);
    assert.equal(r.code, 0, r.stderr);
    const mdump = restic(repo, pass, 'dump', '--tag', 'source=numbering', 'latest', `/mariadb/tables/${mdb}.sql`);
    assert.equal(mdump.code, 0, mdump.out);
    assert.deepEqual([...mdump.out.matchAll(/^CREATE TABLE `(\w+)`/gm)].map((m) => m[1]), ['numbering_configs', 'numbering_sequences']);
    assert.match(mdump.out, /TRIGGER `?seq_touch`?/, 'the table’s trigger comes with it');
    assert.doesNotMatch(mdump.out, /`orders`/);
    assert.doesNotMatch(mdump.out, /PROCEDURE/, 'routines belong to the database, not to a table');
    const pdump = restic(repo, pass, 'dump', '--tag', 'source=catalog', 'latest', `/postgres/tables/${pdb}.pgdump`);
    assert.equal(pdump.code, 0, pdump.out);
  });

  it('a table that is not there fails the source, naming it, and stores nothing for it', async () => {
    const r = await run(['backup', 'run', '--source', 'typo']);
    assert.equal(r.code, 13, r.stderr);
    const out = JSON.parse(r.stdout) as { results: Array<{ source: string; status: string; error?: string }> };
    assert.match(out.results[0]?.error ?? '', new RegExp(`no table numbering_seqs in database ${mdb}`));
    assert.match(r.stderr, /correct `tables` of the source in berth\.yaml/);
    assert.equal(restic(repo, pass, 'snapshots', '--json', '--tag', 'source=typo').out.trim(), '[]');
  });

  it('the drill restores the subset into a scratch database and finds its tables alone, equal', async () => {
    const v = await run(['backup', 'verify', '--source', 'numbering', '--source', 'catalog']);
    assert.equal(v.code, 0, v.stderr);
    const drills = (JSON.parse(v.stdout) as { drills: Drill[] }).drills;
    assert.deepEqual(Object.fromEntries(drills.map((d) => [d.source, [d.ok, d.summary]])), {
      numbering: [true, '2 tables, 302 rows, checksums equal'],
      catalog: [true, '2 tables, 160 rows, counts and checksums equal'],
    });
  });

  it('a restore replaces the subset alone: other tables keep their changes, a table made since stays', async () => {
    mariadb(mdb, 'UPDATE numbering_sequences SET last_value = last_value + 1; DELETE FROM numbering_configs; UPDATE orders SET total = 0; CREATE TABLE later (x INT); INSERT INTO later VALUES (7)');
    psql(pdb, "DELETE FROM items WHERE id > 100; UPDATE audit.log SET what = 'changed'; DELETE FROM other WHERE id > 5; CREATE TABLE later (x int); INSERT INTO later VALUES (7)");
    const r = await run(['restore', 'latest', '--source', 'numbering', '--source', 'catalog', '--yes']);
    assert.equal(r.code, 0, r.stderr);
    const text = JSON.stringify(JSON.parse(r.stdout));
    assert.match(text, new RegExp(`database ${mdb}: 2 tables \\(numbering_configs, numbering_sequences\\), 302 rows restored; its other tables left as they were`));
    assert.match(text, new RegExp(`database ${pdb}: 2 tables \\(audit.log, public.items\\), 160 rows restored; its other tables left as they were`));
    // The subset is back as it was backed up …
    assert.equal(mariadb(mdb, 'SELECT COUNT(*), SUM(last_value) FROM numbering_sequences'), `300\t${10 * (300 * 301) / 2}`);
    assert.equal(mariadb(mdb, 'SELECT COUNT(*) FROM numbering_configs'), '2');
    assert.equal(mariadb(mdb, "SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = DATABASE() AND trigger_name = 'seq_touch'"), '1');
    assert.equal(psql(pdb, 'SELECT count(*) FROM items'), '120');
    assert.equal(psql(pdb, "SELECT count(*) FROM audit.log WHERE what LIKE 'event %'"), '40');
    assert.equal(psql(pdb, "SELECT nextval('items_id_seq')"), '121', 'the owned sequence comes back with its table');
    // … and the rest of each database is as it was left.
    assert.equal(mariadb(mdb, 'SELECT SUM(total) FROM orders'), '0');
    assert.equal(mariadb(mdb, 'SELECT x FROM later'), '7');
    assert.equal(mariadb(mdb, "SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema = DATABASE() AND routine_name = 'order_count'"), '1');
    assert.equal(psql(pdb, 'SELECT count(*) FROM other'), '5');
    assert.equal(psql(pdb, 'SELECT x FROM later'), '7');
    // The safety snapshot taken first is a subset too.
    const safety = JSON.parse(restic(repo, pass, 'snapshots', '--json', '--tag', 'safety-of=numbering').out) as Array<{ paths: string[] }>;
    assert.deepEqual(safety.map((s) => s.paths), [[`/mariadb/tables/${mdb}.sql`]]);
  });

  it('a PostgreSQL subset table that a foreign key outside the subset refers to: refused in one transaction, nothing changed, not held partly restored', async () => {
    psql(pdb, "CREATE TABLE refs (id int PRIMARY KEY, item int REFERENCES items(id)); INSERT INTO refs VALUES (1, 1); UPDATE audit.log SET what = 'kept'");
    try {
      const r = await run(['restore', 'latest', '--source', 'catalog', '--yes', '--no-safety']);
      assert.equal(r.code, 7, r.stderr);
      assert.match(r.stderr, /because other objects depend on it; nothing was restored/);
      assert.match(r.stderr, /hint: a foreign key of a table outside the subset refers to a table being replaced: add that table to the source's `tables`/);
      assert.equal(psql(pdb, "SELECT count(*) FROM audit.log WHERE what = 'kept'"), '40', 'the other table of the subset as it was');
      const status = JSON.parse((await run(['backup', 'status'])).stdout) as { sources: Array<{ source: string; partlyRestored?: unknown }> };
      assert.equal(status.sources.find((x) => x.source === 'catalog')?.partlyRestored, undefined);
    } finally {
      psql(pdb, 'DROP TABLE refs');
    }
  });

  it('the whole database and a subset of it restored together: the older snapshot first, so each table ends as its newest snapshot has it', async () => {
    const pattern = () => mariadb(mdb, 'SELECT pattern FROM numbering_configs WHERE id = 1');
    const both = ['restore', 'latest', '--source', 'numbering', '--source', 'whole', '--yes', '--no-safety'];
    mariadb(mdb, "UPDATE numbering_configs SET pattern = 'A' WHERE id = 1");
    assert.equal((await run(['backup', 'run', '--source', 'whole'])).code, 0);
    const ordersAtWhole = mariadb(mdb, 'SELECT total FROM orders WHERE id = 1');
    mariadb(mdb, "UPDATE numbering_configs SET pattern = 'B' WHERE id = 1; UPDATE orders SET total = total + 5 WHERE id = 1");
    assert.equal((await run(['backup', 'run', '--source', 'numbering'])).code, 0);
    mariadb(mdb, "UPDATE numbering_configs SET pattern = 'C' WHERE id = 1; UPDATE orders SET total = total + 9 WHERE id = 1");
    // The subset is newer: the whole database first (its own older numbering tables), then the subset over it.
    let r = await run(both);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as Array<{ source: string }>).map((x) => x.source), ['whole', 'numbering']);
    assert.equal(pattern(), 'B');
    assert.equal(mariadb(mdb, 'SELECT total FROM orders WHERE id = 1'), ordersAtWhole, 'the rest as the whole snapshot has it');

    // The whole database is newer: the subset first, then the whole one over everything.
    mariadb(mdb, "UPDATE numbering_configs SET pattern = 'E' WHERE id = 1");
    assert.equal((await run(['backup', 'run', '--source', 'whole'])).code, 0);
    mariadb(mdb, "UPDATE numbering_configs SET pattern = 'F' WHERE id = 1");
    r = await run(both);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as Array<{ source: string }>).map((x) => x.source), ['numbering', 'whole']);
    assert.equal(pattern(), 'E');
  });

  it('on a schedule of its own: the agent’s job for the source backs it up alone; the nightly job leaves it out, and prunes', async () => {
    p.write(
      'berth.yaml',
      berthFile(
        ['  retries: 0'],
        [source('numbering', 'mariadb', mdb, ', tables: [numbering_configs, numbering_sequences], schedule: "*/15 * * * *"'), source('catalog', 'postgres', pdb, ', tables: [items, audit.log]')],
      ),
    );
    const saved = process.env.BT_DB_PASSWORD;
    process.env.BT_DB_PASSWORD = dbEnv.BT_DB_PASSWORD;
    try {
      const project = await loadProject(p.dir, { env: { ...process.env } });
      const jobs = backupJobs(project);
      assert.deepEqual(jobs.map((j) => [j.name, j.cron]), [[`backup:${p.name}`, '0 2 * * *'], [`backup:${p.name}:numbering`, '*/15 * * * *'], [`verify:${p.name}`, '0 3 * * 0']]);
      const newest = () => {
        const all = JSON.parse(restic(repo, pass, 'snapshots', '--json').out) as Array<{ id: string; time: string; tags?: string[] }>;
        const of = (src: string) => all.filter((x) => x.tags?.includes(`source=${src}`)).sort((a, b) => (a.time < b.time ? 1 : -1))[0]?.id;
        return { numbering: of('numbering'), catalog: of('catalog'), config: of('config') };
      };
      const before = newest();
      await jobs[1]!.run(new AbortController().signal);
      const afterSource = newest();
      assert.notEqual(afterSource.numbering, before.numbering, 'a new snapshot of numbering');
      assert.deepEqual([afterSource.catalog, afterSource.config], [before.catalog, before.config], 'nothing else backed up');

      await jobs[0]!.run(new AbortController().signal);
      const afterNightly = newest();
      assert.equal(afterNightly.numbering, afterSource.numbering, 'the nightly run left numbering out');
      assert.notEqual(afterNightly.catalog, afterSource.catalog);
      assert.ok(afterNightly.config, 'the config backed up by the nightly run');
      const numberingSnaps = (JSON.parse(restic(repo, pass, 'snapshots', '--json', '--tag', 'source=numbering').out) as unknown[]).length;
      assert.equal(numberingSnaps, 1, 'pruned by the retention with the rest: one a day is kept');

      // A schedule added while an agent runs: no job of its own until the agent restarts, so the nightly run still takes it.
      const startedWithout = { ...project, backup: { ...project.backup!, sources: Object.fromEntries(Object.entries(project.backup!.sources).map(([k, v]) => [k, { ...v, schedule: undefined }])) } };
      const [oldNightly] = backupJobs(startedWithout, silentReporter, async () => project);
      await oldNightly!.run(new AbortController().signal);
      assert.notEqual(newest().numbering, afterNightly.numbering, 'backed up by the nightly run of an agent started before its schedule');

      const sched = await run(['backup', 'schedule', '-n', '2']);
      assert.equal(sched.code, 0, sched.stderr);
      const out = JSON.parse(sched.stdout) as { sources: Array<{ source: string; schedule: string; next: string[] }>; jobs: string[] };
      assert.deepEqual(out.sources.map((x) => [x.source, x.schedule, x.next.length]), [['numbering', '*/15 * * * *', 2]]);
      assert.ok(out.sources[0]!.next.every((t) => /:(00|15|30|45):00\.000Z$/.test(t)), out.sources[0]!.next.join(' '));
      assert.deepEqual(out.jobs, [`backup:${p.name}`, `backup:${p.name}:numbering`, `verify:${p.name}`]);
      const text = await p.berth(['backup', 'schedule', '-n', '1'], dbEnv);
      assert.match(text.stdout, /^schedule "0 2 \* \* \*" \(run by `berth agent`: backup run of the sources without a schedule of their own, then prune of all\)$/m);
      assert.match(text.stdout, /^source numbering: "\*\/15 \* \* \* \*" \(its own schedule/m);
      const status = await p.berth(['backup', 'status'], dbEnv);
      assert.match(status.stdout, /^numbering +mariadb, 2 tables, every "\*\/15 \* \* \* \*" +\d{4}-/m);
      assert.match(status.stdout, /^catalog +postgres, 2 tables +\d{4}-/m);
      const statusJson = JSON.parse((await run(['backup', 'status'])).stdout) as { sources: Array<{ source: string; tables?: string[]; schedule?: string }> };
      assert.deepEqual(statusJson.sources.find((x) => x.source === 'catalog')?.tables, ['public.items', 'audit.log']);
      assert.equal(statusJson.sources.find((x) => x.source === 'numbering')?.schedule, '*/15 * * * *');
    } finally {
      if (saved === undefined) delete process.env.BT_DB_PASSWORD;
      else process.env.BT_DB_PASSWORD = saved;
      p.write('berth.yaml', berthYaml);
    }
  });

  it('the snapshot decides: a subset snapshot restored after `tables` is gone from berth.yaml still leaves the other tables', async () => {
    const subset = JSON.parse(restic(repo, pass, 'snapshots', '--json', '--tag', 'source=numbering').out) as Array<{ short_id: string; paths: string[] }>;
    const id = subset.find((s) => s.paths[0] === `/mariadb/tables/${mdb}.sql`)!.short_id;
    p.write('berth.yaml', berthYaml.replace(', tables: [numbering_configs, numbering_sequences]', ''));
    try {
      mariadb(mdb, 'UPDATE orders SET total = 1');
      const r = await run(['restore', id, '--source', 'numbering', '--yes', '--no-safety']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(JSON.stringify(JSON.parse(r.stdout)), /the tables of the snapshot restored; its other tables left as they were/);
      assert.equal(mariadb(mdb, 'SELECT SUM(total) FROM orders'), '50', 'orders not dropped');
      assert.equal(mariadb(mdb, 'SELECT x FROM later'), '7');
      // Into a new database, the subset is all there is.
      const copy = await run(['restore', id, '--source', 'numbering', '--to', `${mdb}_copy`, '--yes']);
      assert.equal(copy.code, 0, copy.stderr);
      assert.equal(mariadb(`${mdb}_copy`, 'SHOW TABLES').split('\n').join(','), 'numbering_configs,numbering_sequences');
    } finally {
      p.write('berth.yaml', berthYaml);
    }
  });
});
