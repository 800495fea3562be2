/** What every probe reports, and the small interfaces probes implement (one file per probe kind). */
import type { ProbeSpec } from '../project/monitor-schema.js';

export interface ProbeResult {
  readonly ok: boolean;
  /** One line: what was seen, e.g. "HTTP 503 in 12 ms" or "container web-blue died (exit 137)". */
  readonly summary: string;
  /** The measured number, when the probe measures one (percent, days, latency ms, query value…). */
  readonly value?: number;
  readonly latencyMs?: number;
  /** Longer output for the notification (response body excerpt, health log…). */
  readonly output?: string;
  readonly atMs: number;
}

/** A probe run on a timer. */
export interface PolledProbe {
  readonly id: string;
  readonly kind: ProbeSpec['kind'] | 'peer';
  readonly intervalMs: number;
  run(signal: AbortSignal): Promise<ProbeResult>;
}

/** A probe that reports when something happens (Docker events, heartbeats). */
export interface EventProbe {
  readonly ids: readonly string[];
  readonly kind: string;
  start(report: (id: string, result: ProbeResult) => void): Promise<void>;
  stop(): Promise<void>;
}

/** Labels and alert settings of a probe, as the rules engine sees it. */
export type ProbeMeta = Pick<ProbeSpec, 'id' | 'kind' | 'service' | 'forMs' | 'severity' | 'labels' | 'runbook' | 'alert'> | {
  readonly id: string;
  readonly kind: 'peer';
  readonly service?: string;
  readonly forMs: number;
  readonly severity: ProbeSpec['severity'];
  readonly labels: Readonly<Record<string, string>>;
  readonly runbook?: string;
  readonly alert: boolean;
};
