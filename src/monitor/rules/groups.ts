/**
 * Grouping and de-duplication, pure: firing alerts that share the `group_by` label values make
 * one incident. The first notice waits `group_wait` so a host failure that takes ten services
 * down reads as one message; later changes go out at most every `group_interval`; a still-firing
 * incident is repeated every `repeat_interval`; when every alert of it has cleared, one resolved
 * notice closes it. Silenced alerts are held back but keep the incident open.
 */
import type { AlertInstance, Alerts } from './alerts.js';

export interface Group {
  readonly key: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly startedAtMs: number;
  readonly lastSentAtMs: number;
  readonly seq: number;
  /** What the recipients were told about each alert of the incident. */
  readonly notified: Readonly<Record<string, 'firing' | 'resolved'>>;
}

export type Groups = Readonly<Record<string, Group>>;

export interface GroupConfig {
  readonly project: string;
  readonly groupBy: readonly string[];
  readonly groupWaitMs: number;
  readonly groupIntervalMs: number;
  readonly repeatIntervalMs: number;
}

export interface Notice {
  readonly groupKey: string;
  readonly dedupKey: string;
  readonly status: 'firing' | 'resolved';
  /** 0 for the first notice of an incident; updates and repeats count up. */
  readonly seq: number;
  readonly groupLabels: Readonly<Record<string, string>>;
  readonly firing: readonly AlertInstance[];
  readonly resolved: readonly AlertInstance[];
  readonly startsAtMs: number;
  readonly endsAtMs?: number;
}

export function groupKeyOf(labels: Readonly<Record<string, string>>, groupBy: readonly string[]): { key: string; labels: Record<string, string> } {
  const picked: Record<string, string> = {};
  for (const l of groupBy) picked[l] = labels[l] ?? '';
  return { key: groupBy.map((l) => `${l}=${picked[l]}`).join(','), labels: picked };
}

export function flushGroups(
  alerts: Alerts,
  groups: Groups,
  cfg: GroupConfig,
  now: number,
  silenced: (a: AlertInstance) => boolean,
): { alerts: Alerts; groups: Groups; notices: Notice[] } {
  const nextAlerts: Record<string, AlertInstance> = { ...alerts };
  const nextGroups: Record<string, Group> = { ...groups };
  const notices: Notice[] = [];
  const members = new Map<string, AlertInstance[]>();
  for (const a of Object.values(alerts)) {
    if (a.state === 'pending') continue;
    const { key } = groupKeyOf(a.labels, cfg.groupBy);
    members.set(key, [...(members.get(key) ?? []), a]);
  }
  for (const key of Object.keys(groups)) if (!members.has(key)) members.set(key, []);
  const drop = (list: readonly AlertInstance[]) => list.forEach((a) => delete nextAlerts[a.key]);

  for (const [key, list] of members) {
    const group = groups[key];
    const firing = list.filter((a) => a.state === 'firing');
    const active = firing.filter((a) => !silenced(a));
    const resolved = list.filter((a) => a.state === 'resolved');
    if (!group) {
      // Never announced: resolved alerts of it need no notice.
      drop(resolved);
      if (active.length === 0) continue;
      const start = Math.min(...active.map((a) => a.firedAtMs ?? a.activeSinceMs));
      if (now < start + cfg.groupWaitMs) continue;
      const labels = groupKeyOf(active[0]!.labels, cfg.groupBy).labels;
      const dedupKey = `${cfg.project}/${key}/${start}`;
      nextGroups[key] = { key, labels, startedAtMs: start, lastSentAtMs: now, seq: 0, notified: Object.fromEntries(active.map((a) => [a.key, 'firing'])) };
      notices.push({ groupKey: key, dedupKey, status: 'firing', seq: 0, groupLabels: labels, firing: active, resolved: [], startsAtMs: start });
      continue;
    }
    const base = `${cfg.project}/${key}/${group.startedAtMs}`;
    if (firing.length === 0) {
      const told = resolved.filter((a) => group.notified[a.key] === 'firing');
      drop(resolved);
      delete nextGroups[key];
      notices.push({ groupKey: key, dedupKey: base, status: 'resolved', seq: group.seq + 1, groupLabels: group.labels, firing: [], resolved: told, startsAtMs: group.startedAtMs, endsAtMs: now });
      continue;
    }
    const fresh = active.filter((a) => group.notified[a.key] !== 'firing');
    const cleared = resolved.filter((a) => group.notified[a.key] === 'firing');
    const changed = fresh.length > 0 || cleared.length > 0;
    const due = changed ? now >= group.lastSentAtMs + cfg.groupIntervalMs : active.length > 0 && now >= group.lastSentAtMs + cfg.repeatIntervalMs;
    if (!due) continue;
    const seq = group.seq + 1;
    const notified = { ...group.notified };
    for (const a of active) notified[a.key] = 'firing';
    for (const a of resolved) delete notified[a.key];
    drop(resolved);
    nextGroups[key] = { ...group, lastSentAtMs: now, seq, notified };
    notices.push({ groupKey: key, dedupKey: `${base}#${seq}`, status: 'firing', seq, groupLabels: group.labels, firing: active, resolved: cleared, startsAtMs: group.startedAtMs });
  }
  return { alerts: nextAlerts, groups: nextGroups, notices };
}
