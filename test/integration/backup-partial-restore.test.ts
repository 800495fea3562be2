/**
 * Some files of a volume snapshot, with real restic, dockerd and GNU tar: `berth backup files`
 * lists what a snapshot holds (paths from the volume's root), and `berth restore --to DIR --path P`
 * restores only what P names — a file, a folder with what is below it, wildcards within a name —
 * both for a volume read by restic (`--include`, every file verified) and for one streamed as tar
 * (GNU tar members), and for the project's config (its tar's members, from the project folder).
 * A path that matches nothing is an error naming it; `--path` without `--to`,
 * on a database source, or with `--all` is refused before anything is written.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createBackupProject, writeVolume, type BackupProject } from './backup-harness.js';

interface FilesJson {
  source: string;
  snapshot: string;
  root?: string;
  entries: Array<{ path: string; type: string; size?: number }>;
}

/** Every regular file under `dir`, relative, sorted, with its content. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p);
      else out.push(`${p} ${fs.readFileSync(path.join(dir, p), 'utf8').trim()}`);
    }
  };
  walk('');
  return out.sort();
}

for (const way of ['read by restic', 'streamed as tar'] as const) {
  describe(`some files of a volume ${way}`, { timeout: 180_000 }, () => {
    let p: BackupProject;
    before(async () => {
      p = await createBackupProject(way === 'streamed as tar' ? { extraBackup: '  helper_image: berth-test/app:v1\n' } : {});
      writeVolume(p.volume, 'mkdir -p /d/photos/2024 /d/photos/2023 /d/logs/old && echo j1 > /d/photos/2024/a.jpg && echo j2 > /d/photos/2024/b.jpg && echo j3 > /d/photos/2023/c.jpg && echo g1 > /d/logs/x.gz && echo g2 > /d/logs/old/y.gz && echo l1 > /d/logs/x.log');
      const r = await p.run(['backup', 'run', '--source', 'files']);
      assert.equal(r.code, 0, r.stderr);
      const paths = p.snapshots('files')[0]!.paths;
      assert.deepEqual(paths, way === 'streamed as tar' ? ['/volume/files.tar'] : ['/volume/files']);
    });
    after(async () => p?.cleanup());

    it('backup files lists the snapshot from the volume root, and --path narrows it', async () => {
      const all = await p.json<FilesJson>(['backup', 'files', '--source', 'files']);
      assert.equal(all.code, 0, all.stderr);
      const files = all.value.entries.filter((e) => e.type === 'file').map((e) => `${e.path}:${e.size}`).sort();
      assert.deepEqual(files, ['a.txt:6', 'logs/old/y.gz:3', 'logs/x.gz:3', 'logs/x.log:3', 'photos/2023/c.jpg:3', 'photos/2024/a.jpg:3', 'photos/2024/b.jpg:3', 'sub/b.txt:6']);
      assert.ok(all.value.entries.some((e) => e.type === 'dir' && e.path === 'photos/2024'));
      const some = await p.json<FilesJson>(['backup', 'files', 'latest', '--source', 'files', '--path', 'photos/2024', '--path', 'logs/*.gz']);
      assert.deepEqual(some.value.entries.map((e) => e.path).sort(), ['logs/x.gz', 'photos/2024', 'photos/2024/a.jpg', 'photos/2024/b.jpg']);
      const text = await p.run(['backup', 'files', '--source', 'files', '--path', 'photos']);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /^file +3 B +\S+ \S+ +photos\/2023\/c\.jpg$/m);
      assert.match(text.stdout, /files in snapshot [0-9a-f]{8}.*: 3 file\(s\), 9 B$/m);
    });

    it('restore --to --path brings back only what the paths name', async () => {
      const to = path.join(p.dir, `some-${way.split(' ')[0]}`);
      const r = await p.run(['restore', 'latest', '--source', 'files', '--to', to, '--path', 'photos/2024', '--path', 'logs/*.gz', '--path', 'a.txt', '--yes']);
      assert.equal(r.code, 0, r.stderr);
      // restic puts the files under the path it recorded; a tar stream's members are from the volume's root.
      const under = way === 'read by restic' ? path.join(to, 'volume/files') : to;
      assert.deepEqual(filesUnder(under), ['a.txt hello', 'logs/x.gz g1', 'photos/2024/a.jpg j1', 'photos/2024/b.jpg j2']);
      if (way === 'read by restic') assert.match(r.stdout, /files: restored [0-9a-f]{8} of \d{4}-\d\d-\d\d \d\d:\d\d UTC — 4 file\(s\) of photos\/2024, logs\/\*\.gz, a\.txt restored under /);
      else assert.match(r.stdout, /files: restored [0-9a-f]{8} of \d{4}-\d\d-\d\d \d\d:\d\d UTC — photos\/2024, logs\/\*\.gz, a\.txt extracted into /);
    });

    it('a path that matches nothing is an error naming it', async () => {
      const to = path.join(p.dir, 'none');
      const r = await p.run(['restore', 'latest', '--source', 'files', '--to', to, '--path', 'photos/2025', '--yes']);
      assert.equal(r.code, 6, r.stderr);
      assert.match(r.stderr, /files: nothing in snapshot [0-9a-f]{8} matches "photos\/2025"\n\s+hint: paths are from the volume's root; see what the snapshot holds with `berth backup files [0-9a-f]{8} --source files`/);
      assert.deepEqual(filesUnder(to), []);
    });
  });
}

describe('some files of the config', { timeout: 120_000 }, () => {
  let p: BackupProject;
  before(async () => {
    p = await createBackupProject();
    const r = await p.run(['backup', 'run', '--source', 'config']);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => p?.cleanup());

  it('backup files lists the config\'s files from the project folder; restore --to --path brings back only those named', async () => {
    const all = await p.json<FilesJson & { type: string }>(['backup', 'files', '--source', 'config']);
    assert.equal(all.code, 0, all.stderr);
    assert.equal(all.value.type, 'config');
    const size = (f: string) => fs.statSync(path.join(p.dir, f)).size;
    // Beside the project's files, the copies of berth's audit trail and backup records the config carries.
    assert.deepEqual(all.value.entries.map((e) => `${e.type} ${e.path}${e.path.endsWith('.yaml') ? `:${e.size}` : ''}`).sort(), ['file .berth-audit.jsonl', 'file .berth-backups.json', `file berth.yaml:${size('berth.yaml')}`, `file compose.yaml:${size('compose.yaml')}`]);
    const one = await p.json<FilesJson>(['backup', 'files', '--source', 'config', '--path', 'compose.yaml']);
    assert.deepEqual(one.value.entries.map((e) => e.path), ['compose.yaml']);

    const to = path.join(p.dir, 'old-config');
    const r = await p.run(['restore', 'latest', '--source', 'config', '--to', to, '--path', 'compose.yaml', '--yes']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /config: restored [0-9a-f]{8} of \d{4}-\d\d-\d\d \d\d:\d\d UTC — compose\.yaml extracted into /);
    assert.deepEqual(fs.readdirSync(to), ['compose.yaml']);
    assert.equal(fs.readFileSync(path.join(to, 'compose.yaml'), 'utf8'), fs.readFileSync(path.join(p.dir, 'compose.yaml'), 'utf8'));
    const both = path.join(p.dir, 'both');
    assert.equal((await p.run(['restore', 'latest', '--source', 'config', '--to', both, '--path', '*.yaml', '--yes'])).code, 0);
    assert.deepEqual(fs.readdirSync(both).sort(), ['berth.yaml', 'compose.yaml']);

    const none = await p.run(['restore', 'latest', '--source', 'config', '--to', path.join(p.dir, 'none'), '--path', 'docker-compose.yml', '--yes']);
    assert.equal(none.code, 6, none.stderr);
    assert.match(none.stderr, /config: nothing in snapshot [0-9a-f]{8} matches "docker-compose\.yml"\n\s+hint: paths are from the project folder; see what the snapshot holds with `berth backup files [0-9a-f]{8} --source config`/);
    const listed = await p.run(['backup', 'files', '--source', 'config', '--path', 'docker-compose.yml']);
    assert.equal(listed.code, 6, listed.stderr);
    assert.match(listed.stderr, /hint: paths are from the project folder/);
    // The same for a script: --json does not turn "nothing there" into an empty success.
    const scripted = await p.run(['--json', 'backup', 'files', '--source', 'config', '--path', 'docker-compose.yml']);
    assert.equal(scripted.code, 6, scripted.stderr);
    assert.match(scripted.stdout + scripted.stderr, /nothing in snapshot [0-9a-f]{8} matches \\?"docker-compose\.yml/);
  });
});

describe('restore --path refusals', { timeout: 120_000 }, () => {
  let p: BackupProject;
  before(async () => {
    p = await createBackupProject();
    const r = await p.run(['backup', 'run', '--source', 'files', '--source', 'db']);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => p?.cleanup());

  it('without --to, on a database, with --all, or with a path out of the volume: refused, nothing written', async () => {
    const before = writeVolume(p.volume, 'cd /d && find . | sort');
    const inPlace = await p.run(['restore', 'latest', '--source', 'files', '--path', 'a.txt', '--yes']);
    assert.equal(inPlace.code, 2, inPlace.stderr);
    assert.match(inPlace.stderr, /--path restores some files beside the data, not over it: add --to DIR/);
    const db = await p.run(['restore', 'latest', '--source', 'db', '--to', 'scratch_db', '--path', 'x', '--yes']);
    assert.equal(db.code, 2, db.stderr);
    assert.match(db.stderr, /--path applies to a volume or config source; db is mariadb, restored whole/);
    const all = await p.run(['restore', '--all', '--path', 'a.txt', '--yes']);
    assert.equal(all.code, 2, all.stderr);
    assert.match(all.stderr, /--all rebuilds the whole project .* it takes no --path/);
    const out = await p.run(['restore', 'latest', '--source', 'files', '--to', path.join(p.dir, 'x'), '--path', '../etc', '--yes']);
    assert.equal(out.code, 2, out.stderr);
    assert.match(out.stderr, /--path "\.\.\/etc": write names separated by single "\/", without "\." or "\.\." parts/);
    assert.equal(writeVolume(p.volume, 'cd /d && find . | sort'), before, 'the volume is as it was');
  });
});
