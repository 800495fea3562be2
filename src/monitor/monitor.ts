/**
 * The monitor: runs the probes, feeds their results and clock ticks through the rules engine one
 * at a time, and performs what comes out. Each step's state, probe row, alert log and
 * notifications are written in one SQLite transaction — so an agent killed mid-way either
 * notified and remembered it, or did neither and will do both after restart (never twice).
 */
import type { Engine } from '../engine/engine.js';
import type { Notifier } from '../notify/types.js';
import type { Project } from '../project/model.js';
import type { MonitorStore } from '../store/monitor.js';
import { type AlertInstance, alertKey } from './rules/alerts.js';
import { compileRules, type CompiledRule, conditionHolds } from './rules/compile.js';
import { emptyRulesState, nextWakeAt, type RulesInput, type RulesState, type Silence, silenceMatches, step } from './rules/engine.js';
import type { Group, Notice } from './rules/groups.js';
import { buildNotification } from './rules/notification.js';
import type { EventProbe, PolledProbe, ProbeMeta, ProbeResult } from './types.js';

export interface MonitorOptions {
  readonly project: Project;
  readonly engine: Engine;
  readonly store: MonitorStore;
  /**
   * Called inside the step's IMMEDIATE transaction: a durable notifier must insert through the
   * same connection (`store.db`), or it would wait on the lock this transaction holds.
   */
  readonly notifier: Notifier;
  readonly clock: () => number;
  readonly polled: readonly PolledProbe[];
  readonly events: readonly EventProbe[];
  readonly meta: readonly ProbeMeta[];
  readonly log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Called after each probe result is recorded (metrics). */
  readonly onResult?: (meta: ProbeMeta | undefined, id: string, result: ProbeResult) => void;
  readonly tickMs?: number;
}

export interface Monitor {
  start(): Promise<void>;
  stop(): Promise<void>;
  alerts(): readonly AlertInstance[];
  /** Feed a result from outside the probe set (tests, the heartbeat receiver). */
  report(id: string, result: ProbeResult): void;
}

/** A failing probe whose reason changes has its row rewritten at once, but not more often than this. */
const failingReasonEveryMs = 5_000;
/**
 * Probes whose summary says a state, not a measurement: a changed summary is news (a backup
 * stored, a retry now due, a replica caught up) and is written like a changed reason, while an HTTP
 * probe's "200 in 12 ms" changes with every run and waits for the 15 s flush.
 */
const stateSummaryKinds: ReadonlySet<string> = new Set(['backup', 'replication']);

export function createMonitor(o: MonitorOptions): Monitor {
  const { rules, probes } = compileRules(o.meta, o.project.monitor.rules);
  const cfg = o.project.monitor;
  const groupCfg = { project: o.project.name, groupBy: cfg.groupBy, groupWaitMs: cfg.groupWaitMs, groupIntervalMs: cfg.groupIntervalMs, repeatIntervalMs: cfg.repeatIntervalMs };
  let state: RulesState = loadState(o.store, (a) => probes.has(a.probeId) && rules.some((r) => r.name === a.rule && r.matches(a.probeId)));
  // The keys the database holds (including rows of dropped alerts, so the first step deletes them).
  // The rules engine keeps the object of an unchanged alert or group, so a changed one is a new object.
  const saved = {
    alerts: new Set(o.store.alerts().map((r) => r.key)),
    groups: new Set(o.store.groups().map((r) => r.key)),
  };
  let queue: Promise<void> = Promise.resolve();
  let queued = 0;
  const controller = new AbortController();
  const timers = new Set<NodeJS.Timeout>();
  // Silences and running deploys are read (two small queries) the first time a step asks, so a
  // silence added a moment ago holds, and steps with nothing firing touch no table.
  const silencedAt = (now: number) => {
    let loaded: { silences: Silence[]; deploying: Set<string> } | undefined;
    return (a: AlertInstance): boolean => {
      loaded ??= { silences: o.store.silences(now), deploying: new Set(o.store.deployingServices()) };
      return (a.labels.service !== undefined && loaded.deploying.has(a.labels.service)) || loaded.silences.some((s) => silenceMatches(s, a, now));
    };
  };
  // Probe rows (what `berth probes` shows) are written in the step when a probe is new or flips
  // (a row that says "stopped on purpose" counts as a flip when a real result follows), and when
  // a failing probe's reason or a backup or replication probe's summary changes (a backup that
  // failed after being stale, a retry now due), at most every 5 s a probe; other results are kept
  // here and written together every 15 s, in one transaction.
  const probeWritten = new Map<string, { ok: boolean; intended: boolean; summary: string; atMs: number }>();
  const probeUnwritten = new Map<string, ProbeResult>();
  const probeRowDue = (id: string, r: ProbeResult, intended: boolean): boolean => {
    const last = probeWritten.get(id);
    if (!last || last.ok !== r.ok || last.intended !== intended) return true;
    const news = !r.ok || stateSummaryKinds.has(probes.get(id)?.kind ?? '');
    return news && r.summary !== last.summary && o.clock() - last.atMs >= failingReasonEveryMs;
  };
  const probeRowDone = (id: string, r: ProbeResult, written: boolean, intended: boolean) => {
    if (written) {
      probeWritten.set(id, { ok: r.ok, intended, summary: r.summary, atMs: o.clock() });
      probeUnwritten.delete(id);
    } else probeUnwritten.set(id, r);
  };
  const putProbe = (id: string, r: ProbeResult) => {
    const meta = probes.get(id);
    o.store.putProbe({ probeId: id, kind: meta?.kind ?? 'custom', ...(meta?.service ? { service: meta.service } : {}), ...r });
  };
  const flushProbes = () => {
    if (probeUnwritten.size === 0) return;
    const rows = [...probeUnwritten];
    probeUnwritten.clear();
    o.store.transaction(() => {
      for (const [id, r] of rows) putProbe(id, r);
    });
  };

  /** A failing probe of a service stopped on purpose is no failure: it reads "stopped on purpose" and alerts nobody. */
  const intended = (input: RulesInput): RulesInput => {
    if (input.type !== 'result' || input.result.ok) return input;
    const service = probes.get(input.probeId)?.service;
    const stopped = service === undefined ? undefined : o.store.stoppedOnPurpose(service);
    if (!stopped) return input;
    const summary = `${service} stopped on purpose (${stopped.reason} by ${stopped.by} at ${new Date(stopped.atMs).toISOString()}); last probe: ${input.result.summary}`;
    return { ...input, result: { ok: true, summary, atMs: input.result.atMs } };
  };

  const runStep = async (raw: RulesInput): Promise<void> => {
    const input = intended(raw);
    const now = o.clock();
    const out = step(state, input, { now, rules, probes, groups: groupCfg, silenced: silencedAt(now) });
    const notifications = out.notices.length === 0 ? [] : await Promise.all(out.notices.map(async (n) => buildNotification(n, o.project.name, await logLines(n))));
    const writeProbe = input.type === 'result' && probeRowDue(input.probeId, input.result, input !== raw);
    const changes = diff(state, out.state);
    if (writeProbe || changes.length > 0 || out.transitions.length > 0 || notifications.length > 0) {
      o.store.transaction(() => {
        if (writeProbe && input.type === 'result') putProbe(input.probeId, input.result);
        for (const change of changes) change(now);
        for (const t of out.transitions) {
          const a = out.state.alerts[t.key] ?? state.alerts[t.key];
          o.store.logTransition({ key: t.key, state: t.to, atMs: t.atMs, summary: t.summary, labels: a?.labels ?? {} });
        }
        for (const n of notifications) o.notifier.notify(n);
      });
    }
    if (input.type === 'result') probeRowDone(input.probeId, input.result, writeProbe, input !== raw);
    if (changes.length > 0) {
      saved.alerts = new Set(Object.keys(out.state.alerts));
      saved.groups = new Set(Object.keys(out.state.groups));
    }
    state = out.state;
    wakeAt(nextWakeAt(state, cfg.groupBy, cfg.groupWaitMs));
    for (const t of out.transitions) o.log?.('alert', { key: t.key, state: t.to, summary: t.summary });
    for (const n of notifications) o.log?.('notification', { dedupKey: n.dedupKey, status: n.status, title: n.title });
  };

  /** The row writes that bring the database from `prev` to `next`: new or changed alerts and groups only. */
  const diff = (prev: RulesState, next: RulesState): Array<(now: number) => void> => {
    const ops: Array<(now: number) => void> = [];
    for (const key in next.alerts) {
      const a = next.alerts[key]!;
      if (prev.alerts[key] !== a || !saved.alerts.has(key)) ops.push((now) => o.store.putAlert(key, a.state, JSON.stringify(a), now));
    }
    for (const key of saved.alerts) if (!next.alerts[key]) ops.push(() => o.store.deleteAlert(key));
    for (const key in next.groups) {
      const g = next.groups[key]!;
      if (prev.groups[key] !== g || !saved.groups.has(key)) ops.push(() => o.store.putGroup(key, JSON.stringify(g)));
    }
    for (const key of saved.groups) if (!next.groups[key]) ops.push(() => o.store.deleteGroup(key));
    return ops;
  };

  /** The last log lines of the services an incident is about, fetched while the notice is built. */
  const logLines = async (n: Notice): Promise<string[]> => {
    const services = [...new Set(n.firing.map((a) => a.labels.service).filter((s): s is string => !!s))].slice(0, 3);
    if (services.length === 0 || n.status !== 'firing') return [];
    const per = Math.max(5, Math.floor(cfg.logLines / services.length));
    const parts = await Promise.all(services.map((s) => serviceLogs(o.engine, o.project.name, s, per).catch(() => [] as string[])));
    return parts.flatMap((lines, i) => (services.length > 1 ? lines.map((l) => `${services[i]}| ${l}`) : lines));
  };

  // A timer for the exact moment time alone changes something, so a notice does not wait for the next tick.
  let wake: { at: number; timer: NodeJS.Timeout } | undefined;
  const wakeAt = (at: number | undefined) => {
    if (at === undefined || controller.signal.aborted || (wake && wake.at <= at && wake.at > o.clock())) return;
    if (wake) clearTimeout(wake.timer);
    const timer = setTimeout(() => {
      wake = undefined;
      enqueue({ type: 'tick' });
    }, Math.max(0, at - o.clock()));
    wake = { at, timer };
  };

  const enqueue = (input: RulesInput): void => {
    queued++;
    queue = queue
      .then(() => runStep(input))
      .catch((err) => o.log?.('rules step failed', { err: (err as Error).stack }))
      .finally(() => void queued--);
  };

  // The steady state — every probe passing, nothing pending or announced — needs no rules step:
  // most results change nothing, and this check costs far less than a step (10 results a second
  // with 50 HTTP probes every 5 s).
  const rulesOf = new Map<string, readonly CompiledRule[]>();
  const rulesFor = (id: string): readonly CompiledRule[] => {
    let r = rulesOf.get(id);
    if (!r) rulesOf.set(id, (r = rules.filter((rule) => rule.matches(id))));
    return r;
  };
  /** Nothing a step could flush (no group, only pending alerts) and a result that starts or moves no alert. */
  const changesNothing = (id: string, result: ProbeResult): boolean => {
    for (const _ in state.groups) return false;
    for (const key in state.alerts) if (state.alerts[key]!.state !== 'pending') return false;
    for (const rule of rulesFor(id)) if (state.alerts[alertKey(rule.name, id)] !== undefined || conditionHolds(rule.condition, result)) return false;
    return true;
  };
  const idle = (): boolean => {
    for (const _ in state.groups) return false;
    for (const _ in state.alerts) return false;
    return true;
  };

  const report = (id: string, result: ProbeResult): void => {
    o.onResult?.(probes.get(id), id, result);
    if (queued > 0 || !changesNothing(id, result)) return enqueue({ type: 'result', probeId: id, result });
    const write = probeRowDue(id, result, false);
    if (write) o.store.transaction(() => putProbe(id, result));
    probeRowDone(id, result, write, false);
  };

  const schedule = (p: PolledProbe, delay: number) => {
    const t = setTimeout(async () => {
      timers.delete(t);
      if (controller.signal.aborted) return;
      const started = o.clock();
      const result = await withDeadline(p.run(controller.signal), Math.max(p.intervalMs, 5_000) + 5_000).catch(
        (err): ProbeResult => ({ ok: false, summary: `probe failed: ${(err as Error).message}`, atMs: started }),
      );
      if (controller.signal.aborted) return;
      report(p.id, result);
      schedule(p, Math.max(0, started + p.intervalMs - o.clock()));
    }, delay);
    timers.add(t);
  };

  return {
    async start() {
      o.store.keepProbes([...probes.keys()]);
      for (const e of o.events) await e.start(report);
      // Spread the first runs over one interval so 50 probes do not fire in the same millisecond.
      o.polled.forEach((p, i) => schedule(p, Math.floor((i / Math.max(1, o.polled.length)) * Math.min(p.intervalMs, 5_000))));
      // The first step also deletes rows of alerts no longer configured and closes incidents left without alerts.
      enqueue({ type: 'tick' });
      // Time alone changes nothing while there are no alerts and no incidents.
      const tick = setInterval(() => {
        if (queued === 0 && !idle()) enqueue({ type: 'tick' });
      }, o.tickMs ?? 1_000);
      timers.add(tick);
      const flush = setInterval(() => {
        queue = queue.then(flushProbes).catch((err) => o.log?.('writing probe rows failed', { err: (err as Error).message }));
      }, 15_000);
      timers.add(flush);
    },
    async stop() {
      controller.abort();
      for (const t of timers) clearTimeout(t);
      if (wake) clearTimeout(wake.timer);
      await Promise.all(o.events.map((e) => e.stop()));
      await queue;
      flushProbes();
    },
    alerts: () => Object.values(state.alerts),
    report,
  };
}

/**
 * The state a previous run left. Alerts of probes or rules no longer configured are dropped; an
 * incident left with none of its alerts is then closed by the first step with a resolved notice.
 */
function loadState(store: MonitorStore, known: (a: AlertInstance) => boolean): RulesState {
  const alerts: Record<string, AlertInstance> = {};
  for (const row of store.alerts()) {
    const a = JSON.parse(row.data) as AlertInstance;
    if (known(a)) alerts[row.key] = a;
  }
  const groups: Record<string, Group> = {};
  for (const row of store.groups()) groups[row.key] = JSON.parse(row.data) as Group;
  return Object.keys(alerts).length || Object.keys(groups).length ? { alerts, groups } : emptyRulesState;
}

async function serviceLogs(engine: Engine, project: string, service: string, tail: number): Promise<string[]> {
  const list = await engine.listContainers({ 'berth.project': project, 'berth.service': service });
  const newest = list.sort((a, b) => Math.max(b.startedAt?.getTime() ?? 0, b.finishedAt?.getTime() ?? 0) - Math.max(a.startedAt?.getTime() ?? 0, a.finishedAt?.getTime() ?? 0))[0];
  if (!newest) return [];
  const text = await Promise.race([engine.logs(newest.id, { tail }), new Promise<string>((r) => setTimeout(() => r(''), 1_500).unref())]);
  return text.split('\n').filter((l) => l.trim() !== '').slice(-tail);
}

/** A probe that overruns its own timeouts by far is reported as failed (a plain timer: AbortSignal.any costs more per run). */
function withDeadline<T>(run: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no result within ${ms} ms`)), ms);
  });
  return Promise.race([run, deadline]).finally(() => clearTimeout(timer));
}
