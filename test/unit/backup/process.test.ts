/** Stopping a child the way restic needs it (SIGINT, then SIGKILL once the grace has passed). */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { interrupt } from '../../../src/backup/process.js';

/** A shell that says "ready" once its traps are set, so a signal cannot come before them. */
async function shell(script: string): Promise<ChildProcess> {
  const child = spawn('sh', ['-c', `${script}; echo ready; exec sleep 30`], { stdio: ['ignore', 'pipe', 'ignore'] });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  assert.match(chunk.toString(), /ready/);
  return child;
}

describe('interrupt', () => {
  it('sends SIGINT and resolves once the child has exited', async () => {
    const child = await shell('true');
    const started = Date.now();
    await interrupt(child, 5_000);
    assert.equal(child.signalCode, 'SIGINT');
    assert.ok(Date.now() - started < 4_000, 'it did not wait for the SIGKILL fallback');
  });

  it('SIGKILLs a child that ignores SIGINT once the grace has passed', async () => {
    // An ignored signal stays ignored across exec, so `sleep` ignores SIGINT too.
    const child = await shell('trap "" INT');
    await interrupt(child, 300);
    assert.equal(child.signalCode, 'SIGKILL');
  });

  it('resolves at once for a child that has already exited', async () => {
    const child = spawn('true');
    await once(child, 'exit');
    await interrupt(child, 60_000);
    assert.equal(child.exitCode, 0);
  });
});
