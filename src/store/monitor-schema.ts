/** SQL of the monitoring agent's tables (one migration entry): probe states, alerts, silences, heartbeats. */
export const monitorSchemaSql = `
  CREATE TABLE monitor_agent (
    project      TEXT PRIMARY KEY,
    pid          INTEGER NOT NULL,
    host         TEXT NOT NULL,
    listen       TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    stopped_at   INTEGER
  );

  CREATE TABLE monitor_probes (
    project    TEXT NOT NULL,
    probe_id   TEXT NOT NULL,
    kind       TEXT NOT NULL,
    service    TEXT,
    ok         INTEGER NOT NULL,
    summary    TEXT NOT NULL,
    value      REAL,
    latency_ms REAL,
    at_ms      INTEGER NOT NULL,
    since_ms   INTEGER NOT NULL, -- when ok last changed
    PRIMARY KEY (project, probe_id)
  );

  CREATE TABLE monitor_alerts (
    project    TEXT NOT NULL,
    key        TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
    data       TEXT NOT NULL, -- JSON AlertInstance
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (project, key)
  );

  CREATE TABLE monitor_groups (
    project TEXT NOT NULL,
    key     TEXT NOT NULL,
    data    TEXT NOT NULL, -- JSON Group
    PRIMARY KEY (project, key)
  );

  CREATE TABLE monitor_alert_log (
    id        INTEGER PRIMARY KEY,
    project   TEXT NOT NULL,
    key       TEXT NOT NULL,
    state     TEXT NOT NULL,
    at_ms     INTEGER NOT NULL,
    summary   TEXT NOT NULL,
    labels    TEXT NOT NULL -- JSON
  );
  CREATE INDEX monitor_alert_log_by_project ON monitor_alert_log (project, at_ms);

  CREATE TABLE monitor_silences (
    id         TEXT PRIMARY KEY,
    project    TEXT NOT NULL,
    matchers   TEXT NOT NULL, -- JSON label → value
    reason     TEXT NOT NULL,
    created_by TEXT NOT NULL,
    starts_at  INTEGER NOT NULL,
    ends_at    INTEGER NOT NULL
  );

  CREATE TABLE monitor_heartbeats (
    project      TEXT NOT NULL,
    peer         TEXT NOT NULL,
    last_seen_ms INTEGER,
    last_sent_ms INTEGER,
    last_error   TEXT,
    PRIMARY KEY (project, peer)
  );
`;
