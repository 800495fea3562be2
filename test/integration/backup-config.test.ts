/**
 * The config source with real restic: the files a project mounts from its folder are kept (a
 * bind-mounted nginx.conf, a read-only site folder, compose configs), secrets only with
 * include_env, and `restore --all` on a new host says what the snapshot lacks before it starts
 * anything. The copy of the audit trail it carries: dropped by the host it came from, and, with
 * `audit verify --against`, catching a trail rewritten with its hashes recomputed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { rowHash, type AuditRow } from '../../src/audit/record.js';
import { mountingProjectFiles } from '../fixtures/mounting-project.js';
import { runBerth } from './harness.js';
import { createResticRepository } from './restic-repo.js';


describe('the config source', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-config-'));
  const dir = path.join(root, 'shop');
  const repo = path.join(root, 'repo');
  const pass = path.join(root, 'repo.pass');
  const berthYaml = (includeEnv: boolean) =>
    ['backup:', `  repository: ${repo}`, `  password_file: ${pass}`, '  sources:', `    config: { type: config, include_env: ${includeEnv} }`, ''].join('\n');
  const berth = (cwd: string, args: string[]) => runBerth(cwd, ['-C', cwd, ...args]);
  fs.writeFileSync(pass, 'config-test-password\n');
  createResticRepository(repo, pass);
  for (const [f, text] of Object.entries(mountingProjectFiles)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('keeps what the services mount from the project folder, names what it leaves out, and restores it', async () => {
    fs.writeFileSync(path.join(dir, 'berth.yaml'), berthYaml(false));
    const run = await berth(dir, ['--json', 'backup', 'run']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /config: left out 3 file\(s\) holding secrets \(\.env, conf\/app\.env, db\/password\.txt\)/);
    assert.match(run.stderr, /config: left out 1 folder\(s\) services write to \(data\)/);

    const to = path.join(root, 'restored');
    const r = await berth(dir, ['restore', 'latest', '--source', 'config', '--to', to, '--yes']);
    assert.equal(r.code, 0, r.stderr);
    for (const f of ['compose.yaml', 'berth.yaml', 'proxy/nginx.conf', 'site/index.html', 'site/img/logo.svg', 'conf/site.toml']) {
      assert.equal(fs.readFileSync(path.join(to, f), 'utf8'), fs.readFileSync(path.join(dir, f), 'utf8'), f);
    }
    for (const f of ['conf/app.env', 'db/password.txt', 'data']) assert.equal(fs.existsSync(path.join(to, f)), false, `${f} is not in the snapshot`);

    const verify = await berth(dir, ['--json', 'backup', 'verify']);
    assert.equal(verify.code, 0, verify.stderr);

    // In place on this host: the snapshot's copy of the audit trail is this host's own records, so it is dropped, not merged.
    // (The first run's copy was empty: nothing had been recorded before it. This one carries that run and the verify.)
    assert.equal((await berth(dir, ['backup', 'run'])).code, 0);
    const before = JSON.parse((await berth(dir, ['--json', 'audit', 'list', '--limit', '1000'])).stdout) as unknown[];
    const inPlace = await berth(dir, ['restore', 'latest', '--source', 'config', '--yes']);
    assert.equal(inPlace.code, 0, inPlace.stderr);
    assert.match(inPlace.stderr, /config: audit trail: this host's audit trail already holds the copy's \d+ record\(s\)$/m);
    assert.equal(fs.existsSync(path.join(dir, '.berth-audit.jsonl')), false, 'not left in the project folder');
    assert.equal(fs.existsSync(path.join(dir, '.berth', 'audit-snapshot.jsonl')), false, 'nothing kept aside');
    // Its copy of the backup records too: this host has records of its own.
    assert.doesNotMatch(inPlace.stderr, /backup records/);
    assert.equal(fs.existsSync(path.join(dir, '.berth-backups.json')), false);
    const after = JSON.parse((await berth(dir, ['--json', 'audit', 'list', '--limit', '1000'])).stdout) as unknown[];
    assert.deepEqual(after.slice(0, before.length), before);
    assert.equal((await berth(dir, ['audit', 'verify'])).code, 0);
  });

  it('restore --all on a new host stops before starting anything when the snapshot lacks a file, and says why', async () => {
    // The compose file has no `name:`: the project is named after its folder, so the new host's folder is "shop" too.
    const fresh = path.join(fs.mkdtempSync(path.join(root, 'host2-')), 'shop');
    fs.mkdirSync(fresh);
    const r = await berth(fresh, ['restore', '--all', '--yes', '--repository', repo, '--password-file', pass]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /compose\.yaml:\d+:\d+ services\.app\.env_file: env file \.\/conf\/app\.env not found/);
    assert.match(r.stderr, /hint: env files are in the config snapshot only if the config source had `include_env: true`: put it back/);

    // Put the env file back: the next attempt names the secret the snapshot lacks, still before `berth up`.
    fs.mkdirSync(path.join(fresh, 'conf'), { recursive: true });
    fs.copyFileSync(path.join(dir, 'conf/app.env'), path.join(fresh, 'conf/app.env'));
    const again = await berth(fresh, ['restore', '--all', '--yes']);
    assert.equal(again.code, 2, again.stderr);
    assert.match(again.stderr, /the project mounts 1 file\(s\) or folder\(s\) from its folder that the config snapshot does not hold: db\/password\.txt/);
    assert.match(again.stderr, /hint: put them back in .*include_env: true/);
    // The first attempt left the copy of the audit trail in the folder; this one took it up.
    assert.match(again.stderr, /config: audit trail: \d+ record\(s\) taken up from the snapshot's copy, chain checked/);
    assert.equal(fs.existsSync(path.join(fresh, '.berth-audit.jsonl')), false);
    // And the backup records (this new host has none of its own): the config snapshot's own, digests included.
    assert.match(again.stderr, /config: took up the backup records of 1 snapshot\(s\) made on \S+/);
    assert.equal(fs.existsSync(path.join(fresh, '.berth-backups.json')), false);
    const status = JSON.parse((await berth(fresh, ['--json', 'backup', 'status'])).stdout) as { sources: Array<{ source: string; lastSnapshot?: string }> };
    assert.ok(status.sources.find((s) => s.source === 'config')?.lastSnapshot, JSON.stringify(status));
    assert.equal(fs.readFileSync(path.join(fresh, 'proxy/nginx.conf'), 'utf8'), 'events {}\n', 'the config restored so far stays');
  });

  it('restore --all into a folder of another name says the project would be another one', async () => {
    const other = fs.mkdtempSync(path.join(root, 'elsewhere-'));
    const r = await berth(other, ['restore', '--all', '--yes', '--repository', repo, '--password-file', pass]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /env file/, 'the env file is missing here too, and reported first');
    fs.mkdirSync(path.join(other, 'conf'), { recursive: true });
    fs.copyFileSync(path.join(dir, 'conf/app.env'), path.join(other, 'conf/app.env'));
    const again = await berth(other, ['restore', '--all', '--yes']);
    assert.equal(again.code, 2, again.stderr);
    assert.match(again.stderr, /there the project is named "elsewhere-\w+", while its backups are of "shop" \(a compose file without `name:` is named after its folder\)/);
    assert.match(again.stderr, /hint: rename the folder to shop \(or add `name: shop` to compose\.yaml\)/);
  });

  it('with include_env, the secrets are in the snapshot and a new host has every file the project mounts', async () => {
    fs.writeFileSync(path.join(dir, 'berth.yaml'), berthYaml(true));
    const run = await berth(dir, ['backup', 'run']);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /holding secrets/);
    const to = path.join(root, 'restored-env');
    const r = await berth(dir, ['restore', 'latest', '--source', 'config', '--to', to, '--yes']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.readFileSync(path.join(to, 'db/password.txt'), 'utf8'), 's3cret\n');
    assert.equal(fs.readFileSync(path.join(to, 'conf/app.env'), 'utf8'), 'GREETING=hello\n');
    assert.equal(fs.readFileSync(path.join(to, '.env'), 'utf8'), 'B=2\n');
    for (const f of ['data', 'notes.txt', '.berth']) assert.equal(fs.existsSync(path.join(to, f)), false, `${f} is not configuration`);
    assert.equal(fs.statSync(path.join(to, 'db/password.txt')).mode & 0o777, fs.statSync(path.join(dir, 'db/password.txt')).mode & 0o777);
  });

  it('restore --all --before rebuilds from the config snapshot of that time: here the one before include_env, which lacks the secret', async () => {
    const listed = await berth(dir, ['--json', 'backup', 'list', '--snapshots']);
    const times = (JSON.parse(listed.stdout) as Array<{ time: string; tags: string[] }>).filter((x) => x.tags.includes('source=config')).map((x) => Date.parse(x.time)).sort((a, b) => a - b);
    const withSecrets = times.at(-1)!;
    const fresh = path.join(fs.mkdtempSync(path.join(root, 'host3-')), 'shop');
    fs.mkdirSync(path.join(fresh, 'conf'), { recursive: true });
    fs.copyFileSync(path.join(dir, 'conf/app.env'), path.join(fresh, 'conf/app.env'));
    const none = await berth(fresh, ['restore', '--all', '--yes', '--before', '2000-01-01', '--repository', repo, '--password-file', pass]);
    assert.equal(none.code, 6, none.stderr);
    assert.match(none.stderr, /no config snapshot before 2000-01-01T00:00:00\.000Z in \S+\n\s+hint: give a later --before/);
    assert.equal(fs.existsSync(path.join(fresh, 'compose.yaml')), false, 'nothing restored');
    const r = await berth(fresh, ['restore', '--all', '--yes', '--before', new Date(withSecrets).toISOString(), '--repository', repo, '--password-file', pass]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /the config snapshot does not hold: db\/password\.txt/, 'the snapshot taken before the secrets were included');
  });

  it('audit verify --against a copy from a snapshot catches a trail rewritten with its hashes and head recomputed', async () => {
    assert.equal((await berth(dir, ['backup', 'run'])).code, 0);
    const to = path.join(root, 'copy');
    assert.equal((await berth(dir, ['restore', 'latest', '--source', 'config', '--to', to, '--yes'])).code, 0);
    const copy = path.join(to, '.berth-audit.jsonl');
    const records = fs.readFileSync(copy, 'utf8').trim().split('\n').length;
    const ok = await berth(dir, ['audit', 'verify', '--against', copy]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`chain verified; it holds all ${records} record\\(s\\) of the copy \\S+ unchanged`));

    // Someone with this host's files rewrites record 2 and recomputes every hash after it, and the head file.
    const db = new Database(path.join(dir, '.berth', 'berth.db'));
    const rows = db.prepare('SELECT * FROM audit ORDER BY seq').all() as AuditRow[];
    let prev = rows[0]!.hash;
    const update = db.prepare('UPDATE audit SET user = ?, prev_hash = ?, hash = ? WHERE seq = ?');
    for (const r of rows.slice(1)) {
      const row = { ...r, user: r.seq === 2 ? 'mallory' : r.user, prev_hash: prev };
      const hash = rowHash(row)!;
      update.run(row.user, prev, hash, r.seq);
      prev = hash;
    }
    db.close();
    fs.writeFileSync(path.join(dir, '.berth', 'audit.head'), `${JSON.stringify({ seq: rows.at(-1)!.seq, hash: prev })}\n`);
    assert.equal((await berth(dir, ['audit', 'verify'])).code, 0, 'the chain alone cannot see it');
    const caught = await berth(dir, ['--json', 'audit', 'verify', '--against', copy]);
    assert.equal(caught.code, 12, caught.stderr);
    const out = JSON.parse(caught.stdout) as { ok: boolean; problems: Array<{ seq: number; kind: string; message: string }>; against: { records: number; matched: number } };
    assert.equal(out.ok, false);
    assert.deepEqual(out.problems.map((x) => [x.seq, x.kind]), [[2, 'edited']]);
    assert.match(out.problems[0]!.message, /record 2 is not the copy's \(in \S+: \S+ \S+ by root at .*\): this trail, or the copy, was changed from there on/);
    assert.deepEqual(out.against, { file: copy, records, matched: 1 });

    // A copy that is itself damaged proves nothing, and says so.
    const damaged = path.join(root, 'damaged.jsonl');
    fs.writeFileSync(damaged, fs.readFileSync(copy, 'utf8').replace(/"user":"root"/, '"user":"eve"'));
    const bad = await berth(dir, ['audit', 'verify', '--against', damaged]);
    assert.equal(bad.code, 12);
    assert.match(bad.stderr, /the copy \S+damaged\.jsonl is itself damaged \(record 1: .*was edited/);
    const none = await berth(dir, ['audit', 'verify', '--against', path.join(root, 'nope.jsonl')]);
    assert.equal(none.code, 6);
    assert.match(none.stderr, /--against \S+nope\.jsonl: no such file\n\s+hint: take a copy from a config snapshot/);
  });
});
