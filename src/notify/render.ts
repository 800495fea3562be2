/**
 * Pure renderers: one notification → an actionable e-mail (plain text + HTML), a Slack message
 * and the generic JSON body. What failed, since when, the last probe output, recent log lines
 * and the runbook, in that order, so the reader can act without opening anything else.
 */
import type { Delivery } from './channel.js';

export interface RenderedEmail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

export interface SlackBody {
  readonly text: string;
  readonly blocks: ReadonlyArray<Record<string, unknown>>;
}

/** Generic webhook body: the notification plus where and which delivery it is. */
export function renderJson(d: Delivery): Record<string, unknown> {
  return {
    ...d.notification,
    project: d.project,
    id: d.id,
    repeat: d.repeat,
    ...(d.fallbackFor ? { fallbackFor: d.fallbackFor } : {}),
  };
}

export function renderEmail(d: Delivery): RenderedEmail {
  const n = d.notification;
  const subject = oneLine(`${n.title}${n.title.includes(d.project) ? '' : ` (${d.project})`}`);
  const lines: string[] = [n.title, '', n.summary, '', ...facts(d).map(([k, v]) => `${k}: ${v}`)];
  if (n.details.length > 0) {
    lines.push('', 'Details');
    for (const { label, value } of n.details) lines.push(`  ${label}:`, ...indent(value, '    '));
  }
  if (n.logLines && n.logLines.length > 0) lines.push('', 'Recent log lines', ...n.logLines.map((l) => `  ${l}`));
  if (n.runbook) lines.push('', 'Runbook', ...indent(n.runbook, '  '));
  lines.push('', '-- ', footer(d));
  return { subject, text: `${lines.join('\n')}\n`, html: renderHtml(d) };
}

function renderHtml(d: Delivery): string {
  const n = d.notification;
  const color = n.status === 'resolved' ? '#2e7d32' : n.severity === 'critical' ? '#c62828' : n.severity === 'warning' ? '#ef6c00' : '#1565c0';
  const parts = [
    `<h2 style="color:${color};margin:0 0 8px">${esc(n.title)}</h2>`,
    `<p>${esc(n.summary)}</p>`,
    `<table>${facts(d)
      .map(([k, v]) => `<tr><th align="left" style="padding-right:12px">${esc(k)}</th><td>${esc(v)}</td></tr>`)
      .join('')}</table>`,
  ];
  if (n.details.length > 0) {
    parts.push('<h3>Details</h3>');
    for (const { label, value } of n.details) parts.push(`<p><b>${esc(label)}</b></p><pre>${esc(value)}</pre>`);
  }
  if (n.logLines && n.logLines.length > 0) parts.push('<h3>Recent log lines</h3>', `<pre>${esc(n.logLines.join('\n'))}</pre>`);
  if (n.runbook) {
    const body = isUrl(n.runbook) ? `<a href="${esc(n.runbook)}">${esc(n.runbook)}</a>` : `<pre>${esc(n.runbook)}</pre>`;
    parts.push('<h3>Runbook</h3>', body);
  }
  parts.push(`<hr><p style="color:#777;font-size:small">${esc(footer(d))}</p>`);
  return `<!doctype html><html><body style="font-family:sans-serif">${parts.join('\n')}</body></html>\n`;
}

export function renderSlack(d: Delivery): SlackBody {
  const n = d.notification;
  const emoji = n.status === 'resolved' ? ':white_check_mark:' : n.severity === 'critical' ? ':red_circle:' : n.severity === 'warning' ? ':warning:' : ':information_source:';
  const text = `${emoji} *${mrkdwn(n.title)}*\n${mrkdwn(n.summary)}`;
  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(oneLine(n.title), 150), emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: clip(mrkdwn(n.summary), 3000) } },
    { type: 'section', fields: facts(d).slice(0, 10).map(([k, v]) => ({ type: 'mrkdwn', text: clip(`*${k}*\n${mrkdwn(v)}`, 2000) })) },
  ];
  for (const { label, value } of n.details) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(`*${mrkdwn(label)}*\n${codeBlock(value)}`, 3000) } });
  }
  if (n.logLines && n.logLines.length > 0) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(`*Recent log lines*\n${codeBlock(n.logLines.join('\n'))}`, 3000) } });
  }
  if (n.runbook) {
    const body = isUrl(n.runbook) ? `<${n.runbook}|${mrkdwn(n.runbook)}>` : mrkdwn(n.runbook);
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(`*Runbook*\n${body}`, 3000) } });
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: clip(mrkdwn(footer(d)), 3000) }] });
  // Slack allows at most 50 blocks in a message.
  return { text, blocks: blocks.slice(0, 50) };
}

/** The facts every rendering shows, in order. */
function facts(d: Delivery): Array<[string, string]> {
  const n = d.notification;
  const out: Array<[string, string]> = [
    ['Status', n.status === 'firing' ? 'FIRING' : 'RESOLVED'],
    ['Severity', n.severity],
    ['Project', d.project],
    ['Since', utc(n.startsAtMs)],
  ];
  if (n.endsAtMs !== undefined) out.push(['Resolved at', `${utc(n.endsAtMs)} (lasted ${span(n.endsAtMs - n.startsAtMs)})`]);
  const labels = Object.entries(n.labels).filter(([k]) => k !== 'project' && k !== 'severity');
  if (labels.length > 0) out.push(['Labels', labels.map(([k, v]) => `${k}=${v}`).join(', ')]);
  return out;
}

function footer(d: Delivery): string {
  const notes = [`Sent by berth, notification ${d.id}`];
  if (d.repeat > 0) notes.push(`repeat #${d.repeat}: still firing`);
  if (d.fallbackFor) notes.push(`delivered here because channel "${d.fallbackFor}" keeps failing`);
  return `${notes.join('; ')}.`;
}

export function utc(ms: number): string {
  return `${new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '')} UTC`;
}

function span(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

function indent(value: string, prefix: string): string[] {
  return value.split('\n').map((l) => `${prefix}${l}`);
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function isUrl(s: string): boolean {
  return /^https?:\/\/\S+$/.test(s.trim());
}

const htmlEscapes: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => htmlEscapes[c] ?? c);
}

/** Slack mrkdwn needs only &, < and > escaped. */
function mrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function codeBlock(s: string): string {
  return `\`\`\`${mrkdwn(s).replace(/```/g, "'''")}\`\`\``;
}
