/** The notification berth sends about its own delivery path: a channel that keeps failing, and its recovery. */
import { utc } from './render.js';
import type { Notification } from './types.js';

export function channelNoticeKey(channel: string): string {
  return `berth/notify-channel/${channel}`;
}

export interface ChannelNoticeInput {
  readonly project: string;
  readonly channel: string;
  readonly channelType: string;
  readonly failingSince: number;
  readonly failures: number;
  readonly lastError: string;
  readonly pending: number;
  readonly standIns: readonly string[];
  /** Set for the recovery notice. */
  readonly recoveredAt?: number;
}

export function channelNotice(i: ChannelNoticeInput): Notification {
  const recovered = i.recoveredAt !== undefined;
  const title = recovered
    ? `[RESOLVED] ${i.project}: notification channel "${i.channel}" delivers again`
    : `[FIRING] ${i.project}: notification channel "${i.channel}" is failing`;
  const summary = recovered
    ? `Channel "${i.channel}" (${i.channelType}) failed from ${utc(i.failingSince)} to ${utc(i.recoveredAt)}; ` +
      'the notifications queued for it meanwhile are being delivered now, once each.'
    : `Notifications to channel "${i.channel}" (${i.channelType}) have failed ${i.failures} time(s) in a row since ` +
      `${utc(i.failingSince)}; ${i.pending} are queued for it and will be sent when it recovers. ` +
      `Meanwhile they go to: ${i.standIns.join(', ') || '(no fallback channel)'}.`;
  return {
    dedupKey: channelNoticeKey(i.channel),
    status: recovered ? 'resolved' : 'firing',
    severity: 'critical',
    title,
    summary,
    details: [{ label: 'Last error', value: i.lastError }],
    runbook:
      `Check that the ${i.channelType === 'smtp' ? 'SMTP relay accepts connections and the credentials' : 'webhook receiver answers 2xx'} ` +
      `of channel "${i.channel}" in berth.yaml (notify.channels.${i.channel}); queued notifications are kept in the outbox ` +
      'and go out by themselves once it works again.',
    labels: { project: i.project, alertname: 'NotifyChannelFailing', channel: i.channel, severity: 'critical' },
    startsAtMs: i.failingSince,
    ...(recovered ? { endsAtMs: i.recoveredAt } : {}),
  };
}
