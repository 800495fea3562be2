/** Silences: hold an alert's notices back until a time, for a reason; every change is audited. */
import type { AuditTrail } from '../audit/trail.js';
import { BerthError } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import type { Project } from '../project/model.js';
import type { MonitorStore, SilenceRow } from '../store/monitor.js';

export interface SilenceDeps {
  readonly project: Project;
  readonly store: MonitorStore;
  readonly audit: AuditTrail;
  readonly clock: () => number;
  readonly user: string;
}

export interface NewSilence {
  readonly service?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly durationMs: number;
  readonly reason: string;
}

export function addSilence(d: SilenceDeps, s: NewSilence): SilenceRow {
  if (s.service !== undefined && !d.project.services[s.service]) {
    throw new BerthError('NOT_FOUND', `no service ${s.service} in project ${d.project.name}`, `services are: ${Object.keys(d.project.services).join(', ')}`);
  }
  const matchers = { ...(s.labels ?? {}), ...(s.service !== undefined ? { service: s.service } : {}) };
  if (Object.keys(matchers).length === 0) throw new BerthError('CONFIG', 'a silence needs --service or at least one --label', 'e.g. berth silence add --service web --for 1h --reason "disk swap"');
  if (!(s.durationMs > 0)) throw new BerthError('CONFIG', 'the silence duration must be positive', 'e.g. --for 30m');
  if (!s.reason.trim()) throw new BerthError('CONFIG', 'a silence needs a reason', 'add --reason "what is being done"');
  const now = d.clock();
  const row: SilenceRow = { id: newId(d.clock), matchers, reason: s.reason.trim(), createdBy: d.user, startsAtMs: now, endsAtMs: now + s.durationMs };
  d.store.transaction(() => {
    d.store.addSilence(row);
    d.audit.append({ user: d.user, action: 'silence.add', project: d.project.name, target: s.service ?? '*', outcome: 'succeeded', details: { id: row.id, matchers, reason: row.reason, endsAt: new Date(row.endsAtMs).toISOString() } });
  });
  return row;
}

export function expireSilence(d: SilenceDeps, id: string): void {
  d.store.transaction(() => {
    if (!d.store.expireSilence(id, d.clock())) throw new BerthError('NOT_FOUND', `no active silence ${id}`, 'see `berth silence list`');
    d.audit.append({ user: d.user, action: 'silence.expire', project: d.project.name, target: id, outcome: 'succeeded' });
  });
}
