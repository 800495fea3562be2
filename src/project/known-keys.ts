/**
 * The keys a strict section takes, carried from the schema to the message of an unknown key, and
 * the one meant by a misspelt key (`keep_daily` → `daily`, `enviroment` → `environment`).
 * zod's unknown-key issue names the unknown keys only; a section puts its own keys in that issue's
 * message (`knownKeysMessage`), and `knownKeysIn` reads them back.
 */
import { closest, distance } from 'fastest-levenshtein';

const prefix = 'known keys: ';

export function knownKeysMessage(keys: readonly string[]): string {
  return `${prefix}${JSON.stringify(keys)}`;
}

export function knownKeysIn(message: string): readonly string[] | undefined {
  if (!message.startsWith(prefix)) return undefined;
  const keys: unknown = JSON.parse(message.slice(prefix.length));
  return Array.isArray(keys) && keys.every((k) => typeof k === 'string') ? keys : undefined;
}

/** Lower case, `-` and `_` dropped: `Password-File` and `password_file` are the same key. */
const folded = (key: string) => key.toLowerCase().replace(/[-_]/g, '');

/**
 * The known key `key` most likely means: the same but for case and `-`/`_`, one that is the last
 * or first words of `key` (`keep_daily`), or the nearest within a third of its length (at least 1)
 * in edits.
 */
export function meantKey(key: string, known: readonly string[]): string | undefined {
  if (!known.length) return undefined;
  const k = folded(key);
  const same = known.find((c) => folded(c) === k);
  if (same) return same;
  const words = key.toLowerCase().split(/[-_]/);
  const ends = new Set(words.flatMap((_, i) => (i ? [words.slice(i).join(''), words.slice(0, i).join('')] : [])));
  const within = known.filter((c) => ends.has(folded(c)));
  if (within.length === 1) return within[0];
  const nearest = closest(k, known.map(folded));
  const at = known.find((c) => folded(c) === nearest)!;
  return distance(k, nearest) <= Math.max(1, Math.floor(k.length / 3)) ? at : undefined;
}
