/**
 * A Notifier that writes each notification as one JSON log line: the agent's readable trace,
 * beside the durable outbox (src/notify) that delivers it.
 */
import type { Notifier } from '../notify/types.js';
import type { Log } from './log.js';

export function createLogNotifier(log: Log): Notifier {
  return { notify: (n) => log('notify', { notification: n }) };
}
