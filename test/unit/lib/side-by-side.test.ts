import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { joinSharing, sideBySide } from '../../../src/lib/side-by-side.js';

describe('sideBySide', () => {
  it('runs the lanes at the same time, each in order; results lane by lane', async () => {
    const events: string[] = [];
    const out = await sideBySide([['a1', 'a2'], ['b1']], async (item, lane) => {
      events.push(`start ${item}`);
      await sleep(item === 'a1' ? 30 : 5);
      events.push(`end ${item}`);
      return `${lane}:${item}`;
    });
    assert.deepEqual(out, ['0:a1', '0:a2', '1:b1']);
    // b1 starts before a1 has ended: side by side; a2 only after a1: in order.
    assert.deepEqual(events.slice(0, 2), ['start a1', 'start b1']);
    assert.ok(events.indexOf('start a2') > events.indexOf('end a1'));
  });

  it('a failing lane stops there; the others run to their end before the failure is thrown', async () => {
    const ran: string[] = [];
    let others = 0;
    await assert.rejects(
      sideBySide([['bad', 'after-bad'], ['slow1', 'slow2']], async (item) => {
        ran.push(item);
        if (item === 'bad') throw new Error('db refused');
        await sleep(20);
        others++;
        return item;
      }),
      /db refused/,
    );
    assert.deepEqual(ran, ['bad', 'slow1', 'slow2']);
    assert.equal(others, 2, 'the other lane ended before sideBySide returned');
  });

  it('no lanes, or empty ones, give nothing', async () => {
    assert.deepEqual(await sideBySide([], async () => 1), []);
    assert.deepEqual(await sideBySide([[], []], async () => 1), []);
  });
});

describe('joinSharing', () => {
  const writers: Record<string, string[]> = { files: ['web'], media: ['worker'], db: [], pg: ['web'], logs: ['worker', 'web'] };
  const keys = (source: string) => writers[source]!;
  it('lanes that share no writer stay apart', () => {
    assert.deepEqual(joinSharing([['files', 'media'], ['db']], keys), [['files', 'media'], ['db']]);
  });
  it('lanes that share one are joined, in lane order', () => {
    assert.deepEqual(joinSharing([['files'], ['db', 'pg']], keys), [['files', 'db', 'pg']]);
    assert.deepEqual(joinSharing([['media'], ['db'], ['files'], ['logs']], keys), [['media', 'files', 'logs'], ['db']]);
  });
  it('empty lanes are dropped', () => {
    assert.deepEqual(joinSharing([[], ['db']], keys), [['db']]);
  });
});
