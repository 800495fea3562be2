/**
 * A Notifier that writes each notification as one JSON log line. The agent uses it until the
 * durable outbox (src/notify) is wired in; it also keeps a readable trace beside the outbox.
 */
import type { Notifier } from '../notify/types.js';
import type { Log } from './log.js';

export function createLogNotifier(log: Log): Notifier {
  return { notify: (n) => log('notify', { notification: n }) };
}
