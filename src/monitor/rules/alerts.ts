/**
 * The alert state machine as a pure reducer (STYLE.md habit 4): probe results and clock ticks in,
 * new state plus transitions out. pending → firing after `for`; firing → resolved when the
 * condition clears; pending that clears is dropped. Grouping and notifications: `groups.ts`.
 */
import type { Severity } from '../../project/monitor-schema.js';
import type { ProbeResult } from '../types.js';
import { type CompiledRule, conditionHolds } from './compile.js';

export type AlertState = 'pending' | 'firing' | 'resolved';

export interface AlertInstance {
  readonly key: string;
  readonly rule: string;
  readonly probeId: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly severity: Severity;
  readonly runbook?: string;
  readonly ruleSummary?: string;
  readonly forMs: number;
  readonly state: AlertState;
  /** When the condition became true (kept across agent restarts, so `for` is not restarted). */
  readonly activeSinceMs: number;
  readonly firedAtMs?: number;
  readonly resolvedAtMs?: number;
  /** The result that made the condition true first, and the latest one. */
  readonly firstResult: ProbeResult;
  readonly lastResult: ProbeResult;
}

export type Alerts = Readonly<Record<string, AlertInstance>>;

export interface Transition {
  readonly key: string;
  readonly to: AlertState | 'cleared';
  readonly atMs: number;
  readonly summary: string;
}

export interface ResultInput {
  readonly probeId: string;
  readonly result: ProbeResult;
  /** Probe labels plus project and service. */
  readonly labels: Readonly<Record<string, string>>;
  readonly rules: readonly CompiledRule[];
}

export function alertKey(rule: string, probeId: string): string {
  return `${rule}|${probeId}`;
}

/** Applies one probe result to every rule that watches the probe. */
export function applyResult(alerts: Alerts, input: ResultInput, now: number): { alerts: Alerts; transitions: Transition[] } {
  const next: Record<string, AlertInstance> = { ...alerts };
  const transitions: Transition[] = [];
  for (const rule of input.rules) {
    if (!rule.matches(input.probeId)) continue;
    const key = alertKey(rule.name, input.probeId);
    const current = next[key];
    const holds = conditionHolds(rule.condition, input.result);
    if (holds) {
      if (!current || current.state === 'resolved') {
        const created = newInstance(key, rule, input, now);
        next[key] = created;
        transitions.push({ key, to: 'pending', atMs: now, summary: input.result.summary });
        const fired = maybeFire(created, now);
        if (fired !== created) {
          next[key] = fired;
          transitions.push({ key, to: 'firing', atMs: now, summary: input.result.summary });
        }
      } else {
        const updated = { ...current, lastResult: input.result };
        const fired = maybeFire(updated, now);
        next[key] = fired;
        if (fired.state !== current.state) transitions.push({ key, to: 'firing', atMs: now, summary: input.result.summary });
      }
    } else if (current?.state === 'pending') {
      delete next[key];
      transitions.push({ key, to: 'cleared', atMs: now, summary: input.result.summary });
    } else if (current?.state === 'firing') {
      next[key] = { ...current, state: 'resolved', resolvedAtMs: now, lastResult: input.result };
      transitions.push({ key, to: 'resolved', atMs: now, summary: input.result.summary });
    }
  }
  return { alerts: next, transitions };
}

/** Time passing alone moves pending alerts whose `for` has elapsed to firing. */
export function applyTick(alerts: Alerts, now: number): { alerts: Alerts; transitions: Transition[] } {
  const transitions: Transition[] = [];
  const next: Record<string, AlertInstance> = {};
  for (const [key, a] of Object.entries(alerts)) {
    const fired = maybeFire(a, now);
    if (fired !== a) transitions.push({ key, to: 'firing', atMs: now, summary: a.lastResult.summary });
    next[key] = fired;
  }
  return { alerts: next, transitions };
}

function newInstance(key: string, rule: CompiledRule, input: ResultInput, now: number): AlertInstance {
  const runbook = rule.runbook;
  return {
    key,
    rule: rule.name,
    probeId: input.probeId,
    labels: { ...input.labels, ...rule.labels, rule: rule.name, probe: input.probeId, severity: rule.severity },
    severity: rule.severity,
    ...(runbook !== undefined ? { runbook } : {}),
    ...(rule.summary !== undefined ? { ruleSummary: rule.summary } : {}),
    forMs: rule.forMs,
    state: 'pending',
    activeSinceMs: Math.min(now, input.result.atMs),
    firstResult: input.result,
    lastResult: input.result,
  };
}

function maybeFire(a: AlertInstance, now: number): AlertInstance {
  if (a.state !== 'pending' || now - a.activeSinceMs < a.forMs) return a;
  return { ...a, state: 'firing', firedAtMs: now };
}

/** The earliest time a pending alert will fire, for the scheduler's next tick. */
export function nextFireAt(alerts: Alerts): number | undefined {
  let at: number | undefined;
  for (const a of Object.values(alerts)) if (a.state === 'pending') at = Math.min(at ?? Infinity, a.activeSinceMs + a.forMs);
  return at;
}
