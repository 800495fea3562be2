/**
 * Splits a command string into argv like a POSIX shell without expansion (Python's
 * `shlex.split`), which is what Compose does for string `command:` and `entrypoint:`.
 */
import { SpecError } from './schema-kit.js';

export function shellSplit(input: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let i = 0;
  const push = (s: string): void => {
    word = (word ?? '') + s;
  };
  while (i < input.length) {
    const c = input[i] as string;
    if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
      i++;
    } else if (c === "'") {
      const end = input.indexOf("'", i + 1);
      if (end < 0) throw new SpecError(`unterminated ' quote in "${input}"`);
      push(input.slice(i + 1, end));
      i = end + 1;
    } else if (c === '"') {
      const [value, next] = readDoubleQuoted(input, i + 1);
      push(value);
      i = next;
    } else if (c === '\\') {
      push(input[i + 1] ?? '');
      i += 2;
    } else {
      push(c);
      i++;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** Inside double quotes a backslash only escapes `\ " $` and backtick, as in sh. */
function readDoubleQuoted(input: string, from: number): [string, number] {
  let out = '';
  for (let i = from; i < input.length; i++) {
    const c = input[i] as string;
    if (c === '"') return [out, i + 1];
    if (c === '\\' && i + 1 < input.length && '\\"$`'.includes(input[i + 1] as string)) {
      out += input[++i];
    } else {
      out += c;
    }
  }
  throw new SpecError(`unterminated " quote in "${input}"`);
}
