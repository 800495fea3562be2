/** The small interface every backup source implements (one file per type, registered in `index.ts`). */
import type { Readable, Writable } from 'node:stream';
import type { AuditTrail } from '../../audit/trail.js';
import type { Engine } from '../../engine/engine.js';
import type { Reporter } from '../../lib/reporter.js';
import type { BackupSource } from '../../project/backup-schema.js';
import type { Project } from '../../project/model.js';
import type { BackupStore } from '../../store/backups.js';
import type { BackupSummary, Restic, Snapshot } from '../restic.js';

export interface SourceContext {
  readonly project: Project;
  readonly source: BackupSource;
  readonly engine: Engine;
  /** For `password_env` lookups. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly report: Reporter;
  /** berth's audit trail: the config source carries a copy of it, and a fresh host takes it up. */
  readonly audit: AuditTrail;
  /** The project's backup records: the config source carries the newest of them, and a fresh host takes them up. */
  readonly backups: BackupStore;
  /** The regular backup run a dump belongs to (none in a safety run). */
  readonly runId?: string;
}

/** What was recorded at dump time (row counts, checksums, digests); stored as JSON with the result. */
export type Facts = Readonly<Record<string, unknown>>;

export interface DrillOutcome {
  readonly ok: boolean;
  /** What was compared, e.g. `3 tables, 10000 rows, checksums equal`. */
  readonly summary: string;
  readonly mismatches: readonly string[];
}

export interface RestoreOptions {
  /** Restore to this place instead of the source itself (a directory, or a database name). */
  readonly to?: string;
  /** A volume restic read, restored `to` a directory: only these paths (from its root, as `parseRestorePath` gives them); a tar's are extracted by `restore.ts`. */
  readonly paths?: readonly string[];
  /**
   * Called right before the restore's first change to the data in place (a DROP, a FLUSHALL,
   * emptying a volume, restic beginning to write): from then on a failure leaves it partly
   * restored, and the caller keeps the writers stopped.
   */
  readonly onBegin?: () => void;
  /** The snapshot being restored (the config's own backup record is taken up with it on a fresh host). */
  readonly snapshot?: Snapshot;
}

export interface SourceDriver {
  /** The file's path inside the snapshot. */
  filename(source: BackupSource): string;
  /** Writes the dump to `out` (never ending it) and returns the facts to record. Aborted by `signal`. */
  dump(ctx: SourceContext, out: Writable, signal: AbortSignal): Promise<Facts>;
  /** Loads a dump into a throwaway place and compares it with the recorded facts. */
  drill(ctx: SourceContext, input: Readable, facts: Facts | undefined): Promise<DrillOutcome>;
  /** Puts a dump back. The caller has stopped writers and taken a safety snapshot. */
  restore(ctx: SourceContext, input: Readable, opts: RestoreOptions): Promise<string>;
  /** Services to stop while restoring (besides the source's own `writers`). */
  writers(ctx: SourceContext): readonly string[];
  readonly direct?: DirectSource;
}

/**
 * A source restic reads itself instead of a stream (a volume, through a helper container that
 * runs restic): restic's own change detection then skips unchanged files.
 */
export interface DirectSource {
  /** Whether this backup can run direct (a local repository, a helper image with restic). */
  usable(ctx: SourceContext, restic: Restic): Promise<boolean>;
  /** `previous`: the snapshot of this source's last good run, if any (a parent for restic). */
  backup(ctx: SourceContext, restic: Restic, args: { tags: readonly string[]; host: string; previous?: string }, onBytes: (n: number) => void): Promise<{ summary: BackupSummary; facts: Facts; bytes: number }>;
  /** Whether a snapshot was made by `backup` above (else it holds a stream). */
  owns(snapshot: Snapshot): boolean;
  drill(ctx: SourceContext, restic: Restic, snapshot: Snapshot, facts: Facts | undefined): Promise<DrillOutcome & { bytes: number }>;
  restore(ctx: SourceContext, restic: Restic, snapshot: Snapshot, opts: RestoreOptions): Promise<{ summary: string; bytes: number }>;
}
