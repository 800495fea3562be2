/**
 * A bind-path volume source, read by restic on this host (berth runs as root here): the snapshot
 * records the host path itself, an unchanged re-run adds nothing and reuses the parent, verify's
 * drill compares file and byte counts, a restore in place (through the helper) brings back
 * deleted and changed files, and `--to DIR` restores beside it. A berth killed mid-backup leaves
 * no snapshot (restic dies with it).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertCheckClean, createBackupProject, restic, type BackupProject } from './backup-harness.js';

type RunJson = { status: string; results: Array<{ source: string; status: string; snapshotId?: string; dataAdded?: number; bytes?: number }> };

describe('bind-path volume read on the host', { timeout: 180_000 }, () => {
  let p: BackupProject;
  let data: string;
  before(async () => {
    p = await createBackupProject({ extraSources: '    host_files: { type: volume, path: hostdata }\n' });
    data = path.join(p.dir, 'hostdata');
    fs.mkdirSync(path.join(data, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(data, 'a.txt'), 'alpha\n');
    fs.writeFileSync(path.join(data, 'sub', 'b.bin'), randomBytes(3 * 1024 * 1024));
    fs.writeFileSync(path.join(data, "it's here.txt"), 'quoted\n');
  });
  after(async () => p?.cleanup());

  it('backs up with restic on the host under the host path; an unchanged re-run adds nothing', async () => {
    assert.equal(process.getuid?.(), 0, 'the host reader needs root; CI runs as root');
    const first = await p.json<RunJson>(['backup', 'run', '--source', 'host_files']);
    assert.equal(first.code, 0, first.stderr);
    const r1 = first.value.results[0]!;
    assert.equal(r1.status, 'succeeded');
    assert.equal(r1.bytes, 3 * 1024 * 1024 + 6 + 7);
    const snaps = p.snapshots('host_files');
    assert.equal(snaps.length, 1);
    assert.deepEqual(snaps[0]!.paths, [data], 'the snapshot holds the host path, not /volume/<name>');
    const again = await p.json<RunJson>(['backup', 'run', '--source', 'host_files']);
    assert.equal(again.code, 0, again.stderr);
    // Only tree metadata (e.g. access times) may be new: no file content was stored again.
    assert.ok(again.value.results[0]!.dataAdded! < 10_000, `restic used the previous snapshot as parent (added ${again.value.results[0]!.dataAdded} bytes)`);
  });

  it('verify drills the snapshot: file and byte counts equal what was recorded', async () => {
    const v = await p.json<{ ok: boolean; drills: Array<{ source: string; ok: boolean; summary: string }> }>(['backup', 'verify', '--source', 'host_files']);
    assert.equal(v.code, 0, v.stderr);
    const d = v.value.drills.find((x) => x.source === 'host_files')!;
    assert.ok(d.ok, d.summary);
    assert.match(d.summary, /^3 files, 3145741 bytes/);
  });

  it('restores in place (deleted and changed files come back, new ones go) and --to beside it', async () => {
    fs.rmSync(path.join(data, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(data, 'a.txt'), 'changed\n');
    fs.writeFileSync(path.join(data, 'new.txt'), 'not in the backup\n');
    const r = await p.run(['restore', 'latest', '--source', 'host_files', '--yes', '--no-safety']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.readFileSync(path.join(data, 'a.txt'), 'utf8'), 'alpha\n');
    assert.equal(fs.statSync(path.join(data, 'sub', 'b.bin')).size, 3 * 1024 * 1024);
    assert.equal(fs.readFileSync(path.join(data, "it's here.txt"), 'utf8'), 'quoted\n');
    assert.equal(fs.existsSync(path.join(data, 'new.txt')), false);

    const to = path.join(p.dir, 'restored');
    // A typo in --source is named as one, with the sources there are, before restic is asked.
    const typo = await p.run(['restore', 'latest', '--source', 'host_flies', '--to', to, '--yes']);
    assert.equal(typo.code, 6, typo.stderr);
    assert.match(typo.stderr, /unknown backup source "host_flies"[\s\S]*hint: sources of .*host_files/);
    const t = await p.run(['restore', 'latest', '--source', 'host_files', '--to', to, '--yes']);
    assert.equal(t.code, 0, t.stderr);
    assert.equal(fs.readFileSync(path.join(to, data, 'a.txt'), 'utf8'), 'alpha\n');
  });

  it('restore --before: each source as its newest snapshot before that time had it; a source backed up only since is left alone', async () => {
    fs.writeFileSync(path.join(data, 'a.txt'), 'beta\n');
    assert.equal((await p.run(['backup', 'run', '--source', 'host_files'])).code, 0);
    const snaps = p.snapshots('host_files').sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
    const [beforeBeta, beta] = snaps.slice(-2) as [(typeof snaps)[0], (typeof snaps)[0]];
    const t = Date.parse(beta.time);
    // The times `backup list --snapshots` shows are UTC, as --before takes them without a zone.
    const list = await p.run(['backup', 'list', '--snapshots']);
    assert.match(list.stdout, new RegExp(`^${beta.short_id} +${new Date(t).toISOString().slice(0, 19).replace('T', ' ')} UTC +host_files `, 'm'));
    // A source first backed up after that time.
    const later = path.join(p.dir, 'laterdata');
    fs.mkdirSync(later);
    fs.writeFileSync(path.join(later, 'c.txt'), 'backed up later\n');
    p.write('berth.yaml', fs.readFileSync(path.join(p.dir, 'berth.yaml'), 'utf8').replace('    host_files:', '    later_files: { type: volume, path: laterdata }\n    host_files:'));
    assert.equal((await p.run(['backup', 'run', '--source', 'later_files'])).code, 0);
    fs.writeFileSync(path.join(data, 'a.txt'), 'gamma\n');
    fs.writeFileSync(path.join(later, 'c.txt'), 'changed since\n');

    // Which snapshots --before can pick from: those taken before it.
    const listedBefore = await p.json<Array<{ short_id: string }>>(['backup', 'list', '--snapshots', '--source', 'host_files', '--before', new Date(t).toISOString()]);
    assert.equal(listedBefore.code, 0, listedBefore.stderr);
    assert.deepEqual(listedBefore.value.map((s) => s.short_id).sort(), snaps.filter((s) => Date.parse(s.time) < t).map((s) => s.short_id).sort());
    assert.ok(listedBefore.value.some((s) => s.short_id === beforeBeta.short_id) && !listedBefore.value.some((s) => s.short_id === beta.short_id));
    const notSnapshots = await p.run(['backup', 'list', '--source', 'host_files']);
    assert.equal(notSnapshots.code, 2, notSnapshots.stderr);
    assert.match(notSnapshots.stderr, /--source applies to --snapshots only/);
    const files = await p.json<{ snapshot: string }>(['backup', 'files', '--source', 'host_files', '--before', new Date(t).toISOString()]);
    assert.equal(files.value.snapshot, beforeBeta.short_id, `backup files --before looks at the same snapshot: ${files.stderr}`);
    const r = await p.run(['restore', '--before', new Date(t).toISOString(), '--yes', '--no-safety']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.readFileSync(path.join(data, 'a.txt'), 'utf8'), 'alpha\n', 'the snapshot before beta');
    assert.match(r.stdout, new RegExp(`^host_files: restored ${beforeBeta.short_id} of \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC — `, 'm'));
    assert.match(r.stderr, new RegExp(`later_files: no snapshot before ${new Date(t).toISOString()} \\(its first is newer\\); left as it is`));
    assert.equal(fs.readFileSync(path.join(later, 'c.txt'), 'utf8'), 'changed since\n', 'left alone');

    const json = await p.json<Array<{ source: string; snapshot: string; snapshotTime: string }>>(['restore', '--source', 'host_files', '--before', new Date(t + 1).toISOString(), '--yes', '--no-safety']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(json.value.map((x) => [x.source, x.snapshot, x.snapshotTime]), [['host_files', beta.short_id, new Date(t).toISOString()]], 'a moment after it: beta itself');
    assert.equal(fs.readFileSync(path.join(data, 'a.txt'), 'utf8'), 'beta\n');

    const none = await p.run(['restore', '--source', 'later_files', '--before', new Date(t).toISOString(), '--yes', '--no-safety']);
    assert.equal(none.code, 6, none.stderr);
    assert.match(none.stderr, /no snapshot of source "later_files" before \S+ in /);
    const both = await p.run(['restore', beta.short_id, '--before', '1h', '--yes']);
    assert.equal(both.code, 2, both.stderr);
    assert.match(both.stderr, new RegExp(`--before picks each source's newest snapshot before a time; ${beta.short_id} is one snapshot already`));
    const typo = await p.run(['restore', '--before', 'yesterday', '--yes']);
    assert.equal(typo.code, 2, typo.stderr);
    assert.match(typo.stderr, /--before "yesterday" is not a point in time; give "2026-12-06"/);
    const allId = await p.run(['restore', '--all', beta.short_id, '--yes']);
    assert.equal(allId.code, 2, allId.stderr);
    assert.match(allId.stderr, /--all restores every source's newest snapshot; it takes no snapshot id/);
    assert.equal(fs.readFileSync(path.join(data, 'a.txt'), 'utf8'), 'beta\n', 'refusals change nothing');
  });

  it('a berth killed mid-backup leaves no snapshot behind', async () => {
    // Enough new data that restic is still reading when berth dies.
    for (let i = 0; i < 40; i++) fs.writeFileSync(path.join(data, `big-${i}.bin`), randomBytes(8 * 1024 * 1024));
    const before = p.snapshots('host_files').length;
    const child = p.spawnBerth(['backup', 'run', '--source', 'host_files']);
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`no progress line: ${child.output()}`)), 30_000);
      const check = setInterval(() => {
        if (/streamed|→/.test(child.output())) {
          clearInterval(check);
          clearTimeout(deadline);
          resolve();
        }
      }, 20);
    });
    child.kill('SIGKILL');
    await child.done;
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(p.snapshots('host_files').length, before, 'no snapshot from the killed run');
    assertCheckClean(p.repo, p.passwordFile);
    const next = await p.json<RunJson>(['backup', 'run', '--source', 'host_files']);
    assert.equal(next.code, 0, next.stderr);
    assert.equal(p.snapshots('host_files').length, before + 1);
  });
});
