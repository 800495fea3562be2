/** SQL for pull replication (one migration entry): runs of `berth replicate pull` and the id map. */
export const replicateMigration = `
  CREATE TABLE replication_runs (
    id                TEXT PRIMARY KEY,
    project           TEXT NOT NULL,
    source            TEXT NOT NULL,  -- the primary's repository
    target            TEXT NOT NULL,  -- this host's repository
    status            TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    copied            INTEGER NOT NULL DEFAULT 0,
    primary_count     INTEGER,
    replica_count     INTEGER,
    primary_newest_at INTEGER,        -- ms; newest snapshot time in the primary's repository
    replica_newest_at INTEGER,        -- ms; newest of those present in this host's repository
    check_ok          INTEGER,        -- restic check after the pull: 1 passed, 0 failed, NULL not run
    error_kind        TEXT,
    error             TEXT,
    pid               INTEGER NOT NULL,
    host              TEXT NOT NULL,
    user              TEXT NOT NULL,
    started_at        INTEGER NOT NULL,
    finished_at       INTEGER
  );
  CREATE INDEX replication_runs_by_project ON replication_runs (project, started_at);

  CREATE TABLE replicated_snapshots (
    project       TEXT NOT NULL,
    original_id   TEXT NOT NULL,      -- snapshot id in the primary's repository
    copy_id       TEXT NOT NULL,      -- snapshot id in this host's repository
    snapshot_time INTEGER NOT NULL,   -- ms
    tags          TEXT NOT NULL,      -- JSON array
    run_id        TEXT,               -- the pull that copied it; NULL when found already present
    recorded_at   INTEGER NOT NULL,
    PRIMARY KEY (project, original_id)
  );
`;

/** v8: a copy this host's own retention removed is marked, so later pulls do not copy it again. */
export const replicaRetentionMigration = `
  ALTER TABLE replicated_snapshots ADD COLUMN forgotten_at INTEGER; -- ms; removed here by backup.replicate.retention
  ALTER TABLE replication_runs ADD COLUMN left_out INTEGER;         -- primary snapshots not copied: removed here before
`;

/** v9: a prune owed after this host's retention removed copies (its prune failed): the next pull runs it. */
export const replicaPruneOwedMigration = `
  CREATE TABLE replica_prune_owed (
    project TEXT PRIMARY KEY,
    since   INTEGER NOT NULL  -- ms; when the first copy not yet pruned was removed
  );
`;
