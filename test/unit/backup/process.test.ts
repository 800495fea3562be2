/** Stopping a child the way restic needs it (SIGINT, then SIGKILL once the grace has passed), and a dump tool whose reader gave up. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { interrupt } from '../../../src/backup/process.js';
import { pipeFrom } from '../../../src/backup/sources/io.js';

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

/**
 * A reader that holds its first write (backpressure: the tool's output is paused), then fails it
 * as restic's stdin does (EPIPE) once restic has given up.
 */
function brokenReader(onBroken: () => void, afterMs = 100): Writable {
  const reader = new Writable({
    highWaterMark: 1,
    write(_chunk, _enc, cb) {
      setTimeout(() => {
        onBroken();
        cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      }, afterMs);
    },
  });
  // As berth does on restic's stdin: restic's exit says why.
  reader.on('error', () => undefined);
  return reader;
}

describe('a dump piped into a reader that gives up', () => {
  it('drains what the tool writes after its reader went, so it settles instead of waiting forever', async () => {
    // As a dump tool that finishes anyway (SIGTERM ignored, or already through): its last bytes
    // arrive after the failed write unpiped it. Left unread, they hold back the child's 'close'.
    const ac = new AbortController();
    const tool = { file: 'sh', args: ['-c', "trap '' TERM; printf first; sleep 0.3; printf last"] };
    const dump = pipeFrom(tool, brokenReader(() => ac.abort()), ac.signal, 'db: dump');
    const settled = await Promise.race([dump.then(() => 'resolved', (e: Error) => e.message), new Promise((r) => setTimeout(() => r('still waiting'), 5_000))]);
    assert.equal(settled, 'db: dump: stopped because the repository write failed');
  });

  it('a tool that was through before its reader went (its last output held back by the reader) settles too', async () => {
    // As a dump whose restic took the data into its pipe, then refused the repository's lock: the
    // tool has exited, its last bytes wait behind the reader's backpressure, then the reader fails.
    const ac = new AbortController();
    const tool = { file: 'sh', args: ['-c', 'for i in 1 2 3 4 5; do head -c 10000 /dev/zero; sleep 0.02; done'] };
    const dump = pipeFrom(tool, brokenReader(() => ac.abort(), 500), ac.signal, 'db: dump');
    const settled = await Promise.race([dump.then(() => 'resolved', (e: Error) => e.message), new Promise((r) => setTimeout(() => r('still waiting'), 5_000))]);
    assert.equal(settled, 'db: dump: stopped because the repository write failed');
  });

  it('a tool that ends after its reader failed, with no abort, settles too', async () => {
    const tool = { file: 'sh', args: ['-c', 'printf first; sleep 0.3; printf last'] };
    const dump = pipeFrom(tool, brokenReader(() => undefined), new AbortController().signal, 'db: dump');
    const settled = await Promise.race([dump.then(() => 'resolved', (e: Error) => e.message), new Promise((r) => setTimeout(() => r('still waiting'), 5_000))]);
    assert.equal(settled, 'resolved', 'the reader\'s own owner (restic\'s exit) says why it failed');
  });

  it('a signal aborted before the tool starts stops it at once', async () => {
    const ac = new AbortController();
    ac.abort();
    const started = Date.now();
    await assert.rejects(pipeFrom({ file: 'sh', args: ['-c', 'exec sleep 30'] }, new PassThrough(), ac.signal, 'db: dump'), /stopped because the repository write failed/);
    assert.ok(Date.now() - started < 5_000, 'the tool was stopped, not waited for');
  });
});
