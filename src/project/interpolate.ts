/**
 * Compose variable interpolation (https://docs.docker.com/reference/compose-file/interpolation/):
 * `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?err}`, `${VAR?err}`,
 * `${VAR:+alt}`, `${VAR+alt}`, and `$$` for a literal `$`. Defaults may nest (`${A:-${B}}`).
 * An unset variable becomes the empty string, as in Compose.
 */
import type { ConfigPath } from './positions.js';

export type EnvLookup = Readonly<Record<string, string | undefined>>;

export class InterpolationError extends Error {}

const namePattern = /^[A-Za-z_][A-Za-z0-9_]*/;
const bracedPattern = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/;

/**
 * `unset`, when given, collects the variables that were unset and so became empty (`$VAR`,
 * `${VAR}`); forms with a default or alternative say what they want and are not collected.
 */
export function interpolate(text: string, env: EnvLookup, unset?: Set<string>): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf('$', i);
    if (dollar < 0) return out + text.slice(i);
    out += text.slice(i, dollar);
    const next = text[dollar + 1];
    if (next === '$') {
      out += '$';
      i = dollar + 2;
    } else if (next === '{') {
      const end = closingBrace(text, dollar + 2);
      if (end < 0) throw new InterpolationError(`unclosed "\${" in "${text}"`);
      out += expandBraced(text.slice(dollar + 2, end), env, unset);
      i = end + 1;
    } else {
      const name = namePattern.exec(text.slice(dollar + 1))?.[0];
      if (!name) {
        const near = text.slice(dollar, dollar + 8);
        throw new InterpolationError(`invalid interpolation "${near}"; write "$$" for a literal "$"`);
      }
      if (env[name] === undefined) unset?.add(name);
      out += env[name] ?? '';
      i = dollar + 1 + name.length;
    }
  }
  return out;
}

function closingBrace(text: string, from: number): number {
  let depth = 1;
  for (let j = from; j < text.length; j++) {
    if (text[j] === '$' && (text[j + 1] === '{' || text[j + 1] === '$')) {
      if (text[j + 1] === '{') depth++;
      j++;
    } else if (text[j] === '}' && --depth === 0) {
      return j;
    }
  }
  return -1;
}

function expandBraced(inner: string, env: EnvLookup, unset: Set<string> | undefined): string {
  const m = bracedPattern.exec(inner);
  if (!m) throw new InterpolationError(`invalid variable "\${${inner}}"`);
  const [, name = '', op, arg = ''] = m;
  const value = env[name];
  const set = value !== undefined;
  const nonEmpty = set && value !== '';
  switch (op) {
    case undefined:
      if (!set) unset?.add(name);
      return value ?? '';
    case ':-':
      return nonEmpty ? value : interpolate(arg, env, unset);
    case '-':
      return set ? value : interpolate(arg, env, unset);
    case ':+':
      return nonEmpty ? interpolate(arg, env, unset) : '';
    case '+':
      return set ? interpolate(arg, env, unset) : '';
    default: // ':?' and '?'
      if (op === ':?' ? nonEmpty : set) return value as string;
      throw new InterpolationError(requiredMessage(name, interpolate(arg, env)));
  }
}

function requiredMessage(name: string, detail: string): string {
  return `required variable ${name} is missing a value${detail ? `: ${detail}` : ''}`;
}

/** Told about each value that used unset variables: where, which, and the value as written. */
export type UnsetHandler = (path: ConfigPath, names: readonly string[], written: string) => void;

/** Interpolates every string value of `root` in place; keys are left alone, as in Compose. */
export function interpolateTree(
  root: unknown,
  env: EnvLookup,
  onError: (path: ConfigPath, message: string) => void,
  onUnset?: UnsetHandler,
): void {
  walk(root, []);
  function walk(node: unknown, path: ConfigPath): void {
    if (typeof node !== 'object' || node === null) return;
    const container = node as Record<string | number, unknown>;
    const keys: (string | number)[] = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
    for (const key of keys) {
      const value = container[key];
      if (typeof value !== 'string') {
        walk(value, [...path, key]);
        continue;
      }
      const unset = new Set<string>();
      try {
        container[key] = interpolate(value, env, unset);
      } catch (err) {
        if (!(err instanceof InterpolationError)) throw err;
        onError([...path, key], err.message);
        continue;
      }
      if (unset.size > 0) onUnset?.([...path, key], [...unset], value);
    }
  }
}
