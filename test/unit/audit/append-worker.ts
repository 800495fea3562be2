// Child process for trail.test.ts: append N records to the trail in <stateDir>, as fast as it can.
// Usage: node --import tsx append-worker.ts <stateDir> <count> <name>
import { auditHeadPath, createAuditTrail } from '../../../src/audit/trail.js';
import { openStore } from '../../../src/store/db.js';

const [stateDir, count, name] = process.argv.slice(2);
if (!stateDir || !count || !name) throw new Error('usage: append-worker.ts <stateDir> <count> <name>');
const store = openStore(stateDir);
const trail = createAuditTrail(store.db, { clock: () => Date.now(), headFile: auditHeadPath(stateDir) });
for (let i = 0; i < Number(count); i++) {
  trail.append({ user: name, action: 'deploy', project: 'shop', target: 'web', outcome: 'succeeded', details: { worker: name, i } });
}
store.close();
