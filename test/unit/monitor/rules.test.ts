/** The rules engine as sequences of probe results and ticks on a fake clock. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RuleSpec } from '../../../src/project/monitor-schema.js';
import { compileRules } from '../../../src/monitor/rules/compile.js';
import { emptyRulesState, nextWakeAt, type RulesInput, type RulesState, type Silence, silenceMatches, step } from '../../../src/monitor/rules/engine.js';
import type { Notice } from '../../../src/monitor/rules/groups.js';
import { buildNotification } from '../../../src/monitor/rules/notification.js';
import type { ProbeMeta } from '../../../src/monitor/types.js';

const probe = (id: string, service: string | undefined, forMs = 0): ProbeMeta => ({
  id,
  kind: 'http',
  forMs,
  severity: 'critical',
  labels: service ? { service } : {},
  alert: true,
  runbook: `runbook for ${id}`,
  ...(service ? { service } : {}),
});

function harness(probes: ProbeMeta[], rules: RuleSpec[] = [], cfg: Partial<{ groupBy: string[]; groupWaitMs: number; groupIntervalMs: number; repeatIntervalMs: number }> = {}) {
  const compiled = compileRules(probes, rules);
  let state: RulesState = emptyRulesState;
  let now = 1_000_000;
  const notices: Notice[] = [];
  const silences: Silence[] = [];
  const deploying = new Set<string>();
  const feed = (input: RulesInput) => {
    const out = step(state, input, {
      now,
      rules: compiled.rules,
      probes: compiled.probes,
      groups: { project: 'shop', groupBy: cfg.groupBy ?? ['project'], groupWaitMs: cfg.groupWaitMs ?? 1000, groupIntervalMs: cfg.groupIntervalMs ?? 30_000, repeatIntervalMs: cfg.repeatIntervalMs ?? 3_600_000 },
      silenced: (a) => silences.some((s) => silenceMatches(s, a, now)) || (a.labels.service !== undefined && deploying.has(a.labels.service)),
    });
    state = out.state;
    notices.push(...out.notices);
    return out;
  };
  return {
    notices,
    silences,
    deploying,
    get state() {
      return state;
    },
    advance(ms: number) {
      now += ms;
      return feed({ type: 'tick' });
    },
    result(probeId: string, ok: boolean, value?: number) {
      return feed({ type: 'result', probeId, result: { ok, summary: ok ? 'ok' : `${probeId} failed`, atMs: now, ...(value !== undefined ? { value } : {}) } });
    },
    get now() {
      return now;
    },
  };
}

describe('alert states', () => {
  it('pending → firing after `for`, then resolved with one notice each', () => {
    const h = harness([probe('http:web', 'web', 5000)]);
    h.result('http:web', false);
    assert.equal(h.state.alerts['probe|http:web']?.state, 'pending');
    h.advance(4000);
    assert.equal(h.state.alerts['probe|http:web']?.state, 'pending');
    h.advance(1000);
    assert.equal(h.state.alerts['probe|http:web']?.state, 'firing');
    assert.equal(h.notices.length, 0, 'group_wait holds the first notice');
    h.advance(1000);
    assert.equal(h.notices.length, 1);
    assert.equal(h.notices[0]!.status, 'firing');
    h.result('http:web', false);
    h.advance(1000);
    assert.equal(h.notices.length, 1, 'a still-failing probe is not re-announced');
    h.result('http:web', true);
    assert.equal(h.notices.length, 2);
    assert.equal(h.notices[1]!.status, 'resolved');
    assert.equal(h.notices[1]!.dedupKey, h.notices[0]!.dedupKey, 'resolve pairs with the firing notice');
    assert.deepEqual(h.state.alerts, {});
    assert.deepEqual(h.state.groups, {});
  });

  it('a pending alert that clears before `for` sends nothing', () => {
    const h = harness([probe('http:web', 'web', 5000)]);
    h.result('http:web', false);
    h.advance(3000);
    h.result('http:web', true);
    h.advance(10_000);
    assert.equal(h.notices.length, 0);
    assert.deepEqual(h.state.alerts, {});
  });

  it('keeps `for` counted from the first failure across a restored state', () => {
    const h = harness([probe('http:web', 'web', 5000)]);
    h.result('http:web', false);
    h.advance(3000);
    const saved = JSON.parse(JSON.stringify(h.state)) as RulesState;
    const compiled = compileRules([probe('http:web', 'web', 5000)], []);
    const ctx = (now: number) => ({ now, rules: compiled.rules, probes: compiled.probes, groups: { project: 'shop', groupBy: ['project'], groupWaitMs: 0, groupIntervalMs: 30_000, repeatIntervalMs: 3_600_000 }, silenced: () => false });
    const t = h.now + 2500;
    const out = step(saved, { type: 'result', probeId: 'http:web', result: { ok: false, summary: 'x', atMs: t } }, ctx(t));
    assert.equal(out.state.alerts['probe|http:web']?.state, 'firing');
    assert.equal(out.notices.length, 1);
  });

  it('value conditions from rules: fire above the threshold, resolve below', () => {
    const h = harness([{ ...probe('seq', undefined), alert: false }], [{ name: 'SequenceCritical', probe: 'seq', condition: { op: '>', threshold: 90 }, forMs: 0, severity: 'critical', labels: { team: 'docs' }, summary: 'sequence utilisation above 90%' }], { groupWaitMs: 0 });
    h.result('seq', true, 85);
    assert.equal(h.notices.length, 0);
    h.result('seq', true, 95);
    assert.equal(h.notices.length, 1);
    const n = buildNotification(h.notices[0]!, 'shop');
    assert.match(n.title, /\[FIRING\] seq: sequence utilisation above 90%/);
    assert.equal(n.labels.team, 'docs');
    h.result('seq', true, 50);
    assert.equal(h.notices.at(-1)!.status, 'resolved');
  });
});

describe('grouping', () => {
  it('ten services failing together make one incident, and one resolve', () => {
    const services = Array.from({ length: 10 }, (_, i) => `svc${i}`);
    const h = harness(services.map((s) => probe(`container:${s}`, s)), [], { groupWaitMs: 1000 });
    for (const s of services) {
      h.result(`container:${s}`, false);
      h.advance(50);
    }
    h.advance(1000);
    assert.equal(h.notices.length, 1);
    assert.equal(h.notices[0]!.firing.length, 10);
    const n = buildNotification(h.notices[0]!, 'shop');
    assert.match(n.title, /^\[FIRING\] 10 alerts in shop: svc0, svc1/);
    assert.equal(n.severity, 'critical');
    for (const s of services) h.result(`container:${s}`, true);
    assert.equal(h.notices.length, 2);
    assert.equal(h.notices[1]!.status, 'resolved');
    assert.equal(h.notices[1]!.resolved.length, 10);
  });

  it('a late alert joins the open incident as an update after group_interval', () => {
    const h = harness([probe('a', 'a'), probe('b', 'b')], [], { groupWaitMs: 0, groupIntervalMs: 10_000 });
    h.result('a', false);
    assert.equal(h.notices.length, 1);
    h.advance(2000);
    h.result('b', false);
    assert.equal(h.notices.length, 1);
    h.advance(8000);
    assert.equal(h.notices.length, 2);
    assert.equal(h.notices[1]!.seq, 1);
    assert.notEqual(h.notices[1]!.dedupKey, h.notices[0]!.dedupKey);
    assert.deepEqual(h.notices[1]!.firing.map((a) => a.probeId).sort(), ['a', 'b']);
  });

  it('group_by service keeps services apart', () => {
    const h = harness([probe('a', 'a'), probe('b', 'b')], [], { groupBy: ['service'], groupWaitMs: 0 });
    h.result('a', false);
    h.result('b', false);
    assert.equal(h.notices.length, 2);
  });

  it('repeats a still-firing incident every repeat_interval', () => {
    const h = harness([probe('a', 'a')], [], { groupWaitMs: 0, repeatIntervalMs: 60_000 });
    h.result('a', false);
    h.advance(59_000);
    assert.equal(h.notices.length, 1);
    h.advance(1000);
    assert.equal(h.notices.length, 2);
    assert.equal(h.notices[1]!.status, 'firing');
  });
});

describe('wake-ups', () => {
  it('names the moment `for` elapses, then the end of group_wait, then nothing', () => {
    const h = harness([probe('a', 'a', 5000)], [], { groupWaitMs: 500 });
    const t0 = h.now;
    h.result('a', false);
    assert.equal(nextWakeAt(h.state, ['project'], 500), t0 + 5000);
    h.advance(5000);
    assert.equal(nextWakeAt(h.state, ['project'], 500), t0 + 5500);
    h.advance(500);
    assert.equal(h.notices.length, 1);
    assert.equal(nextWakeAt(h.state, ['project'], 500), undefined);
  });
});

describe('silences', () => {
  it('holds notices back until the silence expires, then announces', () => {
    const h = harness([probe('a', 'web')], [], { groupWaitMs: 0 });
    h.silences.push({ id: 's1', matchers: { service: 'web' }, reason: 'maintenance', createdBy: 't', startsAtMs: h.now, endsAtMs: h.now + 60_000 });
    h.result('a', false);
    h.advance(30_000);
    assert.equal(h.notices.length, 0);
    h.advance(30_000);
    assert.equal(h.notices.length, 1);
  });

  it('a failure that ends during the silence is never announced', () => {
    const h = harness([probe('a', 'web')], [], { groupWaitMs: 0 });
    h.silences.push({ id: 's1', matchers: { service: 'web' }, reason: 'x', createdBy: 't', startsAtMs: h.now, endsAtMs: h.now + 60_000 });
    h.result('a', false);
    h.result('a', true);
    h.advance(120_000);
    assert.equal(h.notices.length, 0);
    assert.deepEqual(h.state.alerts, {});
  });

  it('a running deploy silences its own service only', () => {
    const h = harness([probe('container:web', 'web'), probe('container:db', 'db')], [], { groupBy: ['service'], groupWaitMs: 0 });
    h.deploying.add('web');
    h.result('container:web', false);
    h.result('container:db', false);
    assert.deepEqual(h.notices.map((n) => n.groupLabels.service), ['db']);
    h.result('container:web', true);
    h.deploying.delete('web');
    h.advance(1000);
    assert.equal(h.notices.length, 1);
  });
});

describe('notification', () => {
  it('says what failed, since when, the last output, the logs and the runbook', () => {
    const h = harness([probe('container:web', 'web')], [], { groupWaitMs: 0 });
    h.result('container:web', false);
    const n = buildNotification(h.notices[0]!, 'shop', ['line 1', 'fatal: boom']);
    assert.equal(n.status, 'firing');
    assert.match(n.title, /^\[FIRING\] web: container:web failed$/);
    assert.match(n.summary, /failing since \d{4}-\d\d-\d\dT/);
    assert.deepEqual(n.logLines, ['line 1', 'fatal: boom']);
    assert.equal(n.runbook, 'runbook for container:web');
    assert.equal(n.labels.service, 'web');
    assert.ok(n.details.some((d) => d.label === 'container:web last probe'));
  });
});
