/**
 * Schema migrations, in order. Entry i brings the database from `user_version` i to i + 1.
 * Never edit an entry once released: add a new one instead.
 */
import { monitorSchemaSql } from './monitor-schema.js';
import { notifySchemaSql } from './notify-outbox.js';
import { replicaPruneOwedMigration, replicaRetentionMigration, replicateMigration } from './replicate-schema.js';
import { backupRepositoryMigration, backupRetryMigration, backupSchemaSql, verifyRepositoryMigration } from './backup-schema.js';
import { partlyRestoredMigration } from './partly-restored.js';
import { stoppedSchemaSql } from './stopped.js';

export const migrations: readonly string[] = [
  /* v1: deployments, live colors, deploy locks, hash-chained audit trail */ `
  CREATE TABLE deployments (
    id           TEXT PRIMARY KEY,
    project      TEXT NOT NULL,
    service      TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('up', 'deploy', 'rollback', 'recreate')),
    color        TEXT NOT NULL,
    image_ref    TEXT NOT NULL,
    image_id     TEXT NOT NULL,
    previous_id  TEXT,
    status       TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'rolled_back', 'interrupted')),
    phase        TEXT NOT NULL,
    snapshot     TEXT NOT NULL, -- JSON object
    container_id TEXT,
    user         TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    switched_at  INTEGER,
    finished_at  INTEGER,
    switch_ms    REAL,
    gap_ms       REAL,
    error        TEXT
  );
  CREATE INDEX deployments_by_service ON deployments (project, service, started_at);

  CREATE TABLE live (
    project       TEXT NOT NULL,
    service       TEXT NOT NULL,
    color         TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    container_id  TEXT NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (project, service)
  );

  CREATE TABLE locks (
    project     TEXT PRIMARY KEY,
    pid         INTEGER NOT NULL,
    host        TEXT NOT NULL,
    user        TEXT NOT NULL,
    command     TEXT NOT NULL,
    acquired_at INTEGER NOT NULL
  );

  CREATE TABLE audit (
    seq        INTEGER PRIMARY KEY,
    ts         INTEGER NOT NULL,
    user       TEXT NOT NULL,
    action     TEXT NOT NULL,
    project    TEXT NOT NULL,
    target     TEXT NOT NULL,
    old_digest TEXT,
    new_digest TEXT,
    outcome    TEXT NOT NULL,
    details    TEXT, -- canonical JSON object
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
  );
  CREATE INDEX audit_by_project ON audit (project, seq);
  `,
  /* v2: backup runs, results, verify drills (src/store/backup-schema.ts) */ backupSchemaSql,
  /* v3: notify — durable notification outbox and channel health (src/store/notify-outbox.ts) */ notifySchemaSql,
  /* v4: pull replication runs and copied snapshots (src/store/replicate-schema.ts) */ replicateMigration,
  /* v5: monitor — agent, probe states, alerts, silences, heartbeats (src/store/monitor-schema.ts) */ monitorSchemaSql,
  /* v6: services stopped on purpose by `berth down` (src/store/stopped.ts) */ stoppedSchemaSql,
  /* v7: the repository of each backup run (src/store/backup-schema.ts) */ backupRepositoryMigration,
  /* v8: copies removed by the backup host's own retention (src/store/replicate-schema.ts) */ replicaRetentionMigration,
  /* v9: a prune the backup host's retention still owes (src/store/replicate-schema.ts) */ replicaPruneOwedMigration,
  /* v10: backup sources a failed restore left partly restored (src/store/partly-restored.ts) */ partlyRestoredMigration,
  /* v11: the retry the nightly job has due for a run's failed sources (src/store/backup-schema.ts) */ backupRetryMigration,
  /* v12: the other repository a verify checked, if not backup.repository (src/store/backup-schema.ts) */ verifyRepositoryMigration,
];
