/**
 * `.env` and `env_file` syntax as Compose reads it: `KEY=VALUE` lines, `export ` prefix,
 * `#` comments, single quotes literal, double quotes with `\n \t \\ \"` escapes, and
 * `${VAR}` interpolation (earlier lines, then `env`) outside single quotes.
 */
import { interpolate, InterpolationError, type EnvLookup } from './interpolate.js';

export interface DotenvIssue {
  readonly line: number;
  readonly message: string;
}

export interface DotenvResult {
  /** `null` for a bare `KEY` line: the value comes from the environment, if set. */
  readonly values: Record<string, string | null>;
  readonly issues: readonly DotenvIssue[];
}

const linePattern = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:=\s*(.*))?$/;

export function parseDotenv(text: string, env: EnvLookup = {}): DotenvResult {
  const values: Record<string, string | null> = {};
  const issues: DotenvIssue[] = [];
  const lookup = (): EnvLookup => ({ ...env, ...withoutNulls(values) });
  text.split(/\r?\n/).forEach((raw, i) => {
    if (/^\s*(#.*)?$/.test(raw)) return;
    const m = linePattern.exec(raw);
    if (!m) {
      issues.push({ line: i + 1, message: `should be KEY=VALUE, got "${raw.trim()}"` });
      return;
    }
    const [, key = '', rawValue] = m;
    try {
      values[key] = rawValue === undefined ? null : parseValue(rawValue, lookup());
    } catch (err) {
      if (!(err instanceof InterpolationError)) throw err;
      issues.push({ line: i + 1, message: err.message });
    }
  });
  return { values, issues };
}

function parseValue(raw: string, env: EnvLookup): string {
  const text = raw.trim();
  if (text.startsWith("'")) {
    const end = text.indexOf("'", 1);
    return end < 0 ? text : text.slice(1, end);
  }
  if (text.startsWith('"')) {
    const m = /^"((?:[^"\\]|\\.)*)"/.exec(text);
    if (!m) return interpolate(text, env);
    return interpolate(unescapeDouble(m[1] ?? ''), env);
  }
  return interpolate(text.replace(/\s+#.*$/, ''), env);
}

function unescapeDouble(s: string): string {
  const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\' };
  return s.replace(/\\(.)/g, (all, c: string) => map[c] ?? all);
}

function withoutNulls(values: Record<string, string | null>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).filter((e): e is [string, string] => e[1] !== null));
}
