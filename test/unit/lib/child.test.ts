/** spawnTied: a child that berth starts dies when berth is killed, even one that never writes (no SIGPIPE to end it). */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { running } from '../../fixtures/processes.js';

const childModule = fileURLToPath(new URL('../../../src/lib/child.ts', import.meta.url));

async function grandchildAfterKillingParent(tied: boolean): Promise<number> {
  const script = tied
    ? `const { spawnTied } = await import(${JSON.stringify(childModule)}); const c = spawnTied('sleep', ['60'], { stdio: 'ignore' }); console.log(c.pid); setInterval(() => {}, 1000);`
    : `const { spawn } = await import('node:child_process'); const c = spawn('sleep', ['60'], { stdio: 'ignore' }); console.log(c.pid); setInterval(() => {}, 1000);`;
  const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = await new Promise<number>((resolve, reject) => {
    parent.stdout.setEncoding('utf8').once('data', (d: string) => resolve(Number(d.trim())));
    parent.once('exit', (code) => reject(new Error(`the parent ended first (${code})`)));
  });
  assert.ok(running(pid), 'sleep runs under the parent');
  parent.kill('SIGKILL');
  await new Promise((r) => parent.once('exit', r));
  // The tied child dies within milliseconds; the control's lives on, so a second shows it.
  const deadline = Date.now() + (tied ? 3_000 : 1_000);
  while (running(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return pid;
}

describe('spawnTied', () => {
  it('kills the child when its parent is SIGKILLed', async () => {
    const pid = await grandchildAfterKillingParent(true);
    assert.equal(running(pid), false, 'the child outlived its killed parent');
  });

  it('(control) a plain spawn leaves the child running, so the check above can fail', async () => {
    const pid = await grandchildAfterKillingParent(false);
    try {
      assert.equal(running(pid), true);
    } finally {
      process.kill(pid, 'SIGKILL');
    }
  });
});
