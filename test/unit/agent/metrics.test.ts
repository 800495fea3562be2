/** The agent's /metrics: backup figures (last good backup per source, validation success rate) as Prometheus reads them. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics, type BackupFigures } from '../../../src/agent/metrics.js';
import type { ValidationTally } from '../../../src/store/backups.js';

const now = 200 * 86_400_000;
const none: ValidationTally = { verifies: 0, verifiesPassed: 0, drills: [], drillsPassed: 0, drillsFailed: 0 };

async function scrape(backups: BackupFigures | undefined): Promise<string[]> {
  const m = createMetrics({ project: 'shop', version: 't', alerts: () => [], clock: () => now, ...(backups && { backups }) });
  return (await m.registry.metrics()).split('\n').filter((l) => l.startsWith('berth_backup_'));
}

describe('agent metrics of backups', () => {
  it('the newest good backup per declared source, and the drills of the window by source and result', async () => {
    const asked: number[] = [];
    const lines = await scrape({
      sources: () => ['db', 'media', 'never'],
      lastGoodAt: (s) => ({ db: now - 3_600_000, media: now - 7_200_500 })[s as 'db' | 'media'],
      validation: (since) => (asked.push(since), { verifies: 4, verifiesPassed: 3, drills: [{ source: 'db', passed: 3, failed: 1 }, { source: 'media', passed: 4, failed: 0 }], drillsPassed: 7, drillsFailed: 1 }),
    });
    assert.ok(asked.length > 0 && asked.every((s) => s === now - 90 * 86_400_000), `window of 90 days: ${asked.join(', ')}`);
    const at = (ms: number) => String(ms / 1000);
    assert.deepEqual(
      lines.filter((l) => l.startsWith('berth_backup_last_success')),
      [`berth_backup_last_success_timestamp_seconds{source="db",project="shop"} ${at(now - 3_600_000)}`, `berth_backup_last_success_timestamp_seconds{source="media",project="shop"} ${at(now - 7_200_500)}`],
      'no sample for a source never backed up',
    );
    assert.deepEqual(lines.filter((l) => l.startsWith('berth_backup_drills{')), [
      'berth_backup_drills{source="db",result="passed",window="90d",project="shop"} 3',
      'berth_backup_drills{source="db",result="failed",window="90d",project="shop"} 1',
      'berth_backup_drills{source="media",result="passed",window="90d",project="shop"} 4',
      'berth_backup_drills{source="media",result="failed",window="90d",project="shop"} 0',
    ]);
    assert.deepEqual(lines.filter((l) => l.startsWith('berth_backup_verifies{')), ['berth_backup_verifies{result="passed",window="90d",project="shop"} 3', 'berth_backup_verifies{result="failed",window="90d",project="shop"} 1']);
    assert.deepEqual(lines.filter((l) => l.startsWith('berth_backup_drill_success_ratio')), ['berth_backup_drill_success_ratio{window="90d",project="shop"} 0.875']);
  });

  it('no ratio without a drill, and no backup metrics for a project without backups', async () => {
    const lines = await scrape({ sources: () => ['db'], lastGoodAt: () => undefined, validation: () => none });
    assert.deepEqual(lines.filter((l) => !l.startsWith('#')), ['berth_backup_verifies{result="passed",window="90d",project="shop"} 0', 'berth_backup_verifies{result="failed",window="90d",project="shop"} 0']);
    assert.deepEqual(await scrape(undefined), []);
  });
});
