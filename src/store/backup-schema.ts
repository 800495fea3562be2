/** Schema of the backup domain (one migration entry, see contracts): runs, per-source results, verify runs and drills. */
export const backupSchemaSql = `
  CREATE TABLE backup_runs (
    id          TEXT PRIMARY KEY,
    project     TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('backup', 'safety')),
    status      TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'interrupted')),
    user        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    host        TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    error       TEXT
  );
  CREATE INDEX backup_runs_by_project ON backup_runs (project, started_at);

  CREATE TABLE backup_results (
    run_id      TEXT NOT NULL REFERENCES backup_runs (id),
    source      TEXT NOT NULL,
    type        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('succeeded', 'failed')),
    snapshot_id TEXT,
    bytes       INTEGER,
    data_added  INTEGER,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    suspect     TEXT,   -- why the dump looks wrong (empty, far smaller than the previous one)
    facts       TEXT,   -- JSON: tables with row counts and checksums, file digests, key counts
    error       TEXT,
    PRIMARY KEY (run_id, source)
  );
  CREATE INDEX backup_results_by_snapshot ON backup_results (snapshot_id);

  CREATE TABLE backup_verifies (
    id          TEXT PRIMARY KEY,
    project     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('running', 'passed', 'failed')),
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    check_ok    INTEGER,
    check_output TEXT,
    error       TEXT
  );

  CREATE TABLE backup_drills (
    verify_id   TEXT NOT NULL REFERENCES backup_verifies (id),
    source      TEXT NOT NULL,
    snapshot_id TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('passed', 'failed')),
    restore_ms  INTEGER NOT NULL,
    bytes       INTEGER,
    details     TEXT,   -- JSON: what was compared
    error       TEXT,
    PRIMARY KEY (verify_id, source)
  );
`;

/**
 * v11: when the agent's nightly job backs up a run's failed sources again (ms), while it waits to;
 * the backup probe does not alert for a failure a retry is still due for.
 */
export const backupRetryMigration = `
  ALTER TABLE backup_runs ADD COLUMN retry_at INTEGER;
`;

/**
 * v7: the repository each run wrote to, so a repository that has gone missing where snapshots
 * were stored before (an unmounted disk) is not silently created anew on the disk beneath.
 */
export const backupRepositoryMigration = `
  ALTER TABLE backup_runs ADD COLUMN repository TEXT;
  CREATE INDEX backup_runs_by_repository ON backup_runs (repository);
`;

/**
 * v12: the repository a verify checked when it was not the project's own (`backup verify
 * --repository`, the backup host's replica, say); NULL for backup.repository. The backup probe and
 * `backup status`' "last verify" read the project's own verifies only: a replica's failed drill
 * does not stand for the primary repository, nor its pass hide that the primary's was never verified.
 */
export const verifyRepositoryMigration = `
  ALTER TABLE backup_verifies ADD COLUMN other_repository TEXT;
`;
