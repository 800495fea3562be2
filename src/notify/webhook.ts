/**
 * Webhook channel: one POST per notification, JSON (the notification plus `project`) or a
 * Slack-compatible `{text, blocks}` body. The whole request is bounded by the channel timeout;
 * any answer outside 2xx is a failure, retried by the outbox.
 */
import type { WebhookChannelConfig } from '../project/notify-schema.js';
import { type Channel, type FetchLike, PermanentDeliveryError } from './channel.js';
import { renderJson, renderSlack } from './render.js';

/** Answers about the request itself; anything else (401/403/404 config, 429, 5xx) is retried. */
const permanentStatuses = new Set([400, 413, 422]);

export interface WebhookDeps {
  readonly fetch?: FetchLike;
}

export function createWebhookChannel(config: WebhookChannelConfig, deps: WebhookDeps = {}): Channel {
  const doFetch = deps.fetch ?? fetch;
  return {
    name: config.name,
    type: 'webhook',
    async send(d, signal) {
      const body = config.format === 'slack' ? renderSlack(d) : renderJson(d);
      const timeout = AbortSignal.timeout(config.timeoutMs);
      let res: Response;
      const where = JSON.stringify(config.url); // scheme://host/… only
      try {
        res = await doFetch(config.url.reveal(), {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'berth-notify',
            'idempotency-key': d.id,
            ...config.headers,
          },
          body: JSON.stringify(body),
          signal: AbortSignal.any([signal, timeout]),
        });
      } catch (err) {
        if (timeout.aborted) throw new Error(`webhook ${where}: no answer within ${config.timeoutMs} ms`);
        throw new Error(`webhook ${where}: ${describe(err)}`, { cause: err });
      }
      const text = await res.text().catch(() => '');
      if (res.status < 200 || res.status > 299) {
        const Failure = permanentStatuses.has(res.status) ? PermanentDeliveryError : Error;
        throw new Failure(`webhook ${where} answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`);
      }
    },
    async close() {},
  };
}

function describe(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}
