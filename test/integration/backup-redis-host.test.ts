/**
 * A redis on the host (not in a container), restored over TCP: safety snapshot of the current
 * state, the snapshot's RDB loaded into a scratch redis-server, FLUSHALL on the target, every key
 * copied back with MIGRATE … REPLACE, key counts compared. The target is a private redis-server
 * started here on a free port (with a password), never the shared one on 6379.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestProject, freePort, waitFor, type TestProject } from './harness.js';
import { createResticRepository } from './restic-repo.js';

const password = 'redis-host-secret';

describe('restore into a redis on the host over TCP', { timeout: 120_000 }, () => {
  let p: TestProject;
  let server: ChildProcess;
  let port: number;
  let dataDir: string;
  const cli = (...args: string[]) => execFileSync('redis-cli', ['-p', String(port), '--raw', ...args], { encoding: 'utf8', env: { ...process.env, REDISCLI_AUTH: password } }).trim();
  const berth = (args: string[]) => p.berth(args, { BT_REDIS_PW: password });

  before(async () => {
    port = await freePort();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-redis-host-'));
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dataDir, '--requirepass', password, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await waitFor(`private redis-server on ${port}`, () => {
      try {
        return cli('PING') === 'PONG';
      } catch {
        return false;
      }
    }, 15_000);
    p = await createTestProject({
      'compose.yaml': 'services:\n  web:\n    image: berth-test/app:v1\n',
      'berth.yaml': `
name: {{NAME}}
backup:
  repository: repo
  password_file: backup.pass
  sources:
    cache: { type: redis, port: ${port}, password_env: BT_REDIS_PW }
`,
      'backup.pass': 'redis-host-test\n',
    });
    createResticRepository(path.join(p.dir, 'repo'), path.join(p.dir, 'backup.pass'));
    cli('MSET', 'a', '1', 'b', '2', 'c', '3');
    cli('HSET', 'h', 'f1', 'v1', 'f2', 'v2');
    cli('RPUSH', 'l', 'x', 'y', 'z');
    cli('SET', 'ttl', 'soon', 'EX', '3600');
    cli('SET', 'clé mit ü', 'non-ascii key');
    cli('-n', '3', 'SET', 'in3', 'three');
  });
  after(async () => {
    server?.kill('SIGKILL');
    await p?.cleanup();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('backs up and drills the host redis', async () => {
    const r = await berth(['--json', 'backup', 'run', '--source', 'cache']);
    assert.equal(r.code, 0, r.stderr);
    const v = await berth(['--json', 'backup', 'verify', '--source', 'cache']);
    assert.equal(v.code, 0, v.stderr);
    assert.equal((JSON.parse(v.stdout) as { drills: Array<{ summary: string }> }).drills[0]!.summary, 'RDB valid, 8 keys');
  });

  it('refuses without --yes, and `restore latest` without --source leaves a host redis alone', async () => {
    cli('SET', 'a', 'changed');
    const r = await berth(['restore', 'latest', '--source', 'cache']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /without confirmation/);
    const all = await berth(['restore', 'latest', '--yes']);
    assert.notEqual(all.code, 0);
    assert.match(all.stderr, /restored only when named \(--source cache/);
    assert.equal(cli('GET', 'a'), 'changed');
  });

  it('restores over TCP: safety snapshot first, the server flushed, every key copied back with its TTL', async () => {
    cli('DEL', 'b', 'h');
    cli('SET', 'extra', 'added-later');
    cli('-n', '5', 'SET', 'in5', 'five');
    const r = await berth(['--json', 'restore', 'latest', '--source', 'cache', '--yes']);
    assert.equal(r.code, 0, r.stderr);
    const [res] = JSON.parse(r.stdout) as Array<{ safetySnapshot?: string; summary: string }>;
    assert.ok(res!.safetySnapshot, 'a safety snapshot was taken');
    assert.equal(res!.summary, '8 keys in 2 database(s) copied into 127.0.0.1:' + port + ' (flushed first; key counts equal)');
    assert.equal(cli('MGET', 'a', 'b', 'c'), '1\n2\n3');
    assert.equal(cli('HGET', 'h', 'f2'), 'v2');
    assert.equal(cli('GET', 'clé mit ü'), 'non-ascii key');
    assert.equal(cli('LRANGE', 'l', '0', '-1'), 'x\ny\nz');
    assert.equal(cli('EXISTS', 'extra'), '0');
    assert.equal(cli('-n', '3', 'GET', 'in3'), 'three');
    assert.equal(cli('-n', '5', 'DBSIZE'), '0');
    const ttl = Number(cli('TTL', 'ttl'));
    assert.ok(ttl > 3000 && ttl <= 3600, `TTL kept: ${ttl}`);

    // The safety snapshot holds the state just before: restoring it brings `extra` and db5 back.
    const back = await berth(['--json', 'restore', res!.safetySnapshot!, '--yes', '--no-safety']);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(cli('GET', 'extra'), 'added-later');
    assert.equal(cli('-n', '5', 'GET', 'in5'), 'five');
    assert.equal(cli('EXISTS', 'b'), '0');
  });

  it('a wrong password for the target is a clear error and nothing is flushed', async () => {
    const before = cli('DBSIZE');
    const r = await p.berth(['restore', 'latest', '--source', 'cache', '--yes', '--no-safety'], { BT_REDIS_PW: 'wrong' });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /redis refused the password|WRONGPASS|invalid/i);
    assert.equal(cli('DBSIZE'), before);
  });
});
