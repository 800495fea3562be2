/**
 * Backup sources a restore left partly restored: it failed (or berth was killed) after it had
 * begun changing the data. Such a source is not backed up until a restore of it succeeds or
 * someone accepts its data as it is: a snapshot of partial data would become its `latest`.
 * Recorded per source, whether or not a service writes to it, and independent of whether its
 * services run (`berth up`, deploy or `berth down` change nothing here).
 */
import type { Db } from './db.js';

export interface PartlyRestored {
  readonly source: string;
  /** When the first restore that left it so began changing the data (ms). */
  readonly sinceMs: number;
  readonly by: string;
  /** The snapshot that restore was putting back (short id). */
  readonly snapshot: string;
}

/** Held marks are `stopped_services` rows with this reason prefix (`restoreHoldReason`); v10 carries them over. Fixed: a migration never changes. */
const heldPrefix = 'berth restore: the restore of ';

/** v10: sources partly restored (before, only the stop marks of their writers said so). */
export const partlyRestoredMigration = `
  CREATE TABLE partly_restored (
    project  TEXT NOT NULL,
    source   TEXT NOT NULL,
    since    INTEGER NOT NULL, -- ms
    by       TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    PRIMARY KEY (project, source)
  );
  INSERT OR IGNORE INTO partly_restored (project, source, since, by, snapshot)
    SELECT project, substr(reason, ${heldPrefix.length + 1}, instr(reason, ' failed part-way') - ${heldPrefix.length + 1}), MIN(stopped_at), stopped_by, ''
    FROM stopped_services
    WHERE reason LIKE '${heldPrefix}% failed part-way%'
    GROUP BY project, 2;
`;

export type PartlyRestoredStore = ReturnType<typeof createPartlyRestoredStore>;

export function createPartlyRestoredStore(db: Db) {
  const q = {
    // The first failure says since when the data may be partial; a later one changes nothing of that.
    mark: db.prepare('INSERT OR IGNORE INTO partly_restored (project, source, since, by, snapshot) VALUES (@project, @source, @since, @by, @snapshot)'),
    clear: db.prepare('DELETE FROM partly_restored WHERE project = @project AND source = @source'),
    get: db.prepare('SELECT source, since, by, snapshot FROM partly_restored WHERE project = @project AND source = @source'),
    list: db.prepare('SELECT source, since, by, snapshot FROM partly_restored WHERE project = @project ORDER BY source'),
  };
  const row = (r: Record<string, string | number>): PartlyRestored => ({ source: String(r.source), sinceMs: Number(r.since), by: String(r.by), snapshot: String(r.snapshot) });
  return {
    mark: (project: string, p: PartlyRestored) => void q.mark.run({ project, source: p.source, since: p.sinceMs, by: p.by, snapshot: p.snapshot }),
    /** True when the source was marked. */
    clear: (project: string, source: string): boolean => q.clear.run({ project, source }).changes > 0,
    get(project: string, source: string): PartlyRestored | undefined {
      const r = q.get.get({ project, source }) as Record<string, string | number> | undefined;
      return r && row(r);
    },
    list: (project: string): PartlyRestored[] => (q.list.all({ project }) as Array<Record<string, string | number>>).map(row),
  };
}
