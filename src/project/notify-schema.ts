/**
 * berth.yaml `notify:` — where notifications go (SMTP and webhook channels), which go where
 * (routes by severity and labels, with fallbacks), and how delivery retries. Raw config in,
 * resolved `NotifyConfig` out; every problem names file:line:col and key path.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { EnvLookup } from './interpolate.js';
import type { IssueList } from './positions.js';
import { bool, count, duration, leaf, port, type Schema, section, SpecError, text } from './schema-kit.js';

/** Same values as `Severity` in src/notify/types.ts; repeated here so the project layer depends on nothing above it. */
export const severities = ['critical', 'warning', 'info'] as const;
export type NotifySeverity = (typeof severities)[number];

export interface SmtpChannelConfig {
  readonly type: 'smtp';
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** `starttls`: plain connect, then STARTTLS is required; `secure`: TLS from the first byte; `none`: plain text. */
  readonly tls: 'starttls' | 'secure' | 'none';
  readonly user?: string;
  /** Read from the environment variable `passwordEnv` at load; prints as "(secret)". */
  readonly password?: SecretText;
  readonly passwordEnv?: string;
  /** Absolute path of a PEM file with extra CA certificates to trust (a private relay). */
  readonly caFile?: string;
  readonly from: string;
  readonly to: readonly string[];
  /** Connection, greeting and socket timeout each. */
  readonly timeoutMs: number;
}

/** A secret from the environment: `reveal()` gives it to the adapter; JSON and logs show "(secret)". */
export interface SecretText {
  reveal(): string;
  toJSON(): string;
}

export function secretText(value: string, shown = '(secret)'): SecretText {
  return { reveal: () => value, toJSON: () => shown };
}

export function secretUrl(url: string): SecretText {
  const u = new URL(url);
  return secretText(url, `${u.protocol}//${u.host}/…`);
}

export interface WebhookChannelConfig {
  readonly type: 'webhook';
  readonly name: string;
  /** Webhook URLs often carry their secret in the path (Slack): prints as scheme://host/… only. */
  readonly url: SecretText;
  readonly urlEnv?: string;
  /** `json`: the notification plus `project`; `slack`: a Slack-compatible `{text, blocks}` body. */
  readonly format: 'json' | 'slack';
  readonly timeoutMs: number;
  readonly headers: Readonly<Record<string, string>>;
}

export type ChannelConfig = SmtpChannelConfig | WebhookChannelConfig;

export interface NotifyRoute {
  readonly match: { readonly severity?: readonly NotifySeverity[]; readonly labels?: Readonly<Record<string, string>> };
  readonly channels: readonly string[];
  /** Used for a notification whose channel keeps failing (see `RetryPolicy`). */
  readonly fallback: readonly string[];
}

export interface RetryPolicy {
  /** First retry delay; doubled after each failure of the channel, up to `maxMs`. */
  readonly initialMs: number;
  readonly maxMs: number;
  /** A channel counts as down after this many failures in a row, or after failing for `fallbackAfterMs`. */
  readonly fallbackAttempts: number;
  readonly fallbackAfterMs: number;
}

export interface NotifyConfig {
  readonly channels: Readonly<Record<string, ChannelConfig>>;
  /** Every notification goes to every route that matches; no `routes:` means one route to all channels. */
  readonly routes: readonly NotifyRoute[];
  /** A firing notification reported again this long after its delivery is delivered again; 0 = never. */
  readonly repeatMs: number;
  readonly retry: RetryPolicy;
}

export const notifyDefaults = {
  // The monitor's rules repeat incidents themselves (a new dedup key per repeat); this is for producers that re-report.
  repeatMs: 0,
  retry: { initialMs: 1_000, maxMs: 60_000, fallbackAttempts: 4, fallbackAfterMs: 60_000 },
  smtpTimeoutMs: 5_000,
  webhookTimeoutMs: 5_000,
} as const satisfies { repeatMs: number; retry: RetryPolicy; smtpTimeoutMs: number; webhookTimeoutMs: number };

const email = leaf('an e-mail address like ops@example.com', (v) => {
  if (typeof v !== 'string' || !/^[^\s@<>]+@[^\s@<>]+$/.test(v.replace(/^.*<([^>]+)>\s*$/, '$1'))) throw new SpecError();
  return v;
});

function isHttpUrl(v: unknown): v is string {
  if (typeof v !== 'string') return false;
  try {
    const url = new URL(v);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

const httpUrl = leaf('an http:// or https:// URL', (v) => {
  if (!isHttpUrl(v)) throw new SpecError();
  return v;
});

const envName = leaf('an environment variable name like SMTP_PASSWORD', (v) => {
  if (typeof v !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v)) throw new SpecError();
  return v;
});

const smtpChannel = section({
  type: z.literal('smtp'),
  host: text.describe('SMTP relay host name or address'),
  port: port.optional().describe('default 587, or 465 with `secure: true`, 25 with `starttls: false`'),
  starttls: bool.optional().describe('require STARTTLS (default true unless `secure`)'),
  secure: bool.optional().describe('TLS from the first byte (port 465)'),
  user: text.optional().describe('AUTH user name'),
  password_env: envName.optional().describe('environment variable (or .env entry) holding the AUTH password'),
  ca_file: text.optional().describe('PEM file of CA certificates to trust, relative to the project folder'),
  from: email.describe('sender address'),
  to: z.array(email).min(1, 'should list at least one address').describe('recipients'),
  timeout: duration.optional().describe('connection, greeting and socket timeout; default 5s'),
});

const webhookChannel = section({
  type: z.literal('webhook'),
  url: httpUrl.optional().describe('where the POST goes (or url_env)'),
  url_env: envName.optional().describe('environment variable (or .env entry) holding the URL, to keep its token out of berth.yaml'),
  format: z.enum(['json', 'slack']).optional().describe('json (default): the notification; slack: {text, blocks}'),
  timeout: duration.optional().describe('whole-request timeout; default 5s'),
  headers: z.record(text).optional().describe('extra request headers'),
});

const channelTypes = { smtp: smtpChannel, webhook: webhookChannel } as const;
type RawChannel = z.output<typeof smtpChannel> | z.output<typeof webhookChannel>;

/** Picks the channel schema by `type`, so errors speak of the fields of that type only. */
const channelSchema: Schema<RawChannel> = z.unknown().transform((value, ctx) => {
  const type = typeof value === 'object' && value !== null ? (value as Record<string, unknown>).type : undefined;
  const schema = typeof type === 'string' ? channelTypes[type as keyof typeof channelTypes] : undefined;
  if (!schema) {
    const message = type === undefined ? 'is required (smtp or webhook)' : 'should be one of "smtp", "webhook"';
    const isMap = typeof value === 'object' && value !== null && !Array.isArray(value);
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: isMap ? message : 'should be a mapping with `type: smtp` or `type: webhook`', path: isMap ? ['type'] : [] });
    return z.NEVER;
  }
  const result = (schema as Schema<RawChannel>).safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) ctx.addIssue(issue);
  return z.NEVER;
});

const route = section({
  match: section({
    severity: z.array(z.enum(severities)).optional().describe('any of these severities'),
    labels: z.record(text).optional().describe('every label equal to this value'),
  })
    .optional()
    .describe('default: every notification'),
  channels: z.array(text).min(1, 'should list at least one channel').describe('channel names'),
  fallback: z.array(text).optional().describe('channels used when one of `channels` stays down'),
});

export const notifySchema = section({
  channels: z.record(channelSchema).describe('named SMTP and webhook channels'),
  routes: z.array(route).optional().describe('which notifications go to which channels; default: all to all'),
  repeat: duration.optional().describe('resend a still-firing notification reported again this long after its delivery; default 0 = never (alert rules have their own repeat_interval)'),
  retry: section({
    initial: duration.optional().describe('first retry delay, doubled per failure; default 1s'),
    max: duration.optional().describe('longest retry delay; default 60s'),
    fallback_attempts: count.optional().describe('failures in a row before the fallback is used; default 4'),
    fallback_after: duration.optional().describe('failing for this long uses the fallback; default 60s'),
  }).optional(),
});

export type RawNotify = z.output<typeof notifySchema>;

export interface NotifyResolveInput {
  readonly raw: RawNotify;
  /** The berth.yaml tree, to locate problems. */
  readonly root: unknown;
  readonly dir: string;
  readonly env: EnvLookup;
  readonly issues: IssueList;
}

/** Defaults applied, references checked (routes naming unknown channels, unset password variables). */
export function resolveNotify({ raw, root, dir, env, issues }: NotifyResolveInput): NotifyConfig {
  const at = (p: (string | number)[], message: string): void => issues.at(root, ['notify', ...p], message);
  const channels: Record<string, ChannelConfig> = {};
  for (const [name, c] of Object.entries(raw.channels)) {
    const resolved = c.type === 'smtp' ? resolveSmtp(name, c, dir, env, at) : resolveWebhook(name, c, env, at);
    if (resolved) channels[name] = resolved;
  }
  // Raw names: a channel with a problem of its own is reported once, not again by every route naming it.
  const names = Object.keys(raw.channels);
  if (names.length === 0) at(['channels'], 'should define at least one channel');
  const known = (list: readonly string[] | undefined, p: (string | number)[]): string[] =>
    (list ?? []).filter((name, i) => {
      if (Object.hasOwn(raw.channels, name)) return true;
      at([...p, i], `unknown channel \`${name}\`; channels are: ${names.join(', ') || '(none)'}`);
      return false;
    });
  const routes: NotifyRoute[] = raw.routes
    ? raw.routes.map((r, i) => ({
        match: { ...(r.match?.severity ? { severity: r.match.severity } : {}), ...(r.match?.labels ? { labels: r.match.labels } : {}) },
        channels: known(r.channels, ['routes', i, 'channels']),
        fallback: known(r.fallback, ['routes', i, 'fallback']),
      }))
    : [{ match: {}, channels: names, fallback: [] }];
  const d = notifyDefaults.retry;
  const retry: RetryPolicy = {
    initialMs: Math.max(1, raw.retry?.initial ?? d.initialMs),
    maxMs: raw.retry?.max ?? d.maxMs,
    fallbackAttempts: raw.retry?.fallback_attempts ?? d.fallbackAttempts,
    fallbackAfterMs: raw.retry?.fallback_after ?? d.fallbackAfterMs,
  };
  if (retry.maxMs < retry.initialMs) at(['retry', 'max'], `should not be shorter than retry.initial (${retry.initialMs} ms)`);
  if (retry.fallbackAttempts < 1) at(['retry', 'fallback_attempts'], 'should be at least 1');
  return { channels, routes, repeatMs: raw.repeat ?? notifyDefaults.repeatMs, retry };
}

type At = (p: (string | number)[], message: string) => void;

function resolveSmtp(name: string, c: z.output<typeof smtpChannel>, dir: string, env: EnvLookup, at: At): SmtpChannelConfig {
  if (c.secure && c.starttls) at(['channels', name, 'starttls'], 'choose one of `secure: true` (TLS from the start) and `starttls: true`');
  const tls = c.secure ? 'secure' : c.starttls === false ? 'none' : 'starttls';
  if (c.password_env && !c.user) at(['channels', name, 'password_env'], 'needs `user:` too');
  const password = c.password_env ? env[c.password_env] : undefined;
  if (c.password_env && password === undefined) {
    at(['channels', name, 'password_env'], `${c.password_env} is not set (set it in the environment or in .env)`);
  }
  const caFile = c.ca_file === undefined ? undefined : path.resolve(dir, c.ca_file);
  if (caFile && !existsSync(caFile)) at(['channels', name, 'ca_file'], `${caFile} not found`);
  return {
    type: 'smtp',
    name,
    host: c.host,
    port: c.port ?? (tls === 'secure' ? 465 : tls === 'none' ? 25 : 587),
    tls,
    ...(c.user !== undefined ? { user: c.user } : {}),
    ...(password !== undefined ? { password: secretText(password) } : {}),
    ...(c.password_env !== undefined ? { passwordEnv: c.password_env } : {}),
    ...(caFile !== undefined ? { caFile } : {}),
    from: c.from,
    to: c.to,
    timeoutMs: c.timeout ?? notifyDefaults.smtpTimeoutMs,
  };
}

function resolveWebhook(name: string, c: z.output<typeof webhookChannel>, env: EnvLookup, at: At): WebhookChannelConfig | undefined {
  if ((c.url === undefined) === (c.url_env === undefined)) {
    at(['channels', name], 'set one of `url` and `url_env`');
    return undefined;
  }
  const url = c.url ?? env[c.url_env!];
  if (url === undefined) {
    at(['channels', name, 'url_env'], `${c.url_env} is not set (set it in the environment or in .env)`);
    return undefined;
  }
  if (!isHttpUrl(url)) {
    at(['channels', name, 'url_env'], `${c.url_env} should hold an http:// or https:// URL`);
    return undefined;
  }
  return {
    type: 'webhook',
    name,
    url: secretUrl(url),
    ...(c.url_env !== undefined ? { urlEnv: c.url_env } : {}),
    format: c.format ?? 'json',
    timeoutMs: c.timeout ?? notifyDefaults.webhookTimeoutMs,
    headers: c.headers ?? {},
  };
}
