/**
 * Path patterns within a volume — a source's `exclude:`, `restore --path` — what the boundary
 * accepts, and how each reader gets them.
 * That the two readers (restic at backup, busybox find at an in-place restore) agree on real trees
 * is checked against the real tools in test/integration/backup-exclude.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findExcludeRegex, pathMatcher, resticExcludeArgs, resticIncludeArgs, tarMemberArgs } from '../../../src/backup/sources/path-patterns.js';
import { parseExcludePattern, parseRestorePath } from '../../../src/project/path-pattern.js';
import { SpecError } from '../../../src/project/schema-kit.js';

describe('exclude patterns at the boundary', () => {
  it('accepts names, paths and wildcards within a name; trailing slashes are dropped', () => {
    for (const p of ['cache', '*.tmp', '/logs', 'thumbs/small', '/var/cache/*', 'a?c', '.git', 'name with spaces']) assert.equal(parseExcludePattern(p), p);
    assert.equal(parseExcludePattern('cache/'), 'cache');
    assert.equal(parseExcludePattern('/logs//'), '/logs');
  });

  it('refuses what restic and find would read differently, or what would leave out everything', () => {
    const refused: Array<[unknown, RegExp]> = [
      ['', /empty pattern/],
      ['/', /empty pattern/],
      ['*', /would leave out everything/],
      ['/*/', /would leave out everything/],
      ['a/**/b', /"\*\*" is not supported/],
      ['log[0-9]', /character classes/],
      ['a]', /character classes/],
      ['a\\*', /backslashes/],
      ['a\nb', /control characters/],
      ['../x', /without "\." or "\.\." parts/],
      ['a/./b', /without "\." or "\.\." parts/],
      ['a//b', /single "\/"/],
      [3, /^$/],
    ];
    for (const [value, why] of refused) {
      assert.throws(() => parseExcludePattern(value), (e: unknown) => e instanceof SpecError && why.test(e.message), JSON.stringify(value));
    }
  });
});

describe('exclude patterns for restic', () => {
  it('puts every pattern under the volume as the snapshot records it, so none matches the volume itself', () => {
    assert.deepEqual(resticExcludeArgs('/volume/files', ['cache', '/logs', 'a/*.tmp']), [
      '--exclude', '/volume/files/**/cache',
      '--exclude', '/volume/files/logs',
      '--exclude', '/volume/files/**/a/*.tmp',
    ]);
    assert.deepEqual(resticExcludeArgs('/srv/data/', []), []);
  });

  it('escapes glob characters of the volume path itself', () => {
    assert.deepEqual(resticExcludeArgs('/srv/we[ird]*?', ['/x']), ['--exclude', '/srv/we\\[ird]\\*\\?/x']);
  });
});

describe('exclude patterns for find -regex', () => {
  it('anchors "/" patterns at ./, lets others follow any directories, keeps wildcards within a name', () => {
    assert.equal(findExcludeRegex(['/logs']), '\\(\\./logs\\)');
    assert.equal(findExcludeRegex(['cache']), '\\(\\./\\(.*/\\)\\{0,1\\}cache\\)');
    assert.equal(findExcludeRegex(['*.tmp', 'a.b/cd']), '\\(\\./\\(.*/\\)\\{0,1\\}[^/]*\\.tmp\\)\\|\\(\\./\\(.*/\\)\\{0,1\\}a\\.b/cd\\)');
    // `?`: one ASCII byte but "/", or 2 to 4 bytes above 0x7f (one UTF-8 character), written without such bytes.
    assert.equal(findExcludeRegex(['/c?']), '\\(\\./c\\([\x01-.0-\x7f]\\|[^\x01-\x7f]\\{2,4\\}\\)\\)');
    assert.equal(findExcludeRegex([]), '');
  });

  it('escapes what is special in a basic regex', () => {
    assert.equal(findExcludeRegex(['/a^b$c.d']), '\\(\\./a\\^b\\$c\\.d\\)');
  });
});

describe('restore paths', () => {
  it('are always from the volume root; trailing slashes dropped', () => {
    assert.equal(parseRestorePath('photos/2024'), '/photos/2024');
    assert.equal(parseRestorePath('/photos/2024/'), '/photos/2024');
    assert.equal(parseRestorePath('logs/*.gz'), '/logs/*.gz');
  });

  it('refuses the whole volume and what the readers would take differently', () => {
    for (const [value, why] of [['/', /names the whole volume/], ['//', /names the whole volume/], ['a/**', /"\*\*"/], ['x[1]', /character classes/], ['../etc', /"\.\."/]] as const) {
      assert.throws(() => parseRestorePath(value), (e: unknown) => e instanceof SpecError && why.test(e.message), value);
    }
  });

  it('go to restic as --include under the recorded root, and to GNU tar as ./ members without wildcards crossing "/"', () => {
    assert.deepEqual(resticIncludeArgs('/volume/files', ['/a', '/b/*.jpg']), ['--include', '/volume/files/a', '--include', '/volume/files/b/*.jpg']);
    assert.deepEqual(tarMemberArgs(['/a', '/b/*.jpg']), ['--wildcards', '--no-wildcards-match-slash', '--', './a', './b/*.jpg']);
    // The config's tar names its members from the project folder, without "./".
    assert.deepEqual(tarMemberArgs(['/compose.yaml', '/proxy/*.conf'], ''), ['--wildcards', '--no-wildcards-match-slash', '--', 'compose.yaml', 'proxy/*.conf']);
  });

  it('select a path and what is below it, wildcards within one name', () => {
    const m = pathMatcher(['/photos/2024', '/logs/*.gz', '/caf?']);
    const picked = ['photos', 'photos/2024', 'photos/2024/a.jpg', 'photos/2024x', 'photos/2023/a.jpg', 'logs/a.gz', 'logs/old/a.gz', 'logs/a.gz.1', 'café', 'cafés', 'x/photos/2024'].filter(m);
    assert.deepEqual(picked, ['photos/2024', 'photos/2024/a.jpg', 'logs/a.gz', 'café']);
  });
});
