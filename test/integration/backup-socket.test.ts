/**
 * Host databases reached over their Unix sockets (`socket:` on a source) instead of TCP: the
 * host's MariaDB (/run/mysqld/mysqld.sock) and PostgreSQL (/var/run/postgresql), and a private
 * redis-server that listens on a socket only (port 0). Backup, restore drill, restore; and the
 * configuration errors for a socket where none applies.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { db, dbEnv, mariadb, psql } from './backup-harness.js';
import { createTestProject, waitFor, type TestProject } from './harness.js';
import { createResticRepository } from './restic-repo.js';

const redisCli = (sock: string, ...args: string[]) => spawnSync('redis-cli', ['-s', sock, ...args], { encoding: 'utf8' }).stdout.trim();

describe('host databases over Unix sockets', { timeout: 180_000 }, () => {
  const tag = randomBytes(3).toString('hex');
  const mdb = `bt_ms_${tag}`;
  const pdb = `bt_ps_${tag}`;
  let p: TestProject;
  let redis: ChildProcess;
  let redisDir: string;
  let sock: string;
  const run = (args: string[]) => p.berth(['--json', ...args], dbEnv);

  before(async () => {
    mariadb(undefined, `CREATE DATABASE ${mdb}`);
    mariadb(mdb, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO t SELECT seq, CONCAT('v', seq) FROM seq_1_to_200");
    psql('postgres', `CREATE DATABASE ${pdb}`);
    psql(pdb, "CREATE TABLE items (id serial PRIMARY KEY, name text); INSERT INTO items (name) SELECT 'i' || g FROM generate_series(1, 150) g");
    p = await createTestProject({ 'compose.yaml': 'services:\n  web:\n    image: berth-test/app:v1\n' });
    redisDir = path.join(p.dir, 'redis');
    fs.mkdirSync(redisDir);
    sock = path.join(redisDir, 'redis.sock');
    // TCP off (port 0): the socket is the only way in.
    redis = spawn('redis-server', ['--port', '0', '--unixsocket', sock, '--unixsocketperm', '700', '--dir', redisDir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await waitFor('redis on its socket', () => redisCli(sock, 'PING') === 'PONG');
    redisCli(sock, 'SET', 'plain', 'v1');
    redisCli(sock, 'SET', 'expiring', 'v2', 'EX', '3600');
    redisCli(sock, '-n', '2', 'HSET', 'h', 'a', '1', 'b', '2');
    fs.writeFileSync(path.join(p.dir, 'backup.pass'), `pw-${tag}\n`, { mode: 0o600 });
    createResticRepository(path.join(p.dir, 'repo'), path.join(p.dir, 'backup.pass'));
    p.write(
      'berth.yaml',
      `
name: {{NAME}}
backup:
  repository: repo
  password_file: backup.pass
  sources:
    mdb: { type: mariadb, socket: /run/mysqld/mysqld.sock, database: ${mdb}, user: ${db.user}, password_env: BT_DB_PASSWORD }
    pdb: { type: postgres, socket: /var/run/postgresql, database: ${pdb}, user: ${db.user}, password_env: BT_DB_PASSWORD }
    kv: { type: redis, socket: redis/redis.sock }
`,
    );
  });
  after(async () => {
    redis?.kill('SIGKILL');
    await p?.cleanup();
    spawnSync('mariadb', ['-h127.0.0.1', `-u${db.user}`, '-e', `DROP DATABASE IF EXISTS ${mdb}`], { env: { ...process.env, MYSQL_PWD: db.password } });
    spawnSync('psql', ['-h', '127.0.0.1', '-U', db.user, '-d', 'postgres', '-c', `DROP DATABASE IF EXISTS ${pdb} WITH (FORCE)`], { env: { ...process.env, PGPASSWORD: db.password } });
  });

  it('backs up all three over their sockets, and the drills pass', async () => {
    const r = await run(['backup', 'run', '--source', 'mdb', '--source', 'pdb', '--source', 'kv']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { status: string; results: Array<{ source: string; status: string; error?: string }> };
    assert.deepEqual(out.results.map((x) => `${x.source}:${x.status}${x.error ?? ''}`), ['mdb:succeeded', 'pdb:succeeded', 'kv:succeeded']);
    const v = await run(['backup', 'verify', '--source', 'mdb', '--source', 'pdb', '--source', 'kv']);
    assert.equal(v.code, 0, v.stderr);
    const drills = (JSON.parse(v.stdout) as { drills: Array<{ source: string; ok: boolean; summary: string }> }).drills;
    assert.deepEqual(Object.fromEntries(drills.map((d) => [d.source, d.summary])), {
      mdb: '1 table, 200 rows, checksums equal',
      pdb: '1 table, 150 rows, counts and checksums equal',
      kv: 'RDB valid, 3 keys',
    });
  });

  it('restores each over its socket: rows, keys and TTLs back, later keys gone', async () => {
    mariadb(mdb, 'DELETE FROM t WHERE id > 20');
    psql(pdb, 'DROP TABLE items');
    redisCli(sock, 'DEL', 'plain');
    redisCli(sock, 'SET', 'later', 'x');
    const r = await run(['restore', 'latest', '--source', 'mdb', '--source', 'pdb', '--source', 'kv', '--yes']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(mariadb(mdb, 'SELECT COUNT(*) FROM t'), '200');
    assert.equal(psql(pdb, 'SELECT count(*) FROM items'), '150');
    assert.equal(redisCli(sock, 'GET', 'plain'), 'v1');
    assert.equal(redisCli(sock, 'EXISTS', 'later'), '0', 'the server was flushed before the copy');
    const ttl = Number(redisCli(sock, 'TTL', 'expiring'));
    assert.ok(ttl > 3000 && ttl <= 3600, `TTL kept (${ttl})`);
    assert.equal(redisCli(sock, '-n', '2', 'HGET', 'h', 'b'), '2');
    assert.match(JSON.stringify(JSON.parse(r.stdout)), new RegExp(`3 keys in 2 database\\(s\\) copied into ${sock.replaceAll('/', '\\/')}`));
  });

  it('a socket where none applies is a configuration error naming the place', async () => {
    const good = fs.readFileSync(path.join(p.dir, 'berth.yaml'), 'utf8');
    const cases: Array<[string, RegExp]> = [
      ['    bad: { type: mariadb, socket: /run/mysqld/mysqld.sock, host: 10.0.0.5, database: x }\n', /berth\.yaml:\d+:\d+.*give `host` \(TCP\) or `socket`, not both/],
      ['    bad: { type: mariadb, service: web, socket: /run/mysqld/mysqld.sock, database: x }\n', /berth\.yaml:\d+:\d+.*takes no socket/],
      ['    bad: { type: volume, path: data, socket: /tmp/x.sock }\n', /berth\.yaml:\d+:\d+.*applies to a database source/],
    ];
    try {
      for (const [line, expected] of cases) {
        fs.writeFileSync(path.join(p.dir, 'berth.yaml'), good + line);
        const r = await p.berth(['backup', 'status']);
        assert.equal(r.code, 2, `${line}: ${r.stderr}`);
        assert.match(r.stderr, expected);
      }
    } finally {
      fs.writeFileSync(path.join(p.dir, 'berth.yaml'), good);
    }
  });
});
