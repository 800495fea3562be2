/**
 * A group notice → the actionable Notification of the notify contract: what failed, since when,
 * the last probe output, the container's last log lines and the runbook. Pure.
 */
import type { Notification, Severity } from '../../notify/types.js';
import type { AlertInstance } from './alerts.js';
import type { Notice } from './groups.js';

const severityRank: Record<Severity, number> = { critical: 3, warning: 2, info: 1 };

export function buildNotification(notice: Notice, project: string, logLines?: readonly string[]): Notification {
  const alerts = notice.status === 'firing' ? notice.firing : notice.resolved;
  const all = [...notice.firing, ...notice.resolved];
  const severity = all.reduce<Severity>((s, a) => (severityRank[a.severity] > severityRank[s] ? a.severity : s), 'info');
  const tag = notice.status === 'firing' ? '[FIRING]' : '[RESOLVED]';
  const title =
    alerts.length === 0
      ? `${tag} ${project} (${notice.groupKey}): its alerts are no longer configured`
      : alerts.length === 1
      ? `${tag} ${subject(alerts[0]!)}: ${headline(alerts[0]!)}`
      : `${tag} ${alerts.length} alerts in ${project}: ${[...new Set(alerts.map(subject))].join(', ')}`;
  const lines = notice.firing.map((a) => `${subject(a)}: ${headline(a)} — failing since ${iso(a.activeSinceMs)}; last: ${a.lastResult.summary}`);
  for (const a of notice.resolved) lines.push(`${subject(a)}: resolved at ${iso(a.resolvedAtMs ?? notice.endsAtMs ?? a.lastResult.atMs)} (was failing since ${iso(a.activeSinceMs)}; now: ${a.lastResult.summary})`);
  const details = all.flatMap((a) => [
    { label: `${a.probeId} first failure`, value: `${iso(a.firstResult.atMs)} ${a.firstResult.summary}` },
    { label: `${a.probeId} last probe`, value: `${iso(a.lastResult.atMs)} ${a.lastResult.summary}${a.lastResult.output ? `\n${a.lastResult.output}` : ''}` },
  ]);
  const runbooks = [...new Set(all.map((a) => a.runbook).filter((r): r is string => r !== undefined))];
  const labels: Record<string, string> = { ...notice.groupLabels, project, severity, alerts: String(alerts.length) };
  if (alerts.length === 1) Object.assign(labels, alerts[0]!.labels);
  return {
    dedupKey: notice.dedupKey,
    status: notice.status,
    severity,
    title,
    summary: lines.join('\n'),
    details,
    ...(logLines && logLines.length > 0 ? { logLines } : {}),
    ...(runbooks.length > 0 ? { runbook: runbooks.join('\n') } : {}),
    labels,
    startsAtMs: notice.startsAtMs,
    ...(notice.endsAtMs !== undefined ? { endsAtMs: notice.endsAtMs } : {}),
  };
}

function subject(a: AlertInstance): string {
  return a.labels.service ?? a.probeId;
}

function headline(a: AlertInstance): string {
  return a.ruleSummary ?? a.firstResult.summary;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
