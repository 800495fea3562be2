/** The agent's scheduler (croner): generic jobs run on their cron, never overlap, stop aborts them. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createScheduler } from '../../../src/agent/scheduler.js';
import { BerthError } from '../../../src/lib/errors.js';

it('runs a job every second without overlap and aborts it on stop', async () => {
  const s = createScheduler();
  let runs = 0;
  let concurrent = 0;
  let maxConcurrent = 0;
  let aborted = false;
  s.add({
    name: 'tick',
    cron: '* * * * * *', // every second (croner's optional seconds field)
    async run(signal) {
      runs++;
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      // Longer than the period: croner's protect mode must skip the overlapping runs.
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1500);
        signal.addEventListener('abort', () => {
          aborted = true;
          clearTimeout(t);
          resolve();
        });
      });
      concurrent--;
    },
  });
  await new Promise((r) => setTimeout(r, 3200));
  assert.equal(s.status()[0]?.name, 'tick');
  await s.stop();
  assert.ok(runs >= 1 && runs <= 2, `runs: ${runs}`);
  assert.equal(maxConcurrent, 1);
  assert.ok(aborted || s.status()[0]?.running === false);
});

it('refuses an invalid cron expression and a duplicate name', () => {
  const s = createScheduler();
  assert.throws(() => s.add({ name: 'bad', cron: '61 * * * *', run: async () => {} }), (e: BerthError) => e.code === 'CONFIG' && /invalid cron expression "61 \* \* \* \*"/.test(e.message));
  s.add({ name: 'nightly', cron: '0 2 * * *', run: async () => {} });
  assert.throws(() => s.add({ name: 'nightly', cron: '0 3 * * *', run: async () => {} }), /two scheduled jobs are called nightly/);
  assert.ok((s.status()[0]?.nextRunMs ?? 0) > Date.now());
  void s.stop();
});
