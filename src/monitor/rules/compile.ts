/**
 * Rules as the engine evaluates them: one implicit "probe failing" rule per probe (with the
 * probe's own `for`, severity and runbook), plus the `monitor.rules` entries of berth.yaml.
 */
import { globMatch } from '../../project/monitor-resolve.js';
import type { RuleSpec, Severity, ValueCondition } from '../../project/monitor-schema.js';
import type { ProbeMeta, ProbeResult } from '../types.js';

export interface CompiledRule {
  readonly name: string;
  readonly condition: ValueCondition | 'down';
  readonly forMs: number;
  readonly severity: Severity;
  readonly labels: Readonly<Record<string, string>>;
  readonly runbook?: string;
  readonly summary?: string;
  matches(probeId: string): boolean;
}

/** The implicit rule of every probe is called `probe`; its alert key is `probe|<probe id>`. */
export const implicitRule = 'probe';

export function compileRules(probes: readonly ProbeMeta[], rules: readonly RuleSpec[]): { rules: CompiledRule[]; probes: ReadonlyMap<string, ProbeMeta> } {
  const out: CompiledRule[] = [];
  for (const p of probes) {
    if (!p.alert) continue;
    out.push({
      name: implicitRule,
      condition: 'down',
      forMs: p.forMs,
      severity: p.severity,
      labels: {},
      ...(p.runbook !== undefined ? { runbook: p.runbook } : {}),
      matches: (id) => id === p.id,
    });
  }
  for (const r of rules) out.push({ ...r, matches: (id) => globMatch(r.probe, id) });
  return { rules: out, probes: new Map(probes.map((p) => [p.id, p])) };
}

/** Is the rule's condition true for this result? A probe that could not measure counts as true. */
export function conditionHolds(condition: CompiledRule['condition'], result: ProbeResult): boolean {
  if (condition === 'down') return !result.ok;
  if (result.value === undefined) return !result.ok;
  const v = result.value;
  const t = condition.threshold;
  switch (condition.op) {
    case '>':
      return v > t;
    case '>=':
      return v >= t;
    case '<':
      return v < t;
    case '<=':
      return v <= t;
    case '==':
      return v === t;
    case '!=':
      return v !== t;
  }
}
