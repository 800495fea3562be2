/**
 * Container state of every service from the Docker events stream: die, oom, start and
 * health_status are seen the moment they happen, no polling. When the stream fails it is
 * reopened with `since` = the last event seen, so a death while the connection was down is
 * replayed, and the containers are listed again to reconcile. Events do not survive a dockerd
 * restart, so the listing is compared with the last known run of every container: one that was
 * running and now runs a newer run died unseen (live-restore or a restart policy brought it back)
 * and is reported as a death all the same. Events are handled one at a time, in order. A
 * container that starts again and again (restart policy) is reported as a restart loop.
 */
import type { ContainerInfo, Engine, EngineEvent, EventSubscription } from '../../engine/engine.js';
import type { EventProbe, ProbeResult } from '../types.js';
import { compareRun, type ContainerRun, type RunChange, runOf } from './container-runs.js';

export interface ContainerEventsOptions {
  readonly engine: Engine;
  readonly project: string;
  readonly services: readonly string[];
  readonly restartLoop: { readonly count: number; readonly windowMs: number };
  readonly clock: () => number;
  /** A container that died and started again counts as recovered after running this long. */
  readonly stableMs?: number;
  readonly log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export const watchedActions = ['die', 'oom', 'start', 'health_status'] as const;

export interface ContainerEventsProbe extends EventProbe {
  readonly connected: () => boolean;
  /** How many times the events stream was reopened after it failed. */
  readonly reconnects: () => number;
}

export function createContainerEventsProbe(o: ContainerEventsOptions): ContainerEventsProbe {
  const ids = o.services.map((s) => `container:${s}`);
  const services = new Set(o.services);
  const stableMs = o.stableMs ?? 3_000;
  const restarts = new Map<string, number[]>(); // container id → times of policy restarts
  const restartCounts = new Map<string, number>();
  const stableTimers = new Map<string, NodeJS.Timeout>();
  let sub: EventSubscription | undefined;
  let stopped = false;
  let connected = false;
  let reconnects = 0;
  let lastEventMs = 0;
  /** The last run seen of every container of the project (listing, inspect, `die` events). */
  const known = new Map<string, ContainerRun>();
  /** Event handling and reconciling, one at a time in arrival order (a late `die` must not undo a later `start`). */
  let chain: Promise<void> = Promise.resolve();
  const serial = (what: string, job: () => Promise<void>): Promise<void> =>
    (chain = chain.then(job).catch((err) => o.log?.(`${what} failed`, { err: (err as Error).message })));
  let loop: Promise<void> | undefined;
  let report: (id: string, r: ProbeResult) => void = () => {};

  const emit = (service: string, ok: boolean, summary: string, output?: string) => {
    clearTimeout(stableTimers.get(service));
    stableTimers.delete(service);
    report(`container:${service}`, { ok, summary, atMs: o.clock(), ...(output ? { output } : {}) });
  };
  /** Recovered only once it stays up a moment; a crash right after start is not a recovery. */
  const recoverLater = (service: string, name: string) => {
    clearTimeout(stableTimers.get(service));
    stableTimers.set(service, setTimeout(() => emit(service, true, `container ${name} running`), stableMs).unref());
  };
  const missedDeath = (c: ContainerInfo) =>
    `container ${c.name} died while the Docker events stream was down and runs again since ${c.startedAt?.toISOString() ?? '?'} (restart count ${c.restartCount})`;

  /** Another running container of the service (the other color during a deploy) keeps it up. */
  const othersRunning = async (service: string, exceptId: string): Promise<boolean> => {
    const list = await o.engine.listContainers({ 'berth.project': o.project, 'berth.service': service });
    return list.some((c) => c.running && c.id !== exceptId);
  };

  // `since` has one-second resolution, so a reconnect replays some events already handled.
  const seen = new Map<string, number>();
  const onEvent = (e: EngineEvent): void => {
    const key = `${e.id}|${e.action}|${e.timeMs}`;
    if (seen.has(key)) return;
    seen.set(key, e.timeMs);
    if (seen.size > 1000) for (const [k, t] of seen) if (t < e.timeMs - 60_000) seen.delete(k);
    lastEventMs = Math.max(lastEventMs, e.timeMs);
    const run = known.get(e.id);
    // The death of the run we know (not a replayed death of an older run).
    if ((e.action === 'die' || e.action === 'oom') && run && e.timeMs >= run.startedAtMs) known.set(e.id, { ...run, running: false });
    // Removed containers leave only at the next listing; bound what many deploys add meanwhile.
    if (known.size > 2000) for (const id of [...known.keys()].slice(0, 1000)) known.delete(id);
    const service = e.labels['berth.service'];
    if (!service || !services.has(service)) return;
    void serial('container event handling', () => handle(service, e));
  };

  const handle = async (service: string, e: EngineEvent): Promise<void> => {
    const name = e.name || e.id.slice(0, 12);
    if (e.action === 'die' || e.action === 'oom') {
      if (e.action === 'die' && (await othersRunning(service, e.id))) return;
      const what = e.action === 'oom' ? `container ${name} was killed: out of memory` : `container ${name} died (exit code ${e.exitCode ?? '?'})`;
      emit(service, false, what);
      // A replayed death whose container has run again since: report it, then the recovery.
      const info = await o.engine.inspectContainer(e.id);
      if (info?.running && (info.startedAt?.getTime() ?? 0) > e.timeMs) recoverLater(service, info.name);
      return;
    }
    if (e.action === 'start') {
      const info = await o.engine.inspectContainer(e.id);
      if (info) {
        const change = compareRun(known.get(e.id), runOf(info));
        known.set(e.id, runOf(info));
        if (change === 'restarted-unseen') emit(service, false, missedDeath(info));
      }
      // Only restarts by the restart policy count (Docker's RestartCount); a manual start does not.
      const count = info?.restartCount ?? 0;
      const before = restartCounts.get(e.id) ?? Math.max(0, count - 1);
      restartCounts.set(e.id, count);
      const recent = (restarts.get(e.id) ?? []).filter((t) => t > e.timeMs - o.restartLoop.windowMs);
      if (count > before) recent.push(e.timeMs);
      restarts.set(e.id, recent);
      if (recent.length >= o.restartLoop.count) {
        return emit(service, false, `restart loop: container ${name} restarted ${recent.length} times in ${Math.round(o.restartLoop.windowMs / 1000)} s (restart count ${count})`);
      }
      // Not when it has stopped again since (its `die` follows, or the listing reported it).
      if (info?.running !== false) recoverLater(service, name);
      return;
    }
    if (e.action.startsWith('health_status')) {
      const status = e.action.split(':')[1]?.trim();
      if (status === 'unhealthy') {
        const info = await o.engine.inspectContainer(e.id);
        return emit(service, false, `container ${name} is unhealthy`, info?.healthLog);
      }
      if (status === 'healthy') emit(service, true, `container ${name} healthy`);
    }
  };

  /** The state of every service right now, from a container listing. */
  const reconcile = async (): Promise<void> => {
    const list = await o.engine.listContainers({ 'berth.project': o.project });
    const changes = new Map<string, RunChange>();
    for (const c of list) {
      changes.set(c.id, compareRun(known.get(c.id), runOf(c)));
      known.set(c.id, runOf(c));
    }
    for (const id of known.keys()) if (!changes.has(id)) known.delete(id);
    for (const service of services) {
      const mine = list.filter((c) => c.labels['berth.service'] === service);
      const up = mine.find((c) => c.running);
      if (up) {
        const change = changes.get(up.id);
        if (change === 'restarted-unseen') {
          emit(service, false, missedDeath(up));
          recoverLater(service, up.name);
        } else if (change === 'restarted' || stableTimers.has(service)) {
          // It died (reported) and runs again, or a start is being watched: recovered once it stays up.
          if (!stableTimers.has(service)) recoverLater(service, up.name);
        } else if (up.health === 'unhealthy') emit(service, false, `container ${up.name} is unhealthy`, up.healthLog);
        else emit(service, true, `container ${up.name} ${up.state}${up.health ? ` (${up.health})` : ''}`);
        continue;
      }
      const last = mine.sort((a, b) => (b.finishedAt?.getTime() ?? 0) - (a.finishedAt?.getTime() ?? 0))[0];
      emit(service, false, last ? `container ${last.name} is ${last.state} (exit code ${last.exitCode}${last.oomKilled ? ', out of memory' : ''})` : `service ${service} has no container`);
    }
  };

  const run = async (): Promise<void> => {
    let backoff = 250;
    let opened = 0;
    while (!stopped) {
      try {
        const since = lastEventMs > 0 ? lastEventMs : undefined;
        sub = await o.engine.subscribeEvents({ labels: { 'berth.project': o.project }, actions: [...watchedActions], ...(since ? { sinceMs: since } : {}) }, onEvent);
        connected = true;
        if (opened++ > 0) reconnects++;
        if (lastEventMs === 0) lastEventMs = o.clock();
        o.log?.('events stream open', { since, reconnects });
        await serial('reconcile', reconcile);
        backoff = 250;
        await sub.done;
      } catch (err) {
        if (stopped) break;
        o.log?.('events stream lost; reconnecting', { err: (err as Error).message, backoffMs: backoff });
      } finally {
        connected = false;
      }
      if (stopped) break;
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 5_000);
    }
  };

  return {
    ids,
    kind: 'container',
    connected: () => connected,
    reconnects: () => reconnects,
    async start(r) {
      report = r;
      loop = run();
    },
    async stop() {
      stopped = true;
      sub?.close();
      for (const t of stableTimers.values()) clearTimeout(t);
      await loop;
    },
  };
}
