/** HTTP probe: status in range, optional body match and latency limit; a fresh connection each time. */
import https from 'node:https';
import type { ProbeSpec } from '../../project/monitor-schema.js';
import type { PolledProbe, ProbeResult } from '../types.js';
import { rawGet } from './http-get.js';
import { elapsedMs, type ResolveTarget } from './target.js';

type HttpSpec = Extract<ProbeSpec, { kind: 'http' }>;
const maxBody = 64 * 1024;

export function createHttpProbe(spec: HttpSpec, deps: { resolve: ResolveTarget; clock: () => number }): PolledProbe {
  let fixed: URL | undefined;
  let last: { host: string; port: number; url: URL } | undefined; // a URL is not parsed again each run
  return {
    id: spec.id,
    kind: 'http',
    intervalMs: spec.intervalMs,
    async run(signal) {
      const first = await attempt(signal, false);
      // A failure at a cached container address may just mean the container was replaced.
      if (first.ok || !spec.target || !first.url) return first.result;
      const again = await attempt(signal, true);
      return again.url && again.url.href !== first.url.href ? again.result : first.result;
    },
  };

  async function attempt(signal: AbortSignal, fresh: boolean): Promise<{ ok: boolean; url?: URL; result: ProbeResult }> {
    const at = deps.clock();
    let url: URL;
    try {
      url = spec.url ? (fixed ??= new URL(spec.url)) : await serviceUrl(fresh);
    } catch (err) {
      return { ok: false, result: { ok: false, summary: (err as Error).message, atMs: at } };
    }
    const t0 = process.hrtime.bigint();
    try {
      const res = await get(url, spec.hostHeader, spec.timeoutMs, signal);
      const result = judge(spec, url, res, elapsedMs(t0), at);
      return { ok: result.ok, url, result };
    } catch (err) {
      return { ok: false, url, result: { ok: false, summary: `GET ${url.href}: ${(err as Error).message} after ${elapsedMs(t0)} ms`, latencyMs: elapsedMs(t0), atMs: at } };
    }
  }

  async function serviceUrl(fresh: boolean): Promise<URL> {
    const t = spec.target;
    if (!t) throw new Error('no URL');
    const { host, port } = await deps.resolve(t, fresh);
    if (last?.host !== host || last.port !== port) last = { host, port, url: new URL(`http://${host}:${port}${spec.path}`) };
    return last.url;
  }
}

export function judge(spec: Pick<HttpSpec, 'statusMin' | 'statusMax' | 'body' | 'latencyMs'>, url: URL, res: { status: number; body: string }, latencyMs: number, at: number): ProbeResult {
  const base = { latencyMs, value: latencyMs, atMs: at };
  const what = `GET ${url.href} → ${res.status} in ${latencyMs} ms`;
  if (res.status < spec.statusMin || res.status > spec.statusMax) {
    return { ...base, ok: false, summary: `${what} (expected ${spec.statusMin}-${spec.statusMax})`, output: res.body.slice(0, 500) };
  }
  if (spec.body !== undefined && !new RegExp(spec.body).test(res.body)) {
    return { ...base, ok: false, summary: `${what}; body does not match /${spec.body}/`, output: res.body.slice(0, 500) };
  }
  if (spec.latencyMs !== undefined && latencyMs > spec.latencyMs) {
    return { ...base, ok: false, summary: `${what}; slower than ${spec.latencyMs} ms` };
  }
  return { ...base, ok: true, summary: what };
}

function get(url: URL, hostHeader: string | undefined, timeoutMs: number, signal: AbortSignal): Promise<{ status: number; body: string }> {
  if (url.protocol === 'http:') return rawGet(url, hostHeader, timeoutMs, signal);
  return new Promise((resolve, reject) => {
    const req = https.get(url, { agent: false, timeout: timeoutMs, signal, headers: { 'user-agent': 'berth-agent', ...(hostHeader ? { host: hostHeader } : {}) } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < maxBody) body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
