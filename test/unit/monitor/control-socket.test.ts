/**
 * The agent's control socket on its own (src/agent/control.ts + control-protocol.ts), with a
 * backupRun stand-in the test controls: progress relayed in order, the outcome returned, the
 * agent's BerthError carried over with code and hint, other paths 404, a path too long for a Unix
 * socket refused with a log line instead of a crash, and the file gone after close.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { startControl, type ControlRoutes } from '../../../src/agent/control.js';
import { requestBackupRun } from '../../../src/agent/control-protocol.js';
import { BerthError } from '../../../src/lib/errors.js';
import type { Reporter } from '../../../src/lib/reporter.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-ctl-'));
const logged: Array<[string, Record<string, unknown> | undefined]> = [];
const log = (msg: string, fields?: Record<string, unknown>) => void logged.push([msg, fields]);

function recorder(): Reporter & { lines: string[] } {
  const lines: string[] = [];
  return { lines, step: (m) => lines.push(`step ${m}`), done: (m) => lines.push(`done ${m}`), warn: (m) => lines.push(`warn ${m}`), info: (m) => lines.push(`info ${m}`) };
}

describe('agent control socket', () => {
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('relays progress in order and returns the outcome; a BerthError comes back with its code and hint', async () => {
    const calls: Array<readonly string[] | undefined> = [];
    const routes: ControlRoutes = {
      async backupRun(sources, report) {
        calls.push(sources);
        report.step('files: volume → repo');
        report.info('files: streamed 1 MiB');
        report.done('files: snapshot 1234abcd');
        if (sources?.includes('bad')) throw new BerthError('NOT_FOUND', 'unknown backup source "bad"', 'sources of shop: files');
        return { runId: 'r1', status: 'succeeded' };
      },
    };
    const socketPath = path.join(dir, 'agent.sock');
    const control = (await startControl(socketPath, routes, log))!;
    try {
      assert.equal(fs.statSync(socketPath).mode & 0o777, 0o600);
      const report = recorder();
      assert.deepEqual(await requestBackupRun(socketPath, ['files'], report), { runId: 'r1', status: 'succeeded' });
      assert.deepEqual(report.lines, ['step files: volume → repo', 'info files: streamed 1 MiB', 'done files: snapshot 1234abcd']);
      await assert.rejects(requestBackupRun(socketPath, ['bad'], recorder()), (err: BerthError) => err.code === 'NOT_FOUND' && err.hint === 'sources of shop: files' && /unknown backup source "bad"/.test(err.message));
      assert.deepEqual(await requestBackupRun(socketPath, undefined, recorder()), { runId: 'r1', status: 'succeeded' });
      assert.deepEqual(calls, [['files'], ['bad'], undefined]);
      const status = await new Promise<number>((resolve, reject) => http.get({ socketPath, path: '/metrics' }, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on('error', reject));
      assert.equal(status, 404);
    } finally {
      await control.close();
    }
    assert.equal(fs.existsSync(socketPath), false, 'the socket file is removed on close');
    await assert.rejects(requestBackupRun(socketPath, undefined, recorder()), (err: BerthError) => err.code === 'NOT_FOUND' && /no agent answers/.test(err.message));
  });

  it('a state dir too deep for a Unix socket path: no socket, a log line, no crash', async () => {
    const deep = path.join(dir, 'x'.repeat(120), 'agent.sock');
    const control = await startControl(deep, { backupRun: async () => ({}) }, log);
    assert.equal(control, undefined);
    const line = logged.find(([m]) => m === 'control socket unavailable');
    assert.ok(line, JSON.stringify(logged));
    assert.match(String(line[1]?.reason), /longer than 107 bytes/);
  });
});
