/**
 * Typed errors with one reporter (see STYLE.md §7). The CLI prints `message` and `hint`,
 * and exits with the code of the error's class. Switch on `code`, not on instanceof chains.
 */
export type ErrorCode =
  | 'CONFIG'
  | 'ENGINE'
  | 'LOCK_HELD'
  | 'HEALTH'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'STATE'
  | 'EDGE'
  | 'DEPLOY_FAILED'
  | 'ROLLED_BACK'
  | 'AUDIT'
  | 'BACKUP'
  | 'REPOSITORY'
  | 'VERIFY'
  | 'REPLICATION';

export const exitCodes: Record<ErrorCode, number> = {
  CONFIG: 2,
  ENGINE: 3,
  LOCK_HELD: 4,
  HEALTH: 5,
  NOT_FOUND: 6,
  CONFLICT: 7,
  STATE: 8,
  EDGE: 9,
  DEPLOY_FAILED: 10,
  ROLLED_BACK: 11,
  AUDIT: 12,
  /** A backup or restore failed, or a run was only partial. */
  BACKUP: 13,
  /** The restic repository refused: wrong password, full, locked, missing. */
  REPOSITORY: 14,
  /** `backup verify` found damage or a restore drill did not match. */
  VERIFY: 15,
  /** `replicate pull` failed (link, primary password, refused login). */
  REPLICATION: 16,
};

export class BerthError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BerthError';
  }
}

/** A position in a source file, 1-based. */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

export interface ConfigIssue {
  readonly pos?: SourcePos;
  /** Dotted key path, e.g. `services.web.healthcheck.interval`. */
  readonly path: string;
  readonly message: string;
}

/** One or more problems in the project's files; each names file:line:col and key path. */
export class ConfigError extends BerthError {
  constructor(readonly issues: readonly ConfigIssue[], hint?: string) {
    super('CONFIG', issues.map(formatIssue).join('\n'), hint);
    this.name = 'ConfigError';
  }
}

export function formatIssue(issue: ConfigIssue): string {
  const where = issue.pos ? `${issue.pos.file}:${issue.pos.line}:${issue.pos.col} ` : '';
  const path = issue.path ? `${issue.path}: ` : '';
  return `${where}${path}${issue.message}`;
}
