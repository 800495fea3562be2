/**
 * The control socket's answer, one JSON object per line: progress events as the agent reports
 * them, then exactly one `outcome` or `error`. The client half lives here too, so both ends share
 * one schema; it stays free of heavy imports (the CLI loads it for `backup run --agent`).
 */
import http from 'node:http';
import path from 'node:path';
import { z } from 'zod';
import { BerthError, type ErrorCode, exitCodes } from '../lib/errors.js';
import type { Reporter } from '../lib/reporter.js';

const progress = z.object({ type: z.enum(['step', 'done', 'warn', 'info']), message: z.string() });
const outcome = z.object({ type: z.literal('outcome'), outcome: z.unknown() });
const failure = z.object({ type: z.literal('error'), error: z.object({ code: z.string(), message: z.string(), hint: z.string().optional() }) });
export const controlLineSchema = z.union([progress, outcome, failure]);
export type ControlLine = z.infer<typeof controlLineSchema>;

/** Where a project's agent listens for commands. */
export const controlSocketPath = (stateDir: string) => path.join(stateDir, 'agent.sock');

const isErrorCode = (c: string): c is ErrorCode => Object.hasOwn(exitCodes, c);

/**
 * Asks the agent behind `socketPath` for one backup run and relays its progress to `report`.
 * Resolves with the run's outcome (still to be validated by the caller); a refusal or failure
 * inside the agent rejects with the agent's own BerthError (code, message, hint).
 */
export function requestBackupRun(socketPath: string, sources: readonly string[] | undefined, report: Reporter): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (!settled) {
        settled = true;
        fn();
      }
    };
    // agent: false — a connection of its own, never a pooled one a restarted agent has closed.
    const req = http.request({ socketPath, agent: false, method: 'POST', path: '/backup/run', headers: { 'content-type': 'application/json' } }, (res) => {
      if (res.statusCode === 400 || res.statusCode === 404) {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => settle(() => reject(new BerthError('CONFLICT', `the agent refused the request (${res.statusCode}): ${text.trim()}`, 'the agent may be an older berth; restart it'))));
        return;
      }
      let buffered = '';
      res.setEncoding('utf8');
      const onLine = (raw: string) => {
        if (!raw.trim()) return;
        const parsed = controlLineSchema.safeParse(safeJson(raw));
        if (!parsed.success) return settle(() => reject(new BerthError('CONFLICT', `the agent answered something unexpected: ${raw.slice(0, 200)}`)));
        const l = parsed.data;
        if (l.type === 'outcome') settle(() => resolve(l.outcome));
        else if (l.type === 'error') settle(() => reject(new BerthError(isErrorCode(l.error.code) ? l.error.code : 'BACKUP', l.error.message, l.error.hint)));
        else report[l.type](l.message);
      };
      res.on('data', (d: string) => {
        buffered += d;
        for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
          onLine(buffered.slice(0, nl));
          buffered = buffered.slice(nl + 1);
        }
      });
      res.on('end', () => {
        onLine(buffered);
        settle(() => reject(new BerthError('BACKUP', 'the agent closed the connection before the run finished', 'see `berth backup list` for what it recorded, and the agent log for why')));
      });
      res.on('error', (err) => settle(() => reject(new BerthError('BACKUP', `lost the agent mid-run: ${err.message}`, 'the run may still finish in the agent; see `berth backup list`'))));
    });
    req.on('error', (err: NodeJS.ErrnoException) =>
      settle(() =>
        reject(
          err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
            ? new BerthError('NOT_FOUND', `no agent answers on ${socketPath}`, 'start it with `berth agent`, or run the backup here (without --agent)')
            : err.code === 'EACCES'
              ? new BerthError('CONFLICT', `${socketPath}: permission denied (the agent runs as another user)`, 'run berth as the agent\'s user')
              : new BerthError('CONFLICT', `cannot reach the agent on ${socketPath}: ${err.message}`),
        ),
      ),
    );
    req.end(JSON.stringify(sources?.length ? { sources } : {}));
  });
}

/** The value of a JSON text, or undefined when it is not JSON. */
export function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}
