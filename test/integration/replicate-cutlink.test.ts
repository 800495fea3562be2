/**
 * A link cut in the middle of copying ~200 MB of random data: with no retries the pull fails
 * cleanly and no partial snapshot appears; with retries it resumes and completes. Either way
 * `restic check --read-data` on the replica passes. The cut is real: the sshd process serving
 * the connection (first test) or the ssh client (second test) is SIGKILLed while packs arrive.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sleep } from './harness.js';
import { countFiles, createWorld, descendants, replicationUnavailable, restic, snapshotsOf, type World } from './replicate-harness.js';

const skip = replicationUnavailable();

describe('berth replicate pull with a cut link', { skip }, () => {
  let w: World;
  let original: { id: string; tree: string };

  before(async () => {
    w = await createWorld({ replica: 'prepared' });
    // 20 × 10 MB of random data: incompressible, ~12 packs, several seconds at the limit below.
    const id = await w.backup('volume', 20, 10_000_000);
    original = (await snapshotsOf(w.primaryRepo, w.primaryPass)).find((s) => s.id === id)!;
  });
  after(async () => w?.cleanup());

  /** Starts a pull, waits until some pack files have arrived, cuts the link; returns the pull's result. */
  async function pullAndCut(extraPacks: number, cut: 'sshd-session' | 'ssh-client') {
    const packsBefore = countFiles(path.join(w.replicaRepo, 'data'));
    const { done, child } = w.spawnBerth(['--json', 'replicate', 'pull']);
    let sawSnapshot = false;
    const deadline = Date.now() + 60_000;
    while (countFiles(path.join(w.replicaRepo, 'data')) < packsBefore + extraPacks) {
      assert.ok(Date.now() < deadline, 'packs did not start arriving within 60 s');
      assert.equal(child.exitCode, null, 'the pull finished before the link could be cut');
      await sleep(50);
    }
    if (cut === 'sshd-session') {
      assert.ok(w.sshd.killSessions() >= 1, 'an sshd session process was killed');
    } else {
      // The ssh client restic started for the sftp link (berth → restic → ssh).
      const clients = descendants(child.pid!).filter((p) => p.comm === 'ssh');
      assert.equal(clients.length, 1, JSON.stringify(descendants(child.pid!)));
      process.kill(clients[0]!.pid, 'SIGKILL');
    }
    // Until the pull exits, no snapshot may appear in the replica unless it is complete.
    while (child.exitCode === null) {
      if (countFiles(path.join(w.replicaRepo, 'snapshots')) > 0) sawSnapshot = true;
      await sleep(50);
    }
    return { result: await done, sawSnapshot };
  }

  it('without retries: fails clearly, leaves no partial snapshot, the replica checks clean', async () => {
    w.writeBerth({ retries: 0, bandwidth_limit: '30M' });
    const { result, sawSnapshot } = await pullAndCut(3, 'sshd-session');
    assert.equal(result.code, 16, result.stderr);
    assert.match(result.stderr, /after 1 attempt\(s\): the primary is unreachable or the link was cut/);
    // The cause as restic or its ssh saw the cut first: restic's "connection lost", or ssh's own.
    assert.match(result.stderr, /connection lost|subprocess ssh: .*(Broken pipe|Connection closed|Connection reset)/);
    assert.equal(sawSnapshot, false);
    assert.deepEqual(await snapshotsOf(w.replicaRepo, w.replicaPass), []);
    const check = await restic(['-r', w.replicaRepo, 'check'], w.replicaPass);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /no errors were found/);
    const status = JSON.parse((await w.berth(['--json', 'replicate', 'status'])).stdout) as { state: string };
    assert.equal(status.state, 'failing');
  });

  it('with retries: a killed ssh client is retried with backoff and the snapshot arrives complete', async () => {
    w.writeBerth({ retries: 3, retry_delay: '500ms', bandwidth_limit: '30M' });
    const { result } = await pullAndCut(3, 'ssh-client');
    assert.equal(result.code, 0, result.stderr);
    const out = JSON.parse(result.stdout) as { attempts: number; copied: Array<{ originalId: string; copyId: string }> };
    assert.ok(out.attempts >= 2, `attempts ${out.attempts}`);
    assert.match(result.stderr, /attempt 1 of 4 failed \(unreachable\).*retrying in 0\.5s/);
    assert.equal(out.copied.length, 1);
    assert.equal(out.copied[0]!.originalId, original.id);

    const replica = await snapshotsOf(w.replicaRepo, w.replicaPass);
    assert.equal(replica.length, 1);
    assert.equal(replica[0]!.original, original.id);
    assert.equal(replica[0]!.tree, original.tree, 'same content tree as on the primary');
    // Every byte readable and matching its hash.
    const check = await restic(['-r', w.replicaRepo, 'check', '--read-data'], w.replicaPass);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /no errors were found/);
    const status = JSON.parse((await w.berth(['--json', 'replicate', 'status'])).stdout) as { state: string; lagMs: number };
    assert.equal(status.state, 'ok');
    assert.equal(status.lagMs, 0);
    assert.ok(fs.existsSync(path.join(w.replicaRepo, 'config')));
  });
});
