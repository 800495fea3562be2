/**
 * `exclude:` patterns of a volume source, checked at the boundary. A pattern names a file or
 * directory at any depth (`cache`, `*.tmp`, `thumbs/small`), or, starting with `/`, a path from the
 * volume's root (`/logs`). `*` and `?` match within one name; a directory matched is left out with
 * everything in it. Two readers take them (`backup/sources/exclude.ts`): restic's `--exclude` at
 * backup (Go's filepath.Match), and busybox `find -regex` in the helper, which finds what an
 * in-place restore leaves as it was. What the two would read differently — `**`, `[...]` classes
 * (`^` negates in one, `!` in the other), `\` escapes — is refused.
 */
import { leaf, SpecError } from './schema-kit.js';

const expected = 'a pattern such as "cache", "*.tmp" or "/logs" (a leading "/" anchors it at the volume\'s root)';

/** The normalised pattern (trailing slashes dropped), or a SpecError saying what is wrong with it. */
export function parseExcludePattern(value: unknown): string {
  if (typeof value !== 'string') throw new SpecError();
  const pattern = value.length > 1 ? value.replace(/\/+$/, '') : value;
  const names = pattern.replace(/^\//, '').split('/');
  if (pattern === '' || pattern === '/') throw new SpecError(`should be ${expected}; an empty pattern would leave out everything`);
  if (pattern === '*' || pattern === '/*') throw new SpecError(`"${value}" would leave out everything; name what to leave out, e.g. "*.tmp"`);
  if (pattern.includes('**')) throw new SpecError(`"${value}": "**" is not supported; a pattern without a leading "/" already matches at any depth`);
  if (/[[\]]/.test(pattern)) throw new SpecError(`"${value}": character classes ("[...]") are not supported; use "?" for one character or "*" for several`);
  if (/[\\\0-\x1f]/.test(pattern)) throw new SpecError(`"${value}": backslashes and control characters are not supported in exclude patterns`);
  if (names.some((n) => n === '' || n === '.' || n === '..')) throw new SpecError(`"${value}": write names separated by single "/", without "." or ".." parts`);
  return pattern;
}

export const excludePattern = leaf(expected, parseExcludePattern);
