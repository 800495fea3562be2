import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Delivery } from '../../../src/notify/channel.js';
import { renderEmail, renderJson, renderSlack } from '../../../src/notify/render.js';
import { routeNotification } from '../../../src/notify/route.js';
import type { Notification } from '../../../src/notify/types.js';
import type { NotifyRoute } from '../../../src/project/notify-schema.js';

const n: Notification = {
  dedupKey: 'demo/web/down',
  status: 'firing',
  severity: 'critical',
  title: '[FIRING] web: container died',
  summary: 'web exited with code 137 (OOM) at 12:00:00 UTC',
  details: [{ label: 'Last probe output', value: 'GET /health → <refused> & gone' }],
  logLines: ['FATAL: out of memory'],
  runbook: 'https://runbooks.example.com/oom',
  labels: { project: 'demo', service: 'web', severity: 'critical' },
  startsAtMs: Date.UTC(2026, 10, 23, 12, 0, 0),
};
const d: Delivery = { notification: n, project: 'demo', id: 'abc123', repeat: 0 };

describe('routing', () => {
  const routes: NotifyRoute[] = [
    { match: { severity: ['critical'] }, channels: ['pager', 'mail'], fallback: ['mail'] },
    { match: { labels: { service: 'web' } }, channels: ['chat'], fallback: [] },
    { match: { severity: ['info'] }, channels: ['log'], fallback: [] },
  ];
  it('every matching route contributes its channels; a channel is never its own fallback', () => {
    assert.deepEqual(routeNotification(routes, n), [
      { channel: 'pager', fallback: ['mail'] },
      { channel: 'mail', fallback: [] },
      { channel: 'chat', fallback: [] },
    ]);
  });
  it('labels must all be equal; severity any of', () => {
    assert.deepEqual(routeNotification(routes, { ...n, severity: 'info', labels: { service: 'db' } }), [{ channel: 'log', fallback: [] }]);
    assert.deepEqual(routeNotification(routes, { ...n, severity: 'warning', labels: {} }), []);
  });
});

describe('rendering', () => {
  it('e-mail: what failed, since when, probe output, logs, runbook; HTML escaped', () => {
    const m = renderEmail(d);
    assert.equal(m.subject, '[FIRING] web: container died (demo)');
    assert.equal(
      m.text,
      [
        '[FIRING] web: container died',
        '',
        'web exited with code 137 (OOM) at 12:00:00 UTC',
        '',
        'Status: FIRING',
        'Severity: critical',
        'Project: demo',
        'Since: 2026-11-23 12:00:00 UTC',
        'Labels: service=web',
        '',
        'Details',
        '  Last probe output:',
        '    GET /health → <refused> & gone',
        '',
        'Recent log lines',
        '  FATAL: out of memory',
        '',
        'Runbook',
        '  https://runbooks.example.com/oom',
        '',
        '-- ',
        'Sent by berth, notification abc123.',
        '',
      ].join('\n'),
    );
    assert.ok(m.html.includes('GET /health → &lt;refused&gt; &amp; gone'));
    assert.ok(m.html.includes('<a href="https://runbooks.example.com/oom">'));
  });

  it('resolved, repeated and fallback deliveries say so', () => {
    const r = renderEmail({ ...d, notification: { ...n, status: 'resolved', endsAtMs: n.startsAtMs + 125_000 }, repeat: 2, fallbackFor: 'chat' });
    assert.match(r.text, /Resolved at: 2026-11-23 12:02:05 UTC \(lasted 2m5s\)/);
    assert.match(r.text, /repeat #2: still firing; delivered here because channel "chat" keeps failing/);
  });

  it('Slack: text plus blocks, mrkdwn escaped, runbook as a link', () => {
    const s = renderSlack(d);
    assert.equal(s.text, ':red_circle: *[FIRING] web: container died*\nweb exited with code 137 (OOM) at 12:00:00 UTC');
    assert.deepEqual(s.blocks[0], { type: 'header', text: { type: 'plain_text', text: '[FIRING] web: container died', emoji: true } });
    const json = JSON.stringify(s.blocks);
    assert.ok(json.includes('GET /health → &lt;refused&gt; &amp; gone'));
    assert.ok(json.includes('<https://runbooks.example.com/oom|https://runbooks.example.com/oom>'));
  });

  it('generic JSON: the notification plus project', () => {
    assert.deepEqual(renderJson(d), { ...n, project: 'demo', id: 'abc123', repeat: 0 });
  });
});
