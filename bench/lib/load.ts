/**
 * In-process HTTP load client for the deploy benchmark: N keep-alive loops against one
 * loopback port, every response recorded (time, status, body or error) for later analysis.
 * Times are performance.now() of this process, the same clock the orchestrator stamps with.
 */
import http from 'node:http';

export interface Sample {
  /** When the request was sent (performance.now()). */
  readonly start: number;
  /** When the response ended or the error surfaced. */
  readonly end: number;
  /** HTTP status, 0 for a connection error or timeout. */
  readonly status: number;
  /** Trimmed response body ("app v1"), '' on error. */
  readonly body: string;
  /** Error code/message for connection errors and timeouts. */
  readonly error?: string;
}

export interface LoadOptions {
  readonly port: number;
  /** Host header; the edge routes on it. */
  readonly host?: string;
  readonly concurrency: number;
  /** Per-request timeout; a timeout counts as a connection error. */
  readonly timeoutMs?: number;
  /** Pause of one loop after a failed request, so a refused port isn't hammered in a spin. */
  readonly errorBackoffMs?: number;
  /** Hard bound: the loops stop by themselves after this long whatever happens. */
  readonly maxMs: number;
  /**
   * Also send one request every this many ms without waiting for earlier ones (open loop, at
   * most 100 in flight), so a moment when every closed loop is stuck still gets fresh requests.
   */
  readonly openLoopEveryMs?: number;
}

export interface RunningLoad {
  readonly t0: number;
  readonly samples: Sample[];
  /** Stop the loops and wait for the requests in flight. */
  stop(): Promise<Sample[]>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function once(agent: http.Agent, o: LoadOptions): Promise<Sample> {
  return new Promise((resolve) => {
    const start = performance.now();
    let settled = false;
    const finish = (status: number, body: string, error?: string) => {
      if (settled) return;
      settled = true;
      resolve(error === undefined ? { start, end: performance.now(), status, body } : { start, end: performance.now(), status, body, error });
    };
    const req = http.request(
      { host: '127.0.0.1', port: o.port, path: '/', method: 'GET', headers: o.host ? { host: o.host } : {}, agent, timeout: o.timeoutMs ?? 3000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => finish(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8').trim()));
        res.on('error', (e: NodeJS.ErrnoException) => finish(0, '', `response: ${e.code ?? e.message}`));
        res.on('aborted', () => finish(0, '', 'response aborted'));
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => finish(0, '', e.code ?? e.message));
    req.end();
  });
}

/** One request on a fresh connection (readiness checks). */
export async function probeOnce(port: number, host?: string, timeoutMs = 1000): Promise<Sample> {
  const agent = new http.Agent({ keepAlive: false });
  try {
    return await once(agent, { port, host, concurrency: 1, timeoutMs, maxMs: timeoutMs });
  } finally {
    agent.destroy();
  }
}

export function startLoad(o: LoadOptions): RunningLoad {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency, maxFreeSockets: o.concurrency });
  const samples: Sample[] = [];
  const t0 = performance.now();
  const deadline = t0 + o.maxMs;
  let stopped = false;
  const loop = async () => {
    while (!stopped && performance.now() < deadline) {
      const s = await once(agent, o);
      samples.push(s);
      if ((s.status === 0 || s.status >= 300) && o.errorBackoffMs) await sleep(o.errorBackoffMs);
    }
  };
  const loops = Promise.all(Array.from({ length: o.concurrency }, loop));
  const openAgent = new http.Agent({ keepAlive: true, maxSockets: 100 });
  const inFlight = new Set<Promise<void>>();
  const timer = o.openLoopEveryMs
    ? setInterval(() => {
        if (stopped || performance.now() >= deadline || inFlight.size >= 100) return;
        const p: Promise<void> = once(openAgent, o).then((s) => {
          samples.push(s);
          inFlight.delete(p);
        });
        inFlight.add(p);
      }, o.openLoopEveryMs)
    : undefined;
  return {
    t0,
    samples,
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await loops;
      await Promise.all(inFlight);
      agent.destroy();
      openAgent.destroy();
      return samples.sort((a, b) => a.end - b.end);
    },
  };
}

export const isOk = (s: Sample) => s.status >= 200 && s.status <= 299;

export interface FailureDetail {
  /** Seconds since the load started. */
  readonly atS: number;
  readonly status: number;
  readonly error?: string;
  readonly body?: string;
  readonly latencyMs: number;
}

export interface LoadStats {
  requests: number;
  non2xx: number;
  errors: number;
  /** Longest run of consecutive failures (in send order): first failed request sent → next request sent after them answered 2xx. */
  longestErrorWindowMs: number;
  durationS: number;
  reqPerSec: number;
  /** Slowest single request (send → response or error). */
  maxLatencyMs: number;
  /** Requests that took 1 s or more (stalled, whether they then succeeded or not). */
  slowOver1s: number;
  /** Send times (s since the load started) of the first 20 requests that took ≥ 1 s. */
  slowAtS: number[];
  bodies: Record<string, number>;
  /** The first few failures, for the report. */
  failures: FailureDetail[];
}

/**
 * `samples` sorted by end time (stop() does that). The error window is computed in send order:
 * a run of consecutive failed requests (by the time they were sent) lasts from the first one's
 * send time until the next request sent after them is answered successfully, so one request
 * hanging on a timeout doesn't stretch a window past responses that were already succeeding.
 */
export function analyze(samples: readonly Sample[], t0: number): LoadStats {
  let non2xx = 0;
  let errors = 0;
  const bodies: Record<string, number> = {};
  const failures: FailureDetail[] = [];
  let maxLatency = 0;
  let slow = 0;
  const slowAtS: number[] = [];
  for (const s of samples) {
    maxLatency = Math.max(maxLatency, s.end - s.start);
    if (s.end - s.start >= 1000 && slow++ < 20) slowAtS.push(round((s.start - t0) / 1000, 3));
    if (isOk(s)) {
      bodies[s.body] = (bodies[s.body] ?? 0) + 1;
      continue;
    }
    if (s.status === 0) errors++;
    else non2xx++;
    if (failures.length < 10) {
      failures.push({ atS: round((s.start - t0) / 1000, 3), status: s.status, latencyMs: round(s.end - s.start, 1), ...(s.error ? { error: s.error } : { body: s.body.slice(0, 80) }) });
    }
  }
  const bySend = [...samples].sort((a, b) => a.start - b.start);
  let longest = 0;
  let runStart: number | undefined;
  for (const s of bySend) {
    if (!isOk(s)) runStart ??= s.start;
    else if (runStart !== undefined) {
      longest = Math.max(longest, s.end - runStart);
      runStart = undefined;
    }
  }
  const last = samples.at(-1);
  if (runStart !== undefined && last) longest = Math.max(longest, last.end - runStart);
  const durationS = last ? (last.end - t0) / 1000 : 0;
  return { requests: samples.length, non2xx, errors, longestErrorWindowMs: round(longest, 1), durationS: round(durationS, 2), reqPerSec: durationS ? Math.round(samples.length / durationS) : 0, maxLatencyMs: round(maxLatency, 1), slowOver1s: slow, slowAtS: slowAtS.sort((a, b) => a - b), bodies, failures };
}

/** End time of the first successful response with this body completed at or after `after`. */
export function firstServedBy(samples: readonly Sample[], body: string, after: number): number | undefined {
  return samples.find((s) => s.end >= after && isOk(s) && s.body === body)?.end;
}

/** End time of the last successful response with this body. */
export function lastServedBy(samples: readonly Sample[], body: string): number | undefined {
  for (let i = samples.length - 1; i >= 0; i--) {
    const s = samples[i]!;
    if (isOk(s) && s.body === body) return s.end;
  }
  return undefined;
}

/** Failed requests (non-2xx or error) that were sent in [from, to]. */
export function failuresBetween(samples: readonly Sample[], from: number, to: number): number {
  return samples.filter((s) => !isOk(s) && s.start >= from && s.start <= to).length;
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
