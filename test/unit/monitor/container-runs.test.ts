/** What happened to a container between two looks (the dockerd-restart reconcile), as a table. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareRun, runOf } from '../../../src/monitor/probes/container-runs.js';

const up = (startedAtMs: number) => ({ running: true, startedAtMs });
const down = (startedAtMs: number) => ({ running: false, startedAtMs });

describe('compareRun', () => {
  const cases: Array<[string, Parameters<typeof compareRun>[0], Parameters<typeof compareRun>[1], ReturnType<typeof compareRun>]> = [
    ['never seen before', undefined, up(1000), 'new'],
    ['never seen, stopped', undefined, down(1000), 'new'],
    ['same run still running', up(1000), up(1000), 'same'],
    ['still stopped', down(1000), down(1000), 'same'],
    ['was running, now stopped (die seen or not)', up(1000), down(1000), 'stopped'],
    ['was running, ran again and stopped again', up(1000), down(5000), 'stopped'],
    ['die seen, runs a new run', down(1000), up(5000), 'restarted'],
    ['die seen for the run that still runs (stale replay)', down(1000), up(1000), 'restarted'],
    ['was running, runs a newer run, no die seen', up(1000), up(5000), 'restarted-unseen'],
    ['never started, now running', down(0), up(5000), 'restarted'],
  ];
  for (const [what, before, now, want] of cases) {
    it(what, () => assert.equal(compareRun(before, now), want));
  }

  it('runOf takes StartedAt in ms, 0 when the container never started', () => {
    assert.deepEqual(runOf({ running: true, startedAt: new Date('2026-01-02T03:04:05.678Z') }), { running: true, startedAtMs: Date.parse('2026-01-02T03:04:05.678Z') });
    assert.deepEqual(runOf({ running: false }), { running: false, startedAtMs: 0 });
  });
});
