/** Concurrent deploy lock, SIGKILL mid-deploy then reconcile, and the audit chain catching tampering. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createTestProject, dockerPs, loadUntil, waitFor, webStack, type TestProject } from './harness.js';

describe('deploy lock, crash recovery and audit (real dockerd + haproxy)', () => {
  let p: TestProject;
  before(async () => {
    p = await createTestProject(webStack);
    const r = await p.berth(['up']);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => p.cleanup());

  it('a second deploy fails with --no-wait naming the holder, or waits for it', async () => {
    const first = p.spawnBerth(['deploy', 'web', '--image', 'berth-test/app:v2']);
    await waitFor('first deploy to hold the lock', () => first.output().includes('starting green'));
    const refused = await p.berth(['deploy', 'web', '--image', 'berth-test/app:v3', '--no-wait']);
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, new RegExp(`held by pid ${first.pid}`));
    assert.match(refused.stderr, /berth deploy web/);
    const waiting = await p.berth(['deploy', 'web', '--image', 'berth-test/app:v3']);
    assert.equal(waiting.code, 0, waiting.stderr);
    assert.match(waiting.stderr, /waiting for the deploy lock: held by pid/);
    assert.equal(await first.done, 0, first.output());
    assert.equal((await p.get()).body.trim(), 'app v3');
  });

  for (const point of ['starting', 'switched'] as const) {
    it(`SIGKILL while ${point === 'starting' ? 'the new color starts' : 'verifying after the switch'}: the next command reconciles`, async () => {
      const stop = new AbortController();
      const load = loadUntil(p.edgePort, 'app.localhost', stop.signal, 60_000);
      const before = (await p.get()).body.trim();
      const next = before === 'app v1' ? 'v2' : 'v1';
      const child = p.spawnBerth(['deploy', 'web', '--image', `berth-test/app:${next}`]);
      // "starting" is printed just before the container is created: wait for the container too, or
      // the kill can land before the create call reaches dockerd.
      const webCount = async () => (await dockerPs(p.name)).filter((l) => l.includes('-web-')).length;
      await waitFor(`deploy to reach "${point}"`, async () => (point === 'starting' ? child.output().includes('starting') && (await webCount()) === 2 : child.output().includes('edge switched')));
      child.kill('SIGKILL');
      if (point === 'starting') assert.doesNotMatch(child.output(), /edge switched/, 'killed before the switch');
      await child.done;
      const ps = await dockerPs(p.name);
      const webs = ps.filter((l) => l.includes('-web-'));
      assert.equal(webs.length, 2, `expected both colors right after the kill: ${ps}`);
      const status = await p.berth(['status', '--json']);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stderr, /reconciled after an interrupted run/);
      const after = await dockerPs(p.name);
      assert.equal(after.filter((l) => l.includes('-web-')).length, 1, `one live color after reconcile: ${after}`);
      stop.abort();
      const l = await load;
      const served = (await p.get()).body.trim();
      assert.equal(served, point === 'starting' ? before : `app ${next}`);
      assert.equal(l.errors + l.non2xx, 0, `requests failed around the crash: ${JSON.stringify(l)}`);
      const history = JSON.parse((await p.berth(['history', 'web', '--json'])).stdout);
      assert.equal(history[0].status, 'interrupted');
    });
  }

  it('a lock left by a killed process is cleared safely', async () => {
    const child = p.spawnBerth(['deploy', 'web', '--image', 'berth-test/app:v2']);
    await waitFor('deploy to take the lock', () => child.output().includes('starting'));
    child.kill('SIGKILL');
    await child.done;
    const r = await p.berth(['deploy', 'web', '--image', 'berth-test/app:v1', '--no-wait']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`cleared a stale deploy lock left by pid ${child.pid}`));
  });

  it('audit verify passes, then catches an edited and a deleted record', async () => {
    const ok = await p.berth(['audit', 'verify']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /audit trail intact: \d+ record/);
    const list = JSON.parse((await p.berth(['audit', 'list', '--json'])).stdout) as Array<{ action: string; user: string; newDigest?: string }>;
    assert.ok(list.some((r) => r.action === 'deploy' && r.newDigest?.startsWith('sha256:')));
    assert.ok(list.every((r) => r.user.length > 0));
    const db = new Database(path.join(p.dir, '.berth', 'berth.db'));
    db.prepare("UPDATE audit SET outcome = 'succeeded', target = 'db' WHERE seq = 2").run();
    db.close();
    const edited = await p.berth(['audit', 'verify']);
    assert.equal(edited.code, 12);
    assert.match(edited.stderr, /seq 2: edited/);
    const db2 = new Database(path.join(p.dir, '.berth', 'berth.db'));
    db2.prepare('DELETE FROM audit WHERE seq = 4').run();
    db2.close();
    const deleted = await p.berth(['audit', 'verify']);
    assert.equal(deleted.code, 12);
    assert.match(deleted.stderr, /deleted/);
  });

  it('docker ps stays readable: compose labels are set', () => {
    const out = execFileSync('docker', ['ps', '--filter', `label=com.docker.compose.project=${p.name}`, '--format', '{{.Label "com.docker.compose.service"}}']).toString();
    assert.match(out, /web/);
    assert.match(out, /edge/);
  });
});
