/**
 * Path patterns within a volume (checked by `project/path-pattern.ts`) as each reader takes them.
 *
 * restic matches absolute paths as the snapshot records them, and a pattern without a leading "/"
 * would match the volume's own path too (`data` would leave out all of `/srv/data`), so every
 * pattern is put under the volume's root: `/logs` as `<root>/logs`, and `cache` as `<root>`, a
 * double star, `cache` (restic's double star also matches no directory). That goes for `--exclude`
 * at backup and `--include` at a restore of some paths. busybox `find -regex` (in the helper, at
 * an in-place restore) and GNU tar (extracting some paths of a tar-stream snapshot) take their
 * own forms below.
 */
import type { Readable } from 'node:stream';
import { BerthError } from '../../lib/errors.js';
import { extractTar } from './io.js';
import type { SourceContext } from './types.js';

/** `*`, `?`, `[` and `\` in a literal path, escaped for restic's per-name glob matching. */
const literal = (p: string): string => p.replace(/[*?[\\]/g, '\\$&');

/** A pattern put under the volume's recorded path `root` (absolute), as restic matches it. */
const underRoot = (root: string, p: string): string => `${literal(root.replace(/\/+$/, ''))}${p.startsWith('/') ? p : `/**/${p}`}`;

/** restic `--exclude` arguments for a volume recorded at `root` (absolute). */
export function resticExcludeArgs(root: string, patterns: readonly string[] = []): string[] {
  return patterns.flatMap((p) => ['--exclude', underRoot(root, p)]);
}

/** restic `--include` arguments for paths from the root (`parseRestorePath`, always with a leading "/"). */
export function resticIncludeArgs(root: string, paths: readonly string[]): string[] {
  return paths.flatMap((p) => ['--include', underRoot(root, p)]);
}

/** `--path` takes the files of a volume or of the project's config: a database is restored or listed whole. */
export function refusePathsOf(source: { readonly name: string; readonly type: string }, paths: readonly string[] | undefined): void {
  if (paths?.length && source.type !== 'volume' && source.type !== 'config') throw new BerthError('CONFIG', `--path applies to a volume or config source; ${source.name} is ${source.type}, restored whole`);
}

/**
 * GNU tar member arguments for paths from the root: wildcards within one name, a directory with
 * everything in it. A volume's tar is written by `tar -c .` in the volume (members `./a/b`), the
 * config source's with names from the project folder (members `a/b`): `prefix` is "." or "".
 */
export function tarMemberArgs(paths: readonly string[], prefix: '.' | '' = '.'): string[] {
  return ['--wildcards', '--no-wildcards-match-slash', '--', ...paths.map((p) => `${prefix}${p.slice(prefix ? 0 : 1)}`)];
}

/** Some paths of a tar snapshot extracted into `to`; none of them in the tar is NOT_FOUND. */
export async function extractPaths(input: Readable, to: string, source: SourceContext['source'], snapshot: string, paths: readonly string[]): Promise<string> {
  const prefix = source.type === 'config' ? '' : '.';
  await extractTar(input, to, source.name, tarMemberArgs(paths, prefix)).catch((err: unknown) => {
    // GNU tar names a path it did not find: "tar: ./x: Not found in archive".
    throw err instanceof Error && /Not found in archive/.test(err.message) ? nothingMatches(source, snapshot, paths) : err;
  });
  return `${paths.map((p) => p.slice(1)).join(', ')} extracted into ${to}`;
}

/**
 * Whether a relative path (`a/b/c`, from the volume's root) is one of the restore paths or below
 * one, as restic's `--include` and tar's members select them.
 */
export function pathMatcher(paths: readonly string[]): (relative: string) => boolean {
  const name = (n: string) => [...n].map((c) => (c === '*' ? '[^/]*' : c === '?' ? '[^/]' : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('');
  const res = paths.map((p) => new RegExp(`^${p.slice(1).split('/').map(name).join('/')}(?:/.*)?$`, 'su'));
  return (relative) => res.some((re) => re.test(relative));
}

/** A regex special character of POSIX basic regular expressions, escaped. */
const breLiteral = (c: string): string => ('.[]*^$\\'.includes(c) ? `\\${c}` : c);

/**
 * `?`: one character to restic (Go reads UTF-8), while busybox's regex reads bytes (C locale). So:
 * one ASCII byte other than "/", or a run of 2 to 4 non-ASCII bytes — one UTF-8 character, or
 * (only where non-ASCII characters follow one another) more. Matching more than restic left out is
 * harmless, as what the snapshot has wins over what was kept aside; matching less would not be.
 * No byte above 0x7f is written out: the regex travels as UTF-8 text.
 */
const oneChar = '\\([\x01-.0-\x7f]\\|[^\x01-\x7f]\\{2,4\\}\\)';

/** One name pattern as a BRE that never matches across a "/". */
const nameBre = (name: string): string => [...name].map((c) => (c === '*' ? '[^/]*' : c === '?' ? oneChar : breLiteral(c))).join('');

/**
 * One busybox `find . -regex` expression (a POSIX basic regex, matched against the whole path, such
 * as `./sub/cache`) that matches the paths the patterns leave out of a backup (see `oneChar` for
 * `?`): an anchored pattern from `./`, any other after any number of directories. Empty without patterns.
 */
export function findExcludeRegex(patterns: readonly string[] = []): string {
  const one = (p: string): string => {
    const names = p.replace(/^\//, '').split('/').map(nameBre).join('/');
    return p.startsWith('/') ? `\\./${names}` : `\\./\\(.*/\\)\\{0,1\\}${names}`;
  };
  return patterns.map((p) => `\\(${one(p)}\\)`).join('\\|');
}

/** A restore of some paths that matched nothing in the snapshot. */
export function nothingMatches(source: Pick<SourceContext['source'], 'name' | 'type'>, snapshot: string, paths: readonly string[]): BerthError {
  return new BerthError(
    'NOT_FOUND',
    `${source.name}: nothing in snapshot ${snapshot} matches ${paths.map((p) => `"${p.slice(1)}"`).join(', ')}`,
    `paths are from ${source.type === 'config' ? 'the project folder' : "the volume's root"}; see what the snapshot holds with \`berth backup files ${snapshot} --source ${source.name}\``,
  );
}
