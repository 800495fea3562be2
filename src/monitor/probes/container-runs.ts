/**
 * What happened to a container between two looks at it, from its run (running + StartedAt) then
 * and now — pure. After the events stream was down (a dockerd restart), a container that died and
 * was started again (restart policy, live-restore) is running again with a new StartedAt and no
 * `die` event was ever seen for it: that death must still be reported.
 */
export interface ContainerRun {
  readonly running: boolean;
  /** StartedAt in ms; 0 when it never started. */
  readonly startedAtMs: number;
}

export type RunChange =
  /** Not seen before (first listing, or a container created while the stream was down). */
  | 'new'
  /** Same run as before, still running or still stopped. */
  | 'same'
  /** Was running, is not running now (whether or not its `die` was seen). */
  | 'stopped'
  /** Runs again after a death that was seen (the `die` event arrived). */
  | 'restarted'
  /** Runs again after a death that was NOT seen: it was running, and now runs a newer run. */
  | 'restarted-unseen';

export function compareRun(before: ContainerRun | undefined, now: ContainerRun): RunChange {
  if (!before) return 'new';
  const newRun = now.startedAtMs !== before.startedAtMs;
  if (!now.running) return before.running ? 'stopped' : 'same';
  if (!newRun) return before.running ? 'same' : 'restarted'; // a `die` seen for a run that still runs: a stale replayed event
  return before.running ? 'restarted-unseen' : 'restarted';
}

/** The run of a listed/inspected container. */
export function runOf(c: { readonly running: boolean; readonly startedAt?: Date | undefined }): ContainerRun {
  return { running: c.running, startedAtMs: c.startedAt?.getTime() ?? 0 };
}
