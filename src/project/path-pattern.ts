/**
 * Path patterns within a volume, checked at the boundary: a volume source's `exclude:` and
 * `berth restore --path`. A pattern names a file or directory at any depth (`cache`, `*.tmp`,
 * `thumbs/small`), or, starting with `/`, a path from the volume's root (`/logs`). `*` and `?`
 * match within one name; a directory matched comes with everything in it.
 *
 * Two readers take exclude patterns (`backup/sources/path-patterns.ts`): restic's `--exclude` at
 * backup (Go's filepath.Match), and busybox `find -regex` in the helper, which finds what an
 * in-place restore leaves as it was; restore paths go to restic's `--include` or to GNU tar. What
 * they would read differently — `**`, `[...]` classes (`^` negates in one, `!` in another), `\`
 * escapes — is refused.
 */
import { z } from 'zod';
import { leaf, SpecError } from './schema-kit.js';

const expected = 'a pattern such as "cache", "*.tmp" or "/logs" (a leading "/" anchors it at the volume\'s root)';

/** The pattern with trailing slashes dropped, or a SpecError saying what is wrong with it. */
function parsePattern(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new SpecError();
  const pattern = value.length > 1 ? value.replace(/\/+$/, '') : value;
  const names = pattern.replace(/^\//, '').split('/');
  if (pattern.includes('**')) throw new SpecError(`"${value}": "**" is not supported; a pattern without a leading "/" already matches at any depth`);
  if (/[[\]]/.test(pattern)) throw new SpecError(`"${value}": character classes ("[...]") are not supported; use "?" for one character or "*" for several`);
  if (/[\\\0-\x1f]/.test(pattern)) throw new SpecError(`"${value}": backslashes and control characters are not supported in ${what}`);
  if (names.some((n) => n === '' || n === '.' || n === '..')) throw new SpecError(`"${value}": write names separated by single "/", without "." or ".." parts`);
  return pattern;
}

/** An `exclude:` pattern, normalised; refused when it would leave out everything. */
export function parseExcludePattern(value: unknown): string {
  if (value === '' || value === '/' || value === '//') throw new SpecError(`should be ${expected}; an empty pattern would leave out everything`);
  const pattern = parsePattern(value, 'exclude patterns');
  if (pattern === '*' || pattern === '/*') throw new SpecError(`"${String(value)}" would leave out everything; name what to leave out, e.g. "*.tmp"`);
  return pattern;
}

export const excludePattern = leaf(expected, parseExcludePattern);

/** An `exclude:` list (of a volume source, or of a per-service volume), each pattern once. */
export const excludePatterns = z.array(excludePattern).transform((patterns) => [...new Set(patterns)]);

/**
 * A `berth restore --path`: always from the volume's root (a leading "/" is optional), so
 * `photos/2024` is that folder and not any `photos/2024` deeper down.
 */
export function parseRestorePath(value: string): string {
  if (value.replace(/\/+/g, '') === '') throw new SpecError(`"${value}" names the whole volume; leave out --path to restore all of it`);
  const pattern = parsePattern(value, 'restore paths');
  return pattern.startsWith('/') ? pattern : `/${pattern}`;
}
