/** Run a command to completion, timing it and sampling its peak RSS (VmHWM of the process itself). */
import { spawn } from 'node:child_process';
import fs from 'node:fs';

export interface Measured {
  readonly code: number;
  readonly ms: number;
  readonly peakRssMb: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Peak resident memory (VmHWM) of a live process in kB; 0 once it is gone. */
export function vmHwmKb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export function measured(cmd: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let peak = 0;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const sample = setInterval(() => (peak = Math.max(peak, vmHwmKb(child.pid!))), 50);
    const kill = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30 * 60_000);
    child.on('error', reject);
    child.on('exit', () => (peak = Math.max(peak, vmHwmKb(child.pid!))));
    child.on('close', (code) => {
      clearInterval(sample);
      clearTimeout(kill);
      resolve({ code: code ?? -1, ms: performance.now() - t0, peakRssMb: peak / 1024, stdout, stderr });
    });
  });
}

/** Drop the page cache so the next read comes from disk; false when not permitted here. */
export function dropCaches(): boolean {
  try {
    fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
    return true;
  } catch {
    return false;
  }
}
