/** Pure parts of the backup domain: restic argv, error classification, suspect rule, frames, digests, comparisons. */
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { pack } from 'tar-stream';
import { readFrame, writeFrameHeader } from '../../../src/backup/frame.js';
import { resticArgs, snapshotTags } from '../../../src/backup/restic-args.js';
import { classifyResticFailure } from '../../../src/backup/restic-errors.js';
import { suspectReason } from '../../../src/backup/run.js';
import { nextRuns } from '../../../src/backup/schedule.js';
import { compareTables } from '../../../src/backup/sources/mariadb.js';
import { socketArgs } from '../../../src/backup/sources/postgres.js';
import { lastLine } from '../../../src/backup/sources/io.js';
import { keyCount } from '../../../src/backup/sources/redis.js';
import { compareManifests, digestTar } from '../../../src/backup/tar-digest.js';
import { pickSnapshot, snapshotsToUse } from '../../../src/backup/verify.js';
import type { BackupContext } from '../../../src/backup/context.js';
import type { Restic, Snapshot } from '../../../src/backup/restic.js';

describe('restic argv', () => {
  it('backs up stdin under a file name with tags and host', () => {
    assert.deepEqual(resticArgs.backupStdin({ filename: 'mariadb/app.sql', host: 'h1', tags: snapshotTags('shop', 'db', '0.1.0') }), [
      'backup', '--json', '--stdin', '--stdin-filename', 'mariadb/app.sql', '--host', 'h1',
      '--tag', 'berth', '--tag', 'project=shop', '--tag', 'source=db', '--tag', 'berth-version=0.1.0',
    ]);
    // A safety snapshot is not in the source's regular group (retention, `latest`).
    assert.deepEqual(snapshotTags('shop', 'db', '0.1.0', 'safety'), ['berth', 'project=shop', 'safety-of=db', 'berth-version=0.1.0', 'kind=safety']);
  });
  it('forgets per source as one group with the retention', () => {
    assert.deepEqual(resticArgs.forget({ daily: 7, weekly: 4, monthly: 12 }, ['berth', 'source=db']), [
      'forget', '--json', '--group-by', '', '--keep-daily', '7', '--keep-weekly', '4', '--keep-monthly', '12', '--tag', 'berth,source=db',
    ]);
  });
  it('filters snapshots by all tags at once and checks a data subset', () => {
    assert.deepEqual(resticArgs.snapshots(['berth', 'project=x']), ['snapshots', '--json', '--no-lock', '--tag', 'berth,project=x']);
    assert.deepEqual(resticArgs.check('10%'), ['check', '--read-data-subset=10%']);
    assert.deepEqual(resticArgs.unlockStale(), ['unlock']);
  });
});

describe('restic failures', () => {
  const cases: Array<[string, RegExp]> = [
    ['Fatal: wrong password or no key found', /wrong password for the restic repository \/r/],
    ['Fatal: unable to save snapshot: write /r/data/ab/x-tmp: no space left on device', /\/r is full \(no space left on device\) during backup/],
    ['Fatal: unable to create lock in backend: repository is already locked exclusively by PID 42 on h by root (UID 0, GID 0)', /locked by PID 42 on h by root/],
    ['Fatal: unable to open config file: stat /r/config: no such file or directory\nIs there a repository at the following location?', /no restic repository at \/r/],
    ['\x1b[2Ksomething odd happened', /restic backup failed on \/r: something odd happened$/],
  ];
  for (const [stderr, want] of cases) {
    it(stderr.split('\n')[0]!.slice(0, 50), () => {
      const e = classifyResticFailure(stderr, 1, '/r', 'backup');
      assert.equal(e.code, 'REPOSITORY');
      assert.match(e.message, want);
    });
  }
});

describe('suspect dumps', () => {
  const cases: Array<[number, Record<string, unknown>, number | undefined, RegExp | undefined]> = [
    [0, {}, undefined, /empty/],
    [100, { tables: [] }, undefined, /no tables/],
    [100, { manifest: { files: 0 } }, undefined, /no files/],
    [400, {}, 1000, /40% of the previous dump/],
    [600, {}, 1000, undefined],
    [100, { tables: [{ name: 't' }] }, undefined, undefined],
  ];
  for (const [bytes, facts, prev, want] of cases) {
    it(`${bytes} bytes after ${prev ?? 'nothing'} → ${want ?? 'ok'}`, () => {
      const r = suspectReason(bytes, facts, prev === undefined ? undefined : { bytes: prev }, 0.5);
      if (want) assert.match(r ?? '', want);
      else assert.equal(r, undefined);
    });
  }
});

describe('a snapshot named by id', () => {
  const snap = (id: string, source: string) => ({ id: `${id}${'0'.repeat(56)}`, short_id: id, time: '2026-12-05T00:00:00Z', tags: ['berth', 'project=shop', `source=${source}`], paths: ['/x'] }) as unknown as Snapshot;
  const all = [snap('0a1b2c3d', 'db'), snap('0a9f8e7d', 'pg'), snap('5f5f5f5f', 'db')];
  const pick = (id: string, sources?: string[]) => pickSnapshot(all, id, sources, 'shop', '/srv/repo');
  it('takes a unique prefix or the short id', () => {
    assert.equal(pick('5').short_id, '5f5f5f5f');
    assert.equal(pick('0a1b2c3d').short_id, '0a1b2c3d');
    assert.equal(pick('0a9', ['pg']).short_id, '0a9f8e7d');
  });
  it('names several, none, or another source', () => {
    assert.throws(() => pick('0a'), (e: Error & { code: string; hint: string }) => e.code === 'CONFIG' && e.message === '2 snapshots of project shop start with 0a (0a1b2c3d, 0a9f8e7d)' && e.hint === 'give more of the snapshot id');
    assert.throws(() => pick('ff'), (e: Error & { code: string }) => e.code === 'NOT_FOUND' && e.message === 'no snapshot ff of project shop in /srv/repo');
    assert.throws(() => pick('5f', ['pg', 'cache']), (e: Error & { code: string }) => e.code === 'CONFIG' && e.message === 'snapshot 5f5f5f5f is of source db, not pg, cache');
  });
});

describe('the newest snapshot of each source', () => {
  const snap = (id: string, source: string, time: string, kind = 'backup') => ({ id: `${id}${'0'.repeat(56)}`, short_id: id, time, tags: ['berth', 'project=shop', `source=${source}`, ...(kind === 'safety' ? ['kind=safety'] : [])], paths: ['/x'] }) as unknown as Snapshot;
  const all = [
    snap('aaaaaaa1', 'db', '2026-12-05T02:00:00.5+00:00'),
    snap('aaaaaaa2', 'db', '2026-12-06T02:00:00.123456789+00:00'),
    snap('aaaaaaa3', 'db', '2026-12-06T09:59:00+00:00', 'safety'),
    snap('aaaaaaa4', 'db', '2026-12-07T02:00:00+01:00'),
    snap('bbbbbbb1', 'files', '2026-12-06T03:00:00Z'),
    snap('ccccccc1', 'cache', '2026-12-07T01:00:00Z'),
  ];
  const ctx = { project: { name: 'shop' } } as unknown as BackupContext;
  const restic = { repository: '/srv/repo' } as unknown as Restic;
  const ids = async (opts: { sources?: string[]; before?: number }) => (await snapshotsToUse(ctx, restic, { snapshot: 'latest', ...opts }, all)).map((s) => s.short_id);
  it('without --before: the newest of each, never a safety snapshot', async () => {
    assert.deepEqual(await ids({}), ['ccccccc1', 'aaaaaaa4', 'bbbbbbb1']);
    assert.deepEqual(await ids({ sources: ['db'] }), ['aaaaaaa4']);
  });
  it('with --before: the newest taken before it, by the time with its offset; a source with none is left out', async () => {
    assert.deepEqual(await ids({ before: Date.parse('2026-12-06T10:00:00Z') }), ['aaaaaaa2', 'bbbbbbb1']);
    assert.deepEqual(await ids({ before: Date.parse('2026-12-07T01:30:00Z') }), ['ccccccc1', 'aaaaaaa4', 'bbbbbbb1'], '02:00+01:00 is 01:00 UTC');
    assert.deepEqual(await ids({ before: Date.parse('2026-12-06T02:00:00.123Z') }), ['aaaaaaa1'], 'strictly before');
    assert.deepEqual(await ids({ before: Date.parse('2026-12-05T00:00:00Z') }), []);
  });
  it('by the moment, not the text: the hour after a DST change writes a smaller offset', async () => {
    const autumn = [snap('ddddddd1', 'db', '2026-10-25T02:30:00+02:00'), snap('ddddddd2', 'db', '2026-10-25T02:10:00+01:00')];
    assert.deepEqual((await snapshotsToUse(ctx, restic, { snapshot: 'latest' }, autumn)).map((s) => s.short_id), ['ddddddd2']);
  });
});

describe('frames', () => {
  it('puts small parts in front of a stream and reads them back', async () => {
    const out = new PassThrough();
    writeFrameHeader(out, [{ name: 'globals.sql', data: Buffer.from('CREATE ROLE a;\n') }]);
    out.end(Buffer.from('PGDMP-body'));
    const { parts, rest } = await readFrame(out);
    assert.equal(parts.get('globals.sql')?.toString(), 'CREATE ROLE a;\n');
    let body = '';
    for await (const c of rest) body += c;
    assert.equal(body, 'PGDMP-body');
  });
  it('refuses a stream that is not a frame', async () => {
    await assert.rejects(readFrame(Readable.from([Buffer.from('PGDMP raw\n')])), /not a BERTH-FRAME dump/);
  });
});

async function tarOf(files: Record<string, string>): Promise<Readable> {
  const p = pack();
  for (const [name, text] of Object.entries(files)) p.entry({ name: `./${name}` }, text);
  p.finalize();
  return p as unknown as Readable;
}

describe('tar digests', () => {
  it('equal content gives equal digests; differences are named', async () => {
    const a = await digestTar(await tarOf({ 'a.txt': 'hello', 'sub/b.txt': 'world' }));
    const same = await digestTar(await tarOf({ 'sub/b.txt': 'world', 'a.txt': 'hello' }));
    const changed = await digestTar(await tarOf({ 'a.txt': 'HELLO', 'c.txt': 'new' }));
    assert.equal(a.files, 2);
    assert.equal(a.bytes, 10);
    assert.deepEqual(compareManifests(a, same), []);
    assert.deepEqual(compareManifests(a, changed), ['a.txt differs', 'sub/b.txt missing', 'c.txt not in the backup record']);
  });
});

describe('comparisons', () => {
  it('tables: missing, row counts, checksums, extra', () => {
    const rec = [{ name: 'a', rows: 3, checksum: '1' }, { name: 'b', rows: 2, checksum: '9' }, { name: 'c', rows: 1, checksum: '' }];
    const got = [{ name: 'a', rows: 3, checksum: '1' }, { name: 'b', rows: 2, checksum: '8' }, { name: 'd', rows: 0, checksum: '' }];
    assert.deepEqual(compareTables(rec, got), ['table b: checksum 8, 9 recorded', 'table c missing', 'table d not in the recorded facts']);
    assert.deepEqual(compareTables(rec, rec), []);
  });
  it('redis key count over databases', () => {
    assert.equal(keyCount('# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\ndb2:keys=4,expires=1,avg_ttl=5\r\n'), 7);
    assert.equal(keyCount('# Keyspace\r\n'), 0);
  });
  it('next run times of the default schedule', () => {
    const next = nextRuns('0 2 * * *', 2, new Date('2026-11-23T12:00:00Z')).map((d) => d.getHours());
    assert.equal(next.length, 2);
    assert.deepEqual(next, [2, 2]);
  });
});

describe('postgres over its Unix socket', () => {
  it('takes the socket directory as host, the port from a socket file name or the source', () => {
    assert.deepEqual(socketArgs('/var/run/postgresql/.s.PGSQL.5433', undefined), ['-h', '/var/run/postgresql', '-p', '5433']);
    assert.deepEqual(socketArgs('/var/run/postgresql', undefined), ['-h', '/var/run/postgresql', '-p', '5432']);
    assert.deepEqual(socketArgs('/srv/pg', 6543), ['-h', '/srv/pg', '-p', '6543']);
  });
});

describe("a tool's failure line", () => {
  it('is the last line that says what went wrong, never GNU tar\'s trailer', () => {
    assert.equal(lastLine('tar: ./x: Not found in archive\ntar: Exiting with failure status due to previous errors\n'), 'tar: ./x: Not found in archive');
    assert.equal(lastLine('mysqldump: Got error: 1045: Access denied\nsee the manual\n'), 'mysqldump: Got error: 1045: Access denied');
    assert.equal(lastLine('just this\n'), 'just this');
  });
});
