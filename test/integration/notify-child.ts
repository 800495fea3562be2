/**
 * A notify worker in its own process, for the crash test: queues three notifications to the
 * webhook given on the command line, delivers them, and runs until it is killed.
 * Usage: node --import tsx test/integration/notify-child.ts STATE_DIR WEBHOOK_URL
 */
import path from 'node:path';
import { startNotifications } from '../../src/notify/service.js';
import { openStore } from '../../src/store/db.js';
import { loadNotifyConfig } from './notify-harness.js';

const [stateDir, url] = process.argv.slice(2);
if (!stateDir || !url) throw new Error('usage: notify-child.ts STATE_DIR WEBHOOK_URL');
// The project folder inside the parent's temp dir: this process is SIGKILLed and cleans up nothing.
const config = await loadNotifyConfig(`notify:\n  channels:\n    hook: { type: webhook, url: "${url}", timeout: 1m }\n`, {}, path.join(stateDir, 'project'));
const store = openStore(stateDir);
const { notifier } = startNotifications({ db: store.db, project: 'demo', config, pollMs: 50 });
for (const key of ['a', 'b', 'c']) {
  notifier.notify({
    dedupKey: key,
    status: 'firing',
    severity: 'critical',
    title: `[FIRING] ${key}`,
    summary: `${key} failed`,
    details: [],
    labels: { project: 'demo' },
    startsAtMs: 1_700_000_000_000,
  });
}
process.stdout.write('queued\n');
setInterval(() => undefined, 60_000);
