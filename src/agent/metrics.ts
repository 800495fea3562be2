/** Prometheus /metrics (prom-client): probe up/latency/value, alert states, agent and peer info. */
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { AlertInstance } from '../monitor/rules/alerts.js';
import type { ProbeMeta, ProbeResult } from '../monitor/types.js';
import { validationWindowDays, validationWindowStart, type ValidationTally } from '../store/backups.js';

/** What /metrics reads of the project's backups (the agent gives it SQLite-backed ones, store/backups.ts `backupFigures`). */
export interface BackupFigures {
  /** The sources berth.yaml declares. */
  sources(): readonly string[];
  /** The newest good backup (stored, not suspect) of `source`, ms since the epoch. */
  lastGoodAt(source: string): number | undefined;
  /** Verifies of backup.repository finished since then, and their drills per source. */
  validation(sinceMs: number): ValidationTally;
}

export interface AgentMetrics {
  readonly registry: Registry;
  probe(meta: ProbeMeta | undefined, id: string, r: ProbeResult): void;
}

export function createMetrics(o: {
  project: string;
  version: string;
  alerts: () => readonly AlertInstance[];
  peerSeenMs?: () => number | undefined;
  /** The Docker events stream of the container probe, when there is one. */
  engineEvents?: { connected: () => boolean; reconnects: () => number };
  backups?: BackupFigures;
  clock: () => number;
}): AgentMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ project: o.project });
  // The event-loop lag histogram samples every 10 ms by default: 100 wake-ups a second, a quarter
  // of a percent of a core on its own. Once a second is plenty for a daemon that mostly waits.
  collectDefaultMetrics({ register: registry, prefix: 'berth_agent_', eventLoopMonitoringPrecision: 1_000 });
  // Probe results are only remembered here (10 results a second with 50 probes) and turned into
  // gauge values when /metrics is scraped.
  const last = new Map<string, { labels: { probe: string; kind: string; service: string }; up?: number; latency?: number; value?: number }>();
  const probeGauge = (name: string, help: string, pick: (e: NonNullable<ReturnType<typeof last.get>>) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ['probe', 'kind', 'service'],
      registers: [registry],
      collect() {
        for (const e of last.values()) {
          const v = pick(e);
          if (v !== undefined) this.set(e.labels, v);
        }
      },
    });
  probeGauge('berth_probe_up', '1 when the last probe run passed', (e) => e.up);
  probeGauge('berth_probe_latency_seconds', 'latency of the last probe run', (e) => e.latency);
  probeGauge('berth_probe_value', 'value measured by the last probe run (percent, days, ms…)', (e) => e.value);
  new Gauge({
    name: 'berth_alerts',
    help: 'alerts by state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      const counts = { pending: 0, firing: 0, resolved: 0 };
      for (const a of o.alerts()) counts[a.state]++;
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'berth_alert_firing',
    help: '1 for each firing alert',
    labelNames: ['rule', 'probe', 'service', 'severity'],
    registers: [registry],
    collect() {
      this.reset();
      for (const a of o.alerts()) if (a.state === 'firing') this.set({ rule: a.rule, probe: a.probeId, service: a.labels.service ?? '', severity: a.severity }, 1);
    },
  });
  new Gauge({ name: 'berth_agent_info', help: 'the agent', labelNames: ['version'], registers: [registry] }).set({ version: o.version }, 1);
  if (o.engineEvents) {
    const ev = o.engineEvents;
    new Gauge({
      name: 'berth_engine_events_connected',
      help: '1 while the Docker events stream is open',
      registers: [registry],
      collect() {
        this.set(ev.connected() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'berth_engine_events_reconnects',
      help: 'times the Docker events stream was reopened after it failed (a dockerd restart) since the agent started',
      registers: [registry],
      collect() {
        this.set(ev.reconnects());
      },
    });
  }
  if (o.peerSeenMs) {
    const seen = o.peerSeenMs;
    new Gauge({
      name: 'berth_peer_last_seen_age_seconds',
      help: 'seconds since the last heartbeat from the peer agent (-1: never)',
      registers: [registry],
      collect() {
        const at = seen();
        this.set(at === undefined ? -1 : (o.clock() - at) / 1000);
      },
    });
  }
  if (o.backups) backupMetrics(registry, o.backups, o.clock);
  return {
    registry,
    probe(meta, id, r) {
      let e = last.get(id);
      if (!e) last.set(id, (e = { labels: { probe: id, kind: meta?.kind ?? 'custom', service: meta?.service ?? '' } }));
      e.up = r.ok ? 1 : 0;
      if (r.latencyMs !== undefined) e.latency = r.latencyMs / 1000;
      if (r.value !== undefined) e.value = r.value;
    },
  };
}

/**
 * The age of each source's newest good backup, and the success rate of backup validation (SC-007:
 * 99.9 %) over the last `validationWindowDays`: restore drills and verifies of backup.repository
 * by result. Read from SQLite when /metrics is scraped.
 */
function backupMetrics(registry: Registry, b: BackupFigures, clock: () => number): void {
  // Read afresh by each gauge that shows it: three small queries a scrape, and a verify ended just now is in the next one.
  const validation = () => b.validation(validationWindowStart(clock()));
  // The window as a label: it says what the counts cover, and lets the ratio have no sample without a drill.
  const window = `${validationWindowDays}d`;
  new Gauge({
    name: 'berth_backup_last_success_timestamp_seconds',
    help: 'when the newest good backup (stored, not suspect) of the source ended; no sample until there is one',
    labelNames: ['source'],
    registers: [registry],
    collect() {
      this.reset();
      for (const source of b.sources()) {
        const at = b.lastGoodAt(source);
        if (at !== undefined) this.set({ source }, at / 1000);
      }
    },
  });
  new Gauge({
    name: 'berth_backup_drills',
    help: `restore drills of backup.repository's verifies that ended in the last ${validationWindowDays} days, by source and result`,
    labelNames: ['source', 'result', 'window'],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of validation().drills) {
        this.set({ source: d.source, result: 'passed', window }, d.passed);
        this.set({ source: d.source, result: 'failed', window }, d.failed);
      }
    },
  });
  new Gauge({
    name: 'berth_backup_verifies',
    help: `verifies of backup.repository (restic check and every drill) that ended in the last ${validationWindowDays} days, by result`,
    labelNames: ['result', 'window'],
    registers: [registry],
    collect() {
      const v = validation();
      this.set({ result: 'passed', window }, v.verifiesPassed);
      this.set({ result: 'failed', window }, v.verifies - v.verifiesPassed);
    },
  });
  new Gauge({
    name: 'berth_backup_drill_success_ratio',
    help: `share of the restore drills of the last ${validationWindowDays} days that passed; no sample without a drill`,
    labelNames: ['window'],
    registers: [registry],
    collect() {
      this.reset();
      const { drillsPassed, drillsFailed } = validation();
      if (drillsPassed + drillsFailed > 0) this.set({ window }, drillsPassed / (drillsPassed + drillsFailed));
    },
  });
}
