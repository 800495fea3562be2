/**
 * Services stopped on purpose (`berth down`): the agent reports their failing probes as
 * "stopped on purpose" instead of alerting, until `berth up`, deploy or rollback starts them
 * again. One row per project and service; the CLI writes, the agent reads.
 */
import type { Db } from './db.js';

export interface StoppedRow {
  readonly service: string;
  readonly stoppedAtMs: number;
  readonly stoppedBy: string;
  readonly reason: string;
}

export const stoppedSchemaSql = `
  CREATE TABLE stopped_services (
    project    TEXT NOT NULL,
    service    TEXT NOT NULL,
    stopped_at INTEGER NOT NULL,
    stopped_by TEXT NOT NULL,
    reason     TEXT NOT NULL,
    PRIMARY KEY (project, service)
  );
`;

const restorePrefix = 'berth restore: the restore of ';
/** The reason of a service a failed restore of `source` holds stopped (`backup/held.ts`). */
export const restoreHoldReason = (source: string): string => `${restorePrefix}${source} failed part-way; left stopped until it is restored`;
/** The source whose failed restore a stop mark's reason names, if it is such a mark. */
export function sourceHeldBy(reason: string): string | undefined {
  return reason.startsWith(restorePrefix) ? /^(\S+) failed part-way/.exec(reason.slice(restorePrefix.length))?.[1] : undefined;
}

export type StoppedStore = ReturnType<typeof createStoppedStore>;

export function createStoppedStore(db: Db) {
  const q = {
    mark: db.prepare(
      `INSERT INTO stopped_services (project, service, stopped_at, stopped_by, reason) VALUES (@project, @service, @now, @user, @reason)
       ON CONFLICT (project, service) DO UPDATE SET stopped_at = @now, stopped_by = @user, reason = @reason`,
    ),
    clear: db.prepare('DELETE FROM stopped_services WHERE project = @project AND service = @service'),
    list: db.prepare('SELECT service, stopped_at, stopped_by, reason FROM stopped_services WHERE project = @project ORDER BY service'),
    get: db.prepare('SELECT service, stopped_at, stopped_by, reason FROM stopped_services WHERE project = @project AND service = @service'),
  };
  const row = (r: Record<string, string | number>): StoppedRow => ({ service: String(r.service), stoppedAtMs: Number(r.stopped_at), stoppedBy: String(r.stopped_by), reason: String(r.reason) });
  return {
    mark: (project: string, service: string, m: { now: number; user: string; reason: string }) => void q.mark.run({ project, service, ...m }),
    /** True when the service was marked. */
    clear: (project: string, service: string): boolean => q.clear.run({ project, service }).changes > 0,
    list: (project: string): StoppedRow[] => (q.list.all({ project }) as Array<Record<string, string | number>>).map(row),
    get(project: string, service: string): StoppedRow | undefined {
      const r = q.get.get({ project, service }) as Record<string, string | number> | undefined;
      return r && row(r);
    },
  };
}
