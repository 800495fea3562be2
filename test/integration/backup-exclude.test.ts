/**
 * `exclude:` on volume sources, with real restic, busybox and dockerd:
 * - the two readers of the patterns agree on a tree of awkward names: restic leaves out at backup
 *   exactly what busybox `find -regex` (in the helper) finds to keep at an in-place restore;
 * - a named volume read by restic in the helper: the snapshot lacks what the patterns name, the
 *   drill passes, and an in-place restore brings back what the snapshot has while the excluded
 *   paths stay as they are now, also when the restore's helper is killed while restic restores;
 * - a volume that would be streamed as tar (a helper image without restic) is not backed up with
 *   its exclusions ignored: the source fails, saying why and what to do;
 * - a tar-stream snapshot made before the patterns were added, restored in place, also leaves what
 *   they name as it is where the snapshot has nothing of it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { findExcludeRegex, resticExcludeArgs } from '../../src/backup/sources/path-patterns.js';
import { createBackupProject, docker, restic, resticRestoring, writeVolume, type BackupProject } from './backup-harness.js';
import { createResticRepository } from './restic-repo.js';

type RunJson = { status: string; results: Array<{ source: string; status: string; error?: string; hint?: string }> };

const patterns = ['cache', '*.tmp', '/logs', 'thumbs/small', 'caf?', '.git', 'a.b'];

/** Every path under `root` (files, directories, symlinks), relative, without the root itself. */
function walk(root: string, rel = ''): string[] {
  return fs.readdirSync(path.join(root, rel), { withFileTypes: true }).flatMap((e) => {
    const p = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() && !e.isSymbolicLink() ? [p, ...walk(root, p)] : [p];
  });
}

describe('restic and busybox find read the exclude patterns alike', { timeout: 120_000 }, () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-exclude-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('what restic leaves out of the snapshot is exactly what find keeps aside', () => {
    // The volume's own path has a name a pattern would match, and characters special to globs.
    const root = path.join(dir, 'cache [vol]*');
    const files = [
      'a.txt', 'b.tmp', 'tmp', 'x.tmp.keep', 'cache/x/c', 'cache.d/keep', 'sub/cache/y', 'sub/cachey/keep', 'deep/er/cache',
      'logs/l', 'sub/logs/keep', 'thumbs/small/s', 'thumbs/large/keep', 'p/thumbs/small/s', 'small/keep',
      'café', 'cafe', 'caf€', 'caf😀', 'cafés/keep', 'caf/keep', '.git/HEAD', 'sub/.git/HEAD', '.gitignore', 'a.b', 'axb', 'name with spaces.tmp', 'sp ace/.hidden.tmp',
    ];
    for (const f of files) {
      fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
      fs.writeFileSync(path.join(root, f), f);
    }
    fs.symlinkSync('a.txt', path.join(root, 'link.tmp'));
    fs.mkdirSync(path.join(root, 'empty.tmp'));

    const pass = path.join(dir, 'pass');
    fs.writeFileSync(pass, 'pw\n');
    const repo = path.join(dir, 'repo');
    createResticRepository(repo, pass);
    const env = { ...process.env, RESTIC_REPOSITORY: repo, RESTIC_PASSWORD_FILE: pass, RESTIC_CACHE_DIR: path.join(dir, 'cache-dir') };
    execFileSync('restic', ['backup', '-q', ...resticExcludeArgs(root, patterns), root], { env });
    const listed = execFileSync('restic', ['ls', '--json', 'latest'], { env, encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes('"struct_type":"node"'))
      .map((l) => (JSON.parse(l) as { path: string }).path)
      .filter((p) => p.startsWith(`${root}/`))
      .map((p) => p.slice(root.length + 1));
    const inSnapshot = new Set(listed);

    const found = execFileSync('busybox', ['find', '.', '-mindepth', '1', '-regex', findExcludeRegex(patterns), '-prune'], { cwd: root, encoding: 'utf8' });
    const kept = found.split('\n').filter(Boolean).map((p) => p.replace(/^\.\//, ''));
    const underKept = (p: string) => kept.some((k) => p === k || p.startsWith(`${k}/`));

    // Every path is in exactly one of the two: the snapshot, or (under) what find keeps aside.
    const all = walk(root);
    assert.deepEqual(all.filter((p) => inSnapshot.has(p) === underKept(p)), [], 'each path either backed up or kept aside, never both or neither');
    assert.deepEqual(kept.sort(), [
      '.git', 'a.b', 'b.tmp', 'cache', 'cafe', 'café', 'caf€', 'caf😀', 'deep/er/cache', 'empty.tmp', 'link.tmp', 'logs', 'name with spaces.tmp',
      'p/thumbs/small', 'sp ace/.hidden.tmp', 'sub/.git', 'sub/cache', 'thumbs/small',
    ]);
  });
});

describe('a named volume with exclude patterns', { timeout: 300_000 }, () => {
  let p: BackupProject;
  const listing = () => writeVolume(p.volume, 'cd /d && find . -type f | sort | while read -r f; do echo "$f $(cat "$f" | head -c 40)"; done');
  before(async () => {
    p = await createBackupProject({ extraSources: '    ex: { type: volume, volume: data, exclude: [cache, "*.tmp", /logs] }\n' });
    writeVolume(
      p.volume,
      'mkdir -p /d/cache/x /d/logs /d/sub/logs /d/sub/cache && echo c1 > /d/cache/x/c && echo l1 > /d/logs/l && echo s1 > /d/sub/logs/l && ' +
        'echo y1 > /d/sub/cache/y && echo t1 > /d/b.tmp && echo t2 > /d/sub/d.tmp && echo k1 > /d/sub/keep',
    );
  });
  after(async () => p?.cleanup());

  it('backs up without what the patterns name; the drill passes', async () => {
    const r = await p.json<RunJson>(['backup', 'run', '--source', 'ex']);
    assert.equal(r.code, 0, r.stderr);
    const snap = p.snapshots('ex')[0]!;
    assert.deepEqual(snap.paths, ['/volume/ex'], 'read by restic in the helper');
    const ls = restic(p.repo, p.passwordFile, 'ls', '--no-lock', snap.short_id).out.split('\n').filter((l) => l.startsWith('/volume/ex/')).sort();
    assert.deepEqual(ls, ['/volume/ex/a.txt', '/volume/ex/sub', '/volume/ex/sub/b.txt', '/volume/ex/sub/keep', '/volume/ex/sub/logs', '/volume/ex/sub/logs/l']);
    const v = await p.json<{ drills: Array<{ source: string; ok: boolean; summary: string }> }>(['backup', 'verify', '--source', 'ex']);
    assert.equal(v.code, 0, v.stderr);
    const drill = v.value.drills.find((d) => d.source === 'ex')!;
    assert.ok(drill.ok, drill.summary);
    assert.match(drill.summary, /^4 files, /);
  });

  it('an in-place restore brings back what the snapshot has and leaves the excluded paths as they are now', async () => {
    writeVolume(p.volume, 'echo changed > /d/a.txt; rm /d/sub/keep; echo stray > /d/stray; echo c2 > /d/cache/x/c; echo new > /d/cache/new; echo t3 > /d/sub/new.tmp');
    const r = await p.run(['restore', 'latest', '--source', 'ex', '--yes', '--no-safety']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ex: restored [0-9a-f]{8} of \d{4}-\d\d-\d\d \d\d:\d\d UTC — volume \S+ replaced; 6 excluded path\(s\) \(exclude: cache, \*\.tmp, \/logs\) left as they were/);
    assert.equal(
      listing(),
      ['./a.txt hello', './b.tmp t1', './cache/new new', './cache/x/c c2', './logs/l l1', './sub/b.txt world', './sub/cache/y y1', './sub/d.tmp t2', './sub/keep k1', './sub/logs/l s1', './sub/new.tmp t3'].join('\n'),
    );
  });

  it('an older snapshot that holds an excluded path restores it: what the snapshot has wins', async () => {
    // A snapshot of `ex` made while it had no patterns.
    const yaml = fs.readFileSync(path.join(p.dir, 'berth.yaml'), 'utf8');
    p.write('berth.yaml', yaml.replace(', exclude: [cache, "*.tmp", /logs]', ''));
    const full = await p.run(['backup', 'run', '--source', 'ex']);
    assert.equal(full.code, 0, full.stderr);
    const whole = p.snapshots('ex').at(-1)!.short_id;
    p.write('berth.yaml', yaml);
    writeVolume(p.volume, 'echo c3 > /d/cache/x/c; echo l2 > /d/logs/l; echo t9 > /d/late.tmp');
    const r = await p.run(['restore', whole, '--source', 'ex', '--yes', '--no-safety']);
    assert.equal(r.code, 0, r.stderr);
    const now = listing();
    assert.match(now, /^\.\/cache\/x\/c c2$/m, 'cache came from the snapshot');
    assert.match(now, /^\.\/logs\/l l1$/m, 'logs came from the snapshot');
    assert.match(now, /^\.\/late\.tmp t9$/m, 'an excluded file the snapshot lacks stays');
    assert.doesNotMatch(now, /berth-/);
  });

  it("an in-place restore whose helper is killed while restic restores still puts the excluded paths back", async () => {
    // Enough data that restic is still writing when the helper is killed.
    writeVolume(p.volume, 'rm -f /d/late.tmp; mkdir -p /d/big && for i in $(seq 1 120); do head -c 1048576 /dev/urandom > /d/big/f$i; done');
    const b = await p.run(['backup', 'run', '--source', 'ex']);
    assert.equal(b.code, 0, b.stderr);
    writeVolume(p.volume, 'echo c4 > /d/cache/x/c; echo t4 > /d/sub/d.tmp; echo stray > /d/stray');
    const excluded = listing().split('\n').filter((l) => /^\.\/(cache\/|logs\/|sub\/cache\/|\S*\.tmp )/.test(l));
    assert.equal(excluded.length, 7, excluded.join('\n'));
    const mountpoint = docker('volume', 'inspect', '-f', '{{.Mountpoint}}', p.volume);
    const child = p.spawnBerth(['restore', 'latest', '--source', 'ex', '--yes', '--no-safety']);
    const helper = `berth-helper-${p.name}-ex-${child.pid}`;
    let killed = '';
    const deadline = Date.now() + 60_000;
    // The excluded paths are kept aside once restic has begun; restic is frozen first, so the kill
    // lands while it restores, however long docker takes.
    while (!killed && Date.now() < deadline && child.exitCode === null) {
      const running = fs.readdirSync(mountpoint).some((f) => f.startsWith('.berth-kept-')) ? resticRestoring() : undefined;
      if (running) {
        process.kill(running, 'SIGSTOP');
        killed = docker('kill', helper);
      }
      await sleep(5);
    }
    const code = await child.done;
    assert.ok(killed, `the helper was never caught while restic restored (exit ${code}): ${child.output()}`);
    assert.equal(code, 13, child.output());
    assert.match(child.output(), /ex: the restore's helper container ended while restic was restoring \(.*\); \d+ excluded path\(s\) \(exclude: cache, \*\.tmp, \/logs\) left as they were/);
    const after = listing().split('\n');
    for (const l of excluded) assert.ok(after.includes(l), `${l} is where it was`);
    assert.deepEqual(fs.readdirSync(mountpoint).filter((f) => f.startsWith('.berth-')), [], 'nothing left aside');
  });
});

describe('exclude patterns where the volume would be streamed as tar', { timeout: 120_000 }, () => {
  let p: BackupProject;
  before(async () => {
    p = await createBackupProject({
      extraBackup: '  helper_image: berth-test/app:v1\n',
      extraSources: '    ex: { type: volume, volume: data, exclude: [cache] }\n',
    });
  });
  after(async () => p?.cleanup());

  it('the source fails saying why, and nothing is stored for it', async () => {
    const r = await p.json<RunJson>(['backup', 'run', '--source', 'ex', '--source', 'files']);
    assert.equal(r.code, 13, r.stderr);
    assert.equal(r.value.status, 'partial');
    const ex = r.value.results.find((x) => x.source === 'ex')!;
    assert.equal(ex.status, 'failed');
    assert.match(ex.error!, /ex: `exclude` needs restic to read the volume, but here it is streamed as a tar: the helper image berth-test\/app:v1 has no restic \(backup.helper_image\)/);
    assert.match(ex.hint!, /remove backup.helper_image \(berth builds its own helper, with restic\), or remove `exclude`/);
    assert.equal(p.snapshots('ex').length, 0);
    assert.equal(p.snapshots('files').length, 1, 'the other volume, without patterns, is streamed as before');
  });
});

describe('a tar-stream snapshot restored in place into a source that now has patterns', { timeout: 120_000 }, () => {
  let p: BackupProject;
  const listing = () => writeVolume(p.volume, 'cd /d && find . -type f | sort | while read -r f; do echo "$f $(cat "$f")"; done');
  before(async () => {
    p = await createBackupProject({ extraBackup: '  helper_image: berth-test/app:v1\n', extraSources: '    ex: { type: volume, volume: data }\n' });
    writeVolume(p.volume, 'mkdir -p /d/cache/x && echo c1 > /d/cache/x/c && echo t1 > /d/b.tmp');
  });
  after(async () => p?.cleanup());

  it('what the snapshot has is restored, what the patterns name and the snapshot lacks stays', async () => {
    const b = await p.run(['backup', 'run', '--source', 'ex']);
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual(p.snapshots('ex')[0]!.paths, ['/volume/ex.tar'], 'streamed');
    const yaml = fs.readFileSync(path.join(p.dir, 'berth.yaml'), 'utf8');
    p.write('berth.yaml', yaml.replace('  helper_image: berth-test/app:v1\n', '').replace('ex: { type: volume, volume: data }', 'ex: { type: volume, volume: data, exclude: [cache, "*.tmp"] }'));
    writeVolume(p.volume, 'echo changed > /d/a.txt; echo c2 > /d/cache/x/c; echo new > /d/cache/new; echo t2 > /d/b.tmp; echo late > /d/late.tmp; echo stray > /d/stray');
    const r = await p.run(['restore', 'latest', '--source', 'ex', '--yes', '--no-safety']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ex: restored [0-9a-f]{8} of \d{4}-\d\d-\d\d \d\d:\d\d UTC — volume \S+ replaced; 1 excluded path\(s\) \(exclude: cache, \*\.tmp\) left as they were/);
    // cache and b.tmp are in the snapshot (made before the patterns): its copies win, whole.
    assert.equal(listing(), ['./a.txt hello', './b.tmp t1', './cache/x/c c1', './late.tmp late', './sub/b.txt world'].join('\n'));
  });
});

