/**
 * The rules engine as one pure step: (state, input, now) → (state, transitions, notices).
 * The agent feeds it probe results and clock ticks, persists the state and performs the notices.
 */
import type { ProbeMeta, ProbeResult } from '../types.js';
import { type AlertInstance, type Alerts, applyResult, applyTick, nextFireAt, type Transition } from './alerts.js';
import type { CompiledRule } from './compile.js';
import { flushGroups, type GroupConfig, groupKeyOf, type Groups, type Notice } from './groups.js';

export interface RulesState {
  readonly alerts: Alerts;
  readonly groups: Groups;
}

export const emptyRulesState: RulesState = { alerts: {}, groups: {} };

export type RulesInput = { readonly type: 'result'; readonly probeId: string; readonly result: ProbeResult } | { readonly type: 'tick' };

export interface RulesContext {
  readonly now: number;
  readonly rules: readonly CompiledRule[];
  readonly probes: ReadonlyMap<string, ProbeMeta>;
  readonly groups: GroupConfig;
  /** True when a silence (or a running deploy of the service) holds this alert's notices back. */
  readonly silenced: (a: AlertInstance) => boolean;
}

export interface StepOutput {
  readonly state: RulesState;
  readonly transitions: readonly Transition[];
  readonly notices: readonly Notice[];
}

export function step(state: RulesState, input: RulesInput, ctx: RulesContext): StepOutput {
  const { now } = ctx;
  const applied =
    input.type === 'result'
      ? applyResult(state.alerts, { probeId: input.probeId, result: input.result, labels: probeLabels(ctx, input.probeId), rules: ctx.rules }, now)
      : applyTick(state.alerts, now);
  const flushed = flushGroups(applied.alerts, state.groups, ctx.groups, now, ctx.silenced);
  return { state: { alerts: flushed.alerts, groups: flushed.groups }, transitions: applied.transitions, notices: flushed.notices };
}

function probeLabels(ctx: RulesContext, probeId: string): Record<string, string> {
  const meta = ctx.probes.get(probeId);
  return { project: ctx.groups.project, ...(meta?.labels ?? {}), ...(meta?.service ? { service: meta.service } : {}) };
}

export interface Silence {
  readonly id: string;
  /** Label → value; an alert is silenced when all match. */
  readonly matchers: Readonly<Record<string, string>>;
  readonly reason: string;
  readonly createdBy: string;
  readonly startsAtMs: number;
  readonly endsAtMs: number;
}

export function silenceMatches(s: Silence, a: AlertInstance, now: number): boolean {
  if (now < s.startsAtMs || now >= s.endsAtMs) return false;
  return Object.entries(s.matchers).every(([k, v]) => a.labels[k] === v);
}

/** The next moment a tick can change something by time alone: a pending alert's `for`, a new incident's group_wait. */
export function nextWakeAt(state: RulesState, groupBy: readonly string[], groupWaitMs: number): number | undefined {
  let at = nextFireAt(state.alerts);
  for (const a of Object.values(state.alerts)) {
    if (a.state !== 'firing' || state.groups[groupKeyOf(a.labels, groupBy).key]) continue;
    at = Math.min(at ?? Infinity, (a.firedAtMs ?? a.activeSinceMs) + groupWaitMs);
  }
  return at;
}
