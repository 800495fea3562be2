/**
 * Remembers how a deployment's new container last died, from the engine's events stream.
 * Inspect alone cannot tell: once a restart policy has started the container again, Docker
 * reports exit code 0 for the running process, so a crash loop would look like "exited with code 0".
 */
import type { Engine } from '../engine/engine.js';

export interface ExitRecord {
  readonly exitCode: number;
  readonly oom: boolean;
  readonly timeMs: number;
}

export interface ExitWatch {
  last(): ExitRecord | undefined;
  close(): void;
}

const none: ExitWatch = { last: () => undefined, close: () => undefined };

/** Watch the containers labelled with this deployment id. Never fails a deploy: without events, inspect is used. */
export async function watchDeploymentExits(engine: Engine, deploymentId: string): Promise<ExitWatch> {
  let last: ExitRecord | undefined;
  let oomSeen = false;
  try {
    const sub = await engine.subscribeEvents({ labels: { 'berth.deployment': deploymentId }, actions: ['die', 'oom'] }, (e) => {
      if (e.action === 'oom') oomSeen = true;
      else if (e.action === 'die') {
        last = { exitCode: e.exitCode ?? -1, oom: oomSeen, timeMs: e.timeMs };
        oomSeen = false;
      }
    });
    return { last: () => last, close: () => sub.close() };
  } catch {
    return none;
  }
}
