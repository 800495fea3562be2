/** Pure parts of pull replication: ssh command, restic argv, failure classes, missing-set, status. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mapCopies, missingSnapshots } from '../../../src/replicate/pull.js';
import { classify, copyArgs, forgetArgs, resticEnv, sftpCommand, type Snapshot } from '../../../src/replicate/restic.js';
import { retentionGroups } from '../../../src/replicate/retention.js';
import { evaluateReplication } from '../../../src/replicate/status.js';
import type { ReplicationRun } from '../../../src/store/replications.js';

const snap = (id: string, timeMs: number, original?: string): Snapshot => ({
  id,
  shortId: id.slice(0, 8),
  timeMs,
  tags: [],
  paths: [],
  hostname: 'h',
  tree: 't',
  ...(original ? { original } : {}),
});

describe('sftpCommand', () => {
  it('builds a strict, non-interactive ssh command', () => {
    assert.equal(
      sftpCommand('sftp:berth@primary:/srv/backups/repo', { port: 2222, identityFile: '/k/id', knownHosts: '/k/known hosts' }),
      'ssh -p 2222 -i /k/id -o IdentitiesOnly=yes -o "UserKnownHostsFile=/k/known hosts" -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=15 -o ServerAliveInterval=15 -o ServerAliveCountMax=3 berth@primary -s sftp',
    );
  });
  it('takes the port from sftp://host:port/ URLs and ignores non-sftp repositories', () => {
    assert.match(sftpCommand('sftp://u@h:2200//srv/r', {})!, /^ssh -p 2200 .* u@h -s sftp$/);
    assert.equal(sftpCommand('/srv/repo', {}), undefined);
  });
});

describe('restic argv and environment', () => {
  it('copies without locking the read-only primary and passes the ssh command', () => {
    const from = { url: 'sftp:u@h:/r', password: { file: '/p1' }, sftpCommand: 'ssh u@h -s sftp' };
    const to = { url: '/local', password: { env: 'PW' } };
    assert.deepEqual(copyArgs(to, from, ['abc'], 100), ['-r', '/local', '--from-repo', 'sftp:u@h:/r', '--no-lock', '-o', 'sftp.command=ssh u@h -s sftp', '--limit-download', '100', 'copy', 'abc']);
    const env = resticEnv({ PATH: '/bin', PW: 'secret', RESTIC_REPOSITORY: 'x' }, to, from);
    assert.equal(env.RESTIC_PASSWORD, 'secret');
    assert.equal(env.RESTIC_FROM_PASSWORD_FILE, '/p1');
    assert.equal(env.RESTIC_REPOSITORY, undefined);
  });
  it('classifies restic failures', () => {
    const table: Array<[string, string]> = [
      ['Fatal: wrong password or no key found', 'wrong-password'],
      ['subprocess ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused', 'unreachable'],
      ['Load(<data/26>, 0, 0) returned error, retrying after 552ms: ReadFull: connection lost', 'unreachable'],
      ['subprocess ssh: root@127.0.0.1: Permission denied (publickey).', 'auth'],
      ['Fatal: unable to open config file: Lstat: file does not exist\nIs there a repository at the following location?', 'no-repository'],
      ['Fatal: unable to create lock in backend: repository is already locked by PID 1', 'locked'],
      ['something else', 'failed'],
    ];
    for (const [stderr, kind] of table) assert.equal(classify(stderr), kind, stderr);
  });
});

describe('missing snapshots and the id map', () => {
  const primary = [snap('p2', 2000), snap('p1', 1000), snap('p3', 3000)];
  const replica = [snap('c1', 1000, 'p1')];
  it('lists primary snapshots without a copy, oldest first', () => {
    assert.deepEqual(missingSnapshots(primary, replica).map((s) => s.id), ['p2', 'p3']);
    assert.deepEqual(missingSnapshots(primary, [...replica, snap('c2', 2000, 'p2'), snap('c3', 3000, 'p3')]), []);
  });
  it('maps original → copy', () => {
    assert.deepEqual(mapCopies(primary, replica), [{ originalId: 'p1', copyId: 'c1', timeMs: 1000, tags: [] }]);
  });
  it('leaves out snapshots whose copies this host’s retention removed, by their id or their own original', () => {
    assert.deepEqual(missingSnapshots(primary, replica, new Set(['p2'])).map((s) => s.id), ['p3']);
    // A primary snapshot that is itself a copy is known here by its original's id.
    assert.deepEqual(missingSnapshots([snap('q1', 1000, 'o1'), snap('q2', 2000)], [], new Set(['o1'])).map((s) => s.id), ['q2']);
  });
});

describe('this host’s retention', () => {
  const tagged = (id: string, tags: string[]): Snapshot => ({ ...snap(id, 1000), tags });
  it('groups berth snapshots per project and source, safety snapshots apart, and leaves others alone', () => {
    const groups = retentionGroups([
      tagged('a', ['berth', 'project=shop', 'source=db', 'berth-version=0.1.0']),
      tagged('b', ['berth', 'project=shop', 'source=db', 'berth-version=0.2.0']),
      tagged('c', ['berth', 'project=shop', 'safety-of=db', 'kind=safety']),
      tagged('d', ['berth', 'project=blog', 'source=files']),
      tagged('e', ['project=shop', 'source=db']),
      tagged('f', ['berth', 'source=db']),
      tagged('g', []),
    ]);
    assert.deepEqual(
      groups.map((g) => [g.project, g.source, g.kind, g.tags.join(',')]),
      [
        ['blog', 'files', 'backup', 'berth,project=blog,source=files'],
        ['shop', 'db', 'safety', 'berth,project=shop,safety-of=db'],
        ['shop', 'db', 'backup', 'berth,project=shop,source=db'],
      ],
    );
  });
  it('forgets one group per call, selected by all its tags', () => {
    assert.deepEqual(forgetArgs({ url: '/r', password: { file: '/p' } }, { daily: 30, weekly: 0, monthly: 24 }, ['berth', 'project=shop', 'source=db']), [
      '-r', '/r', 'forget', '--json', '--group-by', '', '--keep-daily', '30', '--keep-weekly', '0', '--keep-monthly', '24', '--tag', 'berth,project=shop,source=db',
    ]);
  });
});

describe('evaluateReplication', () => {
  const h = 3_600_000;
  const now = 100 * h;
  const run = (status: ReplicationRun['status'], at: number, extra: Partial<ReplicationRun> = {}): ReplicationRun => ({
    id: `r${at}`, project: 'p', source: 's', target: 't', status, attempts: 1, copied: 0, pid: 1, host: 'h', user: 'u', startedAt: at, finishedAt: at, ...extra,
  });
  it('ok, behind, failing', () => {
    const fresh = run('succeeded', now - h, { primaryNewestAt: now - 2 * h, replicaNewestAt: now - 2 * h, primaryCount: 3, replicaCount: 3 });
    const cases: Array<[ReplicationRun[], string]> = [
      [[], 'behind'],
      [[fresh], 'ok'],
      [[run('succeeded', now - h, { primaryNewestAt: now - 30 * h, replicaNewestAt: now - 30 * h })], 'behind'],
      [[run('succeeded', now - h)], 'behind'],
      [[run('failed', now, { error: 'down' }), fresh], 'failing'],
      [[run('interrupted', now), fresh], 'failing'],
      [[run('running', now), fresh], 'ok'],
    ];
    for (const [runs, state] of cases) assert.equal(evaluateReplication('p', runs, 26 * h, now).state, state, JSON.stringify(runs.map((r) => r.status)));
  });
  it('reports lag, age and failures in a row', () => {
    const s = evaluateReplication('p', [run('failed', now, { error: 'x' }), run('failed', now - 1), run('succeeded', now - h, { primaryNewestAt: now - 2 * h, replicaNewestAt: now - 3 * h })], 26 * h, now);
    assert.equal(s.consecutiveFailures, 2);
    assert.equal(s.lagMs, h);
    assert.equal(s.ageMs, 3 * h);
    assert.match(s.reason, /last pull failed \(2 in a row\): x/);
  });
});

describe('backup.replicate in berth.yaml', () => {
  it('resolves paths against the project folder and applies defaults', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { loadProject } = await import('../../../src/project/load.js');
    const dir = mkdtempSync(join(tmpdir(), 'brep-unit-'));
    try {
      writeFileSync(join(dir, 'compose.yaml'), 'services:\n  app:\n    image: busybox\n');
      writeFileSync(
        join(dir, 'berth.yaml'),
        'backup:\n  repository: repo\n  password_env: LOCAL_PW\n  replicate:\n    from: sftp:berth@primary:/srv/backups/repo\n    from_password_file: keys/primary.pass\n    ssh: { identity_file: keys/id, port: 2222 }\n    bandwidth_limit: 20M\n',
      );
      const p = await loadProject(dir, { env: {} });
      assert.deepEqual(p.replicate, {
        from: 'sftp:berth@primary:/srv/backups/repo',
        fromPassword: { file: join(dir, 'keys/primary.pass') },
        to: join(dir, 'repo'),
        toPassword: { env: 'LOCAL_PW' },
        ssh: { port: 2222, identityFile: join(dir, 'keys/id') },
        cron: '30 3 * * *',
        maxLagMs: 26 * 3_600_000,
        retries: 3,
        retryDelayMs: 10_000,
        bandwidthLimit: 20 * 1024 * 1024,
      });
      writeFileSync(join(dir, 'berth.yaml'), 'backup:\n  repository: repo\n  password_env: LOCAL_PW\n  replicate:\n    from: sftp:h:/r\n    from_password_env: P\n    retention: { daily: 30, monthly: 24 }\n');
      assert.deepEqual((await loadProject(dir, { env: {} })).replicate?.retention, { daily: 30, weekly: 4, monthly: 24 });
      writeFileSync(join(dir, 'berth.yaml'), 'backup:\n  repository: repo\n  password_env: LOCAL_PW\n  replicate:\n    from: sftp:h:/r\n    from_password_env: P\n    retention:\n      daily: 0\n      weekly: 0\n      monthly: 0\n');
      await assert.rejects(loadProject(dir, { env: {} }), /berth\.yaml:8:7 backup\.replicate\.retention: keeps no snapshot at all/);
      writeFileSync(join(dir, 'berth.yaml'), 'backup:\n  repository: repo\n  password_env: LOCAL_PW\n  replicate:\n    from: sftp:h:/r\n    from_password_env: P\n    retention: { daily: lots }\n');
      await assert.rejects(loadProject(dir, { env: {} }), /berth\.yaml:7:\d+ backup\.replicate\.retention\.daily: should be a whole number \(0 or more\)/);
      writeFileSync(join(dir, 'berth.yaml'), 'backup:\n  repository: repo\n  replicate:\n    from: sftp:h:/r\n    from_password_file: a\n    from_password_env: B\n    schedule: "daily"\n    bogus: 1\n');
      await assert.rejects(loadProject(dir, { env: {} }), (err: Error) => {
        assert.match(err.message, /berth\.yaml:\d+:\d+ backup\.replicate\.bogus/);
        assert.match(err.message, /backup\.replicate\.schedule: should be a cron expression/);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('replication store', () => {
  it('lets one pull run per project at a time and marks runs of dead processes interrupted', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { openStore } = await import('../../../src/store/db.js');
    const { createReplicationStore } = await import('../../../src/store/replications.js');
    const dir = mkdtempSync(join(tmpdir(), 'brep-store-'));
    const store = openStore(dir);
    try {
      let now = 1000;
      const runs = createReplicationStore(store.db, () => now++);
      const run = (id: string, pid: number) => ({ id, project: 'p', source: 's', target: 't', pid, host: 'h', user: 'u' });
      assert.deepEqual(runs.begin(run('a', 10), () => true), { ok: true });
      const second = runs.begin(run('b', 11), () => true);
      assert.equal(second.ok, false);
      assert.equal(!second.ok && second.holder.id, 'a');
      assert.deepEqual(runs.begin(run('c', 12), (pid) => pid !== 10), { ok: true });
      assert.deepEqual(runs.runs('p').map((r) => [r.id, r.status]), [['c', 'running'], ['a', 'interrupted']]);
      runs.finish('c', { status: 'succeeded', attempts: 1, copied: 2, replicaNewestAt: 5 });
      assert.equal(runs.lastSucceeded('p')?.id, 'c');
      assert.deepEqual(runs.recordMappings('p', 'c', [{ originalId: 'o1', copyId: 'c1', timeMs: 1, tags: ['x'] }]), ['o1']);
      assert.deepEqual(runs.recordMappings('p', 'd', [{ originalId: 'o1', copyId: 'c1', timeMs: 1, tags: ['x'] }]), []);
      assert.deepEqual(runs.mappings('p'), [{ originalId: 'o1', copyId: 'c1', timeMs: 1, tags: ['x'], runId: 'c' }]);
      // Copies removed by this host's retention: marked (recorded when unknown), not copied again until a new repository.
      runs.markForgotten('p', [{ originalId: 'o1', copyId: 'c1', timeMs: 1, tags: ['x'] }, { originalId: 'o2', copyId: 'c2', timeMs: 2, tags: [] }]);
      assert.deepEqual([...runs.forgottenOriginals('p')].sort(), ['o1', 'o2']);
      assert.deepEqual(runs.mappings('p').map((m) => [m.originalId, m.runId]), [['o1', 'c'], ['o2', undefined]]);
      assert.deepEqual([...runs.forgottenOriginals('other')], []);
      runs.recordMappings('p', 'e', [{ originalId: 'o2', copyId: 'c2b', timeMs: 2, tags: [] }]);
      assert.deepEqual([...runs.forgottenOriginals('p')], ['o1'], 'a copy present again is not forgotten');
      // Removing copies owes a prune until one finishes; a pull killed in between leaves it owed.
      assert.ok(runs.pruneOwedSince('p') !== undefined);
      const owedSince = runs.pruneOwedSince('p');
      runs.markForgotten('p', [{ originalId: 'o3', copyId: 'c3', timeMs: 3, tags: [] }]);
      assert.equal(runs.pruneOwedSince('p'), owedSince, 'owed since the first removal not yet pruned');
      assert.equal(runs.pruneOwedSince('other'), undefined);
      runs.markPruned('p');
      assert.equal(runs.pruneOwedSince('p'), undefined);
      runs.markForgotten('p', []);
      assert.equal(runs.pruneOwedSince('p'), undefined, 'nothing removed, nothing owed');
      runs.markForgotten('p', [{ originalId: 'o4', copyId: 'c4', timeMs: 4, tags: [] }]);
      runs.clearForgotten('p');
      assert.deepEqual([...runs.forgottenOriginals('p')], []);
      assert.equal(runs.pruneOwedSince('p'), undefined, 'a new repository owes no prune');
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
