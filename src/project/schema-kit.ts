/**
 * Small zod building blocks shared by the compose and berth.yaml schemas: strict sections that
 * allow `x-*` keys, and leaf parsers (durations, sizes, ports) whose failures read as
 * `should be a duration like "10s"`.
 */
import { Cron } from 'croner';
import { z } from 'zod';
import { parseBytes } from '../lib/bytes.js';
import { parseDuration, parseSpan } from '../lib/duration.js';
import { knownKeysMessage } from './known-keys.js';

/** Thrown by leaf parsers; the message replaces the generic `should be …` text when given. */
export class SpecError extends Error {}

export type Schema<T> = z.ZodType<T, z.ZodTypeDef, unknown>;

/** A strict mapping: unknown keys are reported, `x-*` extension keys are dropped. */
export function section<S extends z.ZodRawShape>(shape: S) {
  return z.preprocess(stripExtensions, z.object(shape).strict(knownKeysMessage(Object.keys(shape))));
}

export function stripExtensions(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([k]) => !k.startsWith('x-')));
}

/** A leaf parsed by `parse`, which returns the value or throws `SpecError`. */
export function leaf<T>(expected: string, parse: (value: unknown) => T): Schema<T> {
  return z.unknown().transform((value, ctx) => {
    try {
      return parse(value);
    } catch (err) {
      // Parse errors of lib helpers are plain `Error`s; programming errors must still surface.
      if (err instanceof TypeError || err instanceof ReferenceError || !(err instanceof Error)) throw err;
      const message =
        err instanceof SpecError && err.message ? err.message : value === undefined ? 'is required' : `should be ${expected}`;
      ctx.addIssue({ code: z.ZodIssueCode.custom, message });
      return z.NEVER;
    }
  });
}

/** Dispatches on the YAML kind: scalars to `scalar`, mappings and lists to their schemas. */
export function byKind<T>(
  expected: string,
  branches: { scalar?: (v: string | number | boolean) => T; object?: Schema<T>; list?: Schema<T> },
): Schema<T> {
  return z.unknown().transform((value, ctx) => {
    const isList = Array.isArray(value);
    const isObject = typeof value === 'object' && value !== null && !isList;
    const schema = isList ? branches.list : isObject ? branches.object : undefined;
    if (schema) {
      const result = schema.safeParse(value);
      if (result.success) return result.data;
      for (const issue of result.error.issues) ctx.addIssue(issue);
      return z.NEVER;
    }
    const scalar = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
    try {
      if (scalar && branches.scalar) return branches.scalar(value);
      throw new SpecError();
    } catch (err) {
      if (!(err instanceof SpecError)) throw err;
      const fallback = value === undefined ? 'is required' : `should be ${expected}`;
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: err.message || fallback });
      return z.NEVER;
    }
  });
}

const cronNicknames = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

/**
 * A schedule as cron writes it: five fields (minute hour day month weekday), or one of cron's
 * nicknames such as `@daily`. Checked by croner, which the agent schedules with. A sixth field
 * is refused: croner would take the first as seconds, which no crontab does.
 */
export function cronSchedule(example: string) {
  return leaf(`a cron expression like "${example}" (minute hour day month weekday) or @daily, @weekly, @monthly, @hourly`, (v) => {
    if (typeof v !== 'string') throw new SpecError();
    const value = v.trim().replace(/\s+/g, ' ');
    if (!cronNicknames.includes(value.toLowerCase()) && value.split(' ').length !== 5) throw new SpecError();
    try {
      new Cron(value, { paused: true }).stop();
    } catch (err) {
      throw new SpecError(`should be a cron expression like "${example}" (${(err as Error).message.replace(/^CronPattern: /, '')})`);
    }
    return value;
  });
}

/** A string; numbers and booleans are written as text, as YAML authors expect. */
export const text = leaf('a string', (v) => {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new SpecError();
});

export const bool = leaf('true or false', (v) => {
  if (typeof v === 'boolean') return v;
  throw new SpecError();
});

export const count = leaf('a whole number (0 or more)', (v) => {
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 0) return n;
  throw new SpecError();
});

export const duration = leaf('a duration like "10s"', (v) => {
  if (typeof v !== 'string' && typeof v !== 'number') throw new SpecError();
  return parseDuration(v);
});

/** A duration with days too ("30d", "1d12h", "48h"): retention spans. */
export const span = leaf('a span like "30d" or "48h"', (v) => {
  if (typeof v !== 'string') throw new SpecError();
  return parseSpan(v);
});

export const bytes = leaf('a size like "512M"', (v) => {
  if (typeof v !== 'string' && typeof v !== 'number') throw new SpecError();
  return parseBytes(v);
});

export const port = leaf('a port number (1-65535)', (v) => toPort(v));

export function toPort(v: unknown): number {
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535) return n;
  throw new SpecError();
}

export const textList = z.array(text);

/** A string or a list of strings, as a list. */
export const textOrList = byKind('a string or a list of strings', { scalar: (v) => [String(v)], list: textList });

/** Leaves optional members out instead of present-but-undefined, so models compare and print cleanly. */
export function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
