/**
 * Shell pieces of an in-place volume restore, run in the helper container, and what berth makes of
 * their output. Shared by restic restoring in place (`volume-direct.ts`) and a tar stream
 * extracted in place (`volume.ts`).
 */
import { findExcludeRegex } from './path-patterns.js';
import type { SourceContext } from './types.js';
import { volumeData } from './where.js';

/** Moves every entry of `$1` (hidden ones too) but `$old` into `$2`. */
export const moveFn = 'move() { for e in "$1"/* "$1"/.[!.]* "$1"/..?*; do if [ "$e" != "$old" ] && { [ -e "$e" ] || [ -L "$e" ]; }; then mv -- "$e" "$2"/ || return 1; fi; done; }';
/** Moves the volume's files aside into `$old`; if that fails part-way, moves them back and exits 70 (nothing changed). */
export const setAside = 'mkdir "$old" && move "$t" "$old" || { move "$old" "$t"; rmdir "$old"; exit 70; }';
/** Where an in-place restore keeps the volume's current files (`$t` the mount point): until restic begins, once it has, and what `exclude:` left out of the snapshot. */
export const asideVars = 'old="$t/.berth-replaced-$BERTH_PID"; gone="$t/.berth-removing-$BERTH_PID"; kept="$t/.berth-kept-$BERTH_PID"';

/**
 * What the source's `exclude:` patterns left out of the snapshot is not the restore's to remove:
 * it stays as it was. `$BERTH_KEEP` is those patterns as one `find -regex` (`path-patterns.ts`; empty
 * without patterns); find hands its matches to a shell in batches, not one shell each.
 * - `keep DIR` moves what matches in DIR (renames within the volume) into `$kept`, at the same
 *   relative path;
 * - `spent DIR` removes DIR unless something matching is still in it (a rename that failed: then
 *   `berth-left DIR` is printed and DIR stays);
 * - `putback` moves each kept path back into `$t` where the restore wrote nothing there (what the
 *   snapshot has wins), printing `berth-put` for each, and `berth-left` if anything could not go back.
 */
export const keepFns = [
  `keep() { [ -n "$BERTH_KEEP" ] && [ -d "$1" ] || return 0; (cd "$1" && find . -mindepth 1 -regex "$BERTH_KEEP" -prune -exec sh -c 'k="$1"; shift; for f; do r="\${f#./}"; d="$k"; case "$r" in */*) d="$k/\${r%/*}";; esac; [ -d "$d" ] || mkdir -p "$d"; mv -- "$f" "$k/$r"; done' keep "$kept" {} +); }`,
  `spent() { if [ -n "$BERTH_KEEP" ] && [ -d "$1" ] && (cd "$1" && find . -mindepth 1 -regex "$BERTH_KEEP" -prune) | { IFS= read -r x; }; then echo "berth-left $1"; else rm -rf "$1"; fi; }`,
  `putback() { [ -d "$kept" ] || return 0; (cd "$kept" && find . -mindepth 1 -regex "$BERTH_KEEP" -prune -exec sh -c 't="$1"; shift; for f; do r="\${f#./}"; if [ -e "$t/$r" ] || [ -L "$t/$r" ]; then rm -rf "$f"; else case "$r" in */*) [ -d "$t/\${r%/*}" ] || mkdir -p "$t/\${r%/*}";; esac; mv -- "$f" "$t/$r" && echo berth-put; fi; done' put "$t" {} +); find "$kept" -depth -type d -exec rmdir {} \\; 2>/dev/null; if [ -e "$kept" ]; then echo "berth-left $kept"; fi; }`,
].join('\n');

/** `$BERTH_KEEP` for `keepFns`: the source's exclude patterns as one `find -regex`. */
export const keepEnv = (ctx: SourceContext): Record<string, string> => (ctx.source.exclude?.length ? { BERTH_KEEP: findExcludeRegex(ctx.source.exclude) } : {});

/**
 * What `keepFns` printed, for the restore's summary: how many excluded paths stayed as they were,
 * and where anything is that could not go back (as the user finds it: on the volume, not in the helper).
 */
export function keptReport(ctx: SourceContext, target: string, lines: readonly string[]): string {
  if (!ctx.source.exclude?.length) return '';
  const put = lines.filter((l) => l === 'berth-put').length;
  const left = lines.filter((l) => l.startsWith('berth-left ')).map((l) => `${volumeData(ctx)}${l.slice('berth-left '.length).slice(target.length)}`);
  const kept = `; ${put} excluded path(s) (exclude: ${ctx.source.exclude.join(', ')}) left as they were`;
  return left.length ? `${kept}; WARNING: some could not be put back and are in ${left.join(', ')}: move them back by hand` : kept;
}
