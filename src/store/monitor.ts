/**
 * The agent's SQLite state, one project at a time: the agent row (pid lock + liveness), probe
 * states, the rules engine's alerts and groups (JSON, so a restarted agent carries on where it
 * stopped), the alert log, silences and peer heartbeats. CLI commands read the same rows.
 */
import type { Db } from './db.js';

export interface AgentRow {
  readonly pid: number;
  readonly host: string;
  readonly listen: string;
  readonly startedAt: number;
  readonly heartbeatAt: number;
  readonly stoppedAt?: number;
}

export interface ProbeRow {
  readonly probeId: string;
  readonly kind: string;
  readonly service?: string;
  readonly ok: boolean;
  readonly summary: string;
  readonly value?: number;
  readonly latencyMs?: number;
  readonly atMs: number;
  readonly sinceMs: number;
}

export interface StoredAlert {
  readonly key: string;
  readonly state: 'pending' | 'firing' | 'resolved';
  readonly data: string;
  readonly updatedAt: number;
}

export interface AlertLogRow {
  readonly key: string;
  readonly state: string;
  readonly atMs: number;
  readonly summary: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface SilenceRow {
  readonly id: string;
  readonly matchers: Readonly<Record<string, string>>;
  readonly reason: string;
  readonly createdBy: string;
  readonly startsAtMs: number;
  readonly endsAtMs: number;
}

export interface HeartbeatRow {
  readonly peer: string;
  readonly lastSeenMs?: number;
  readonly lastSentMs?: number;
  readonly lastError?: string;
}

export type MonitorStore = ReturnType<typeof createMonitorStore>;

export function createMonitorStore(db: Db, project: string) {
  const p = { project };
  const q = {
    agent: db.prepare('SELECT * FROM monitor_agent WHERE project = @project'),
    putAgent: db.prepare(
      `INSERT INTO monitor_agent (project, pid, host, listen, started_at, heartbeat_at) VALUES (@project, @pid, @host, @listen, @now, @now)
       ON CONFLICT (project) DO UPDATE SET pid = @pid, host = @host, listen = @listen, started_at = @now, heartbeat_at = @now, stopped_at = NULL`,
    ),
    touchAgent: db.prepare('UPDATE monitor_agent SET heartbeat_at = @now WHERE project = @project AND pid = @pid AND host = @host'),
    stopAgent: db.prepare('UPDATE monitor_agent SET stopped_at = @now WHERE project = @project AND pid = @pid AND host = @host'),
    probe: db.prepare('SELECT ok, since_ms FROM monitor_probes WHERE project = @project AND probe_id = @probeId'),
    putProbe: db.prepare(
      `INSERT INTO monitor_probes (project, probe_id, kind, service, ok, summary, value, latency_ms, at_ms, since_ms)
       VALUES (@project, @probeId, @kind, @service, @ok, @summary, @value, @latencyMs, @atMs, @sinceMs)
       ON CONFLICT (project, probe_id) DO UPDATE SET kind = @kind, service = @service, ok = @ok, summary = @summary, value = @value,
         latency_ms = @latencyMs, at_ms = @atMs, since_ms = @sinceMs`,
    ),
    probes: db.prepare('SELECT * FROM monitor_probes WHERE project = @project ORDER BY probe_id'),
    deleteProbesExcept: db.prepare("DELETE FROM monitor_probes WHERE project = @project AND probe_id NOT IN (SELECT value FROM json_each(@ids))"),
    alerts: db.prepare('SELECT key, state, data, updated_at FROM monitor_alerts WHERE project = @project ORDER BY key'),
    putAlert: db.prepare(
      `INSERT INTO monitor_alerts (project, key, state, data, updated_at) VALUES (@project, @key, @state, @data, @now)
       ON CONFLICT (project, key) DO UPDATE SET state = @state, data = @data, updated_at = @now`,
    ),
    deleteAlert: db.prepare('DELETE FROM monitor_alerts WHERE project = @project AND key = @key'),
    groups: db.prepare('SELECT key, data FROM monitor_groups WHERE project = @project'),
    putGroup: db.prepare('INSERT INTO monitor_groups (project, key, data) VALUES (@project, @key, @data) ON CONFLICT (project, key) DO UPDATE SET data = @data'),
    deleteGroup: db.prepare('DELETE FROM monitor_groups WHERE project = @project AND key = @key'),
    log: db.prepare('INSERT INTO monitor_alert_log (project, key, state, at_ms, summary, labels) VALUES (@project, @key, @state, @atMs, @summary, @labels)'),
    recentLog: db.prepare('SELECT * FROM (SELECT * FROM monitor_alert_log WHERE project = @project ORDER BY id DESC LIMIT @limit) ORDER BY id'),
    addSilence: db.prepare(
      'INSERT INTO monitor_silences (id, project, matchers, reason, created_by, starts_at, ends_at) VALUES (@id, @project, @matchers, @reason, @createdBy, @startsAtMs, @endsAtMs)',
    ),
    silences: db.prepare('SELECT * FROM monitor_silences WHERE project = @project AND (@all = 1 OR ends_at > @now) ORDER BY starts_at'),
    expireSilence: db.prepare('UPDATE monitor_silences SET ends_at = @now WHERE project = @project AND id = @id AND ends_at > @now'),
    stopped: db.prepare('SELECT stopped_by, stopped_at, reason FROM stopped_services WHERE project = @project AND service = @service'),
    deploying: db.prepare("SELECT DISTINCT service FROM deployments WHERE project = @project AND status = 'running'").pluck(),
    heartbeat: db.prepare('SELECT * FROM monitor_heartbeats WHERE project = @project AND peer = @peer'),
    seen: db.prepare(
      `INSERT INTO monitor_heartbeats (project, peer, last_seen_ms) VALUES (@project, @peer, @at)
       ON CONFLICT (project, peer) DO UPDATE SET last_seen_ms = @at`,
    ),
    sent: db.prepare(
      `INSERT INTO monitor_heartbeats (project, peer, last_sent_ms, last_error) VALUES (@project, @peer, @at, @error)
       ON CONFLICT (project, peer) DO UPDATE SET last_sent_ms = COALESCE(@sentAt, last_sent_ms), last_error = @error`,
    ),
  };

  return {
    transaction: <T>(fn: () => T): T => db.transaction(fn).immediate(),
    agent(): AgentRow | undefined {
      const r = q.agent.get(p) as Record<string, number | string | null> | undefined;
      if (!r) return undefined;
      return { pid: Number(r.pid), host: String(r.host), listen: String(r.listen), startedAt: Number(r.started_at), heartbeatAt: Number(r.heartbeat_at), ...(r.stopped_at !== null ? { stoppedAt: Number(r.stopped_at) } : {}) };
    },
    /** Claims the agent row unless `isHeld` says the current holder still runs; returns that holder then. */
    claimAgent(me: { pid: number; host: string; listen: string; now: number }, isHeld: (row: AgentRow) => boolean): AgentRow | undefined {
      return db
        .transaction((): AgentRow | undefined => {
          const current = this.agent();
          if (current && current.stoppedAt === undefined && !(current.pid === me.pid && current.host === me.host) && isHeld(current)) return current;
          q.putAgent.run({ ...p, ...me });
          return undefined;
        })
        .immediate();
    },
    touchAgent: (me: { pid: number; host: string; now: number }) => q.touchAgent.run({ ...p, ...me }),
    stopAgent: (me: { pid: number; host: string; now: number }) => q.stopAgent.run({ ...p, ...me }),
    /** Records a probe result; `since` moves only when ok flips. */
    putProbe(row: Omit<ProbeRow, 'sinceMs'>): void {
      const prev = q.probe.get({ ...p, probeId: row.probeId }) as { ok: number; since_ms: number } | undefined;
      const sinceMs = prev && Boolean(prev.ok) === row.ok ? prev.since_ms : row.atMs;
      q.putProbe.run({ ...p, ...row, service: row.service ?? null, value: row.value ?? null, latencyMs: row.latencyMs ?? null, ok: row.ok ? 1 : 0, sinceMs });
    },
    /** Forgets probes no longer configured. */
    keepProbes: (ids: readonly string[]) => q.deleteProbesExcept.run({ ...p, ids: JSON.stringify(ids) }),
    probes(): ProbeRow[] {
      return (q.probes.all(p) as Array<Record<string, unknown>>).map((r) => ({
        probeId: String(r.probe_id),
        kind: String(r.kind),
        ...(r.service !== null ? { service: String(r.service) } : {}),
        ok: r.ok === 1,
        summary: String(r.summary),
        ...(r.value !== null ? { value: Number(r.value) } : {}),
        ...(r.latency_ms !== null ? { latencyMs: Number(r.latency_ms) } : {}),
        atMs: Number(r.at_ms),
        sinceMs: Number(r.since_ms),
      }));
    },
    alerts: (): StoredAlert[] => (q.alerts.all(p) as Array<Record<string, string | number>>).map((r) => ({ key: String(r.key), state: r.state as StoredAlert['state'], data: String(r.data), updatedAt: Number(r.updated_at) })),
    putAlert: (key: string, state: StoredAlert['state'], data: string, now: number) => q.putAlert.run({ ...p, key, state, data, now }),
    deleteAlert: (key: string) => q.deleteAlert.run({ ...p, key }),
    groups: (): Array<{ key: string; data: string }> => q.groups.all(p) as Array<{ key: string; data: string }>,
    putGroup: (key: string, data: string) => q.putGroup.run({ ...p, key, data }),
    deleteGroup: (key: string) => q.deleteGroup.run({ ...p, key }),
    logTransition: (e: AlertLogRow) => q.log.run({ ...p, ...e, labels: JSON.stringify(e.labels) }),
    alertLog(limit = 50): AlertLogRow[] {
      return (q.recentLog.all({ ...p, limit }) as Array<Record<string, string | number>>).map((r) => ({ key: String(r.key), state: String(r.state), atMs: Number(r.at_ms), summary: String(r.summary), labels: JSON.parse(String(r.labels)) as Record<string, string> }));
    },
    addSilence: (s: SilenceRow) => q.addSilence.run({ ...p, ...s, matchers: JSON.stringify(s.matchers) }),
    silences(now: number, all = false): SilenceRow[] {
      return (q.silences.all({ ...p, now, all: all ? 1 : 0 }) as Array<Record<string, string | number>>).map((r) => ({
        id: String(r.id),
        matchers: JSON.parse(String(r.matchers)) as Record<string, string>,
        reason: String(r.reason),
        createdBy: String(r.created_by),
        startsAtMs: Number(r.starts_at),
        endsAtMs: Number(r.ends_at),
      }));
    },
    expireSilence: (id: string, now: number): boolean => q.expireSilence.run({ ...p, id, now }).changes > 0,
    deployingServices: (): string[] => q.deploying.all(p) as string[],
    /** Set when `berth down` stopped the service on purpose and nothing has started it since (src/store/stopped.ts). */
    stoppedOnPurpose(service: string): { by: string; atMs: number; reason: string } | undefined {
      const r = q.stopped.get({ ...p, service }) as { stopped_by: string; stopped_at: number; reason: string } | undefined;
      return r && { by: r.stopped_by, atMs: Number(r.stopped_at), reason: r.reason };
    },
    heartbeat(peer: string): HeartbeatRow | undefined {
      const r = q.heartbeat.get({ ...p, peer }) as Record<string, string | number | null> | undefined;
      if (!r) return undefined;
      return { peer, ...(r.last_seen_ms !== null ? { lastSeenMs: Number(r.last_seen_ms) } : {}), ...(r.last_sent_ms !== null ? { lastSentMs: Number(r.last_sent_ms) } : {}), ...(r.last_error !== null ? { lastError: String(r.last_error) } : {}) };
    },
    heartbeatSeen: (peer: string, at: number) => q.seen.run({ ...p, peer, at }),
    heartbeatSent: (peer: string, at: number, error?: string) => q.sent.run({ ...p, peer, at, sentAt: error ? null : at, error: error ?? null }),
  };
}
