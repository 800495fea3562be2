/**
 * A database source with `tables:` backs up only those tables. Its snapshot's file sits under
 * `<type>/tables/`, so a restore of it replaces those tables and leaves the database's others,
 * whatever berth.yaml says by the time it is restored.
 */
import { BerthError } from '../../lib/errors.js';
import { counted } from '../../lib/plural.js';
import type { TableFact } from './mariadb.js';
import { type BackupSource, defaultDatabasePort, tableSubsetTypes } from '../../project/backup-schema.js';
import type { RestoreOptions } from './types.js';

/** Fails naming the tables of `wanted` that `found` lacks. */
export function missingTables(wanted: readonly string[], found: readonly string[], db: string, what: string): void {
  const missing = wanted.filter((t) => !found.includes(t));
  if (missing.length === 0) return;
  // Said in the message itself: a source's failure in a run is recorded and shown by its message.
  throw new BerthError('BACKUP', `${what}: no table ${missing.join(', ')} in database ${db}; correct \`tables\` of the source in berth.yaml (a view is no table), or create the table`);
}

/** A table-subset dump is stored under this name, so a restore knows to leave the database's other tables alone. */
export const subsetFilename = (type: string, db: string, ext: string) => `${type}/tables/${db}.${ext}`;

/** Whether the snapshot being restored holds a table subset (by its file name; berth.yaml may have changed since). */
export const holdsSubset = (opts: RestoreOptions) => /^\/?[a-z]+\/tables\//.test(opts.snapshot?.paths?.[0] ?? '');

/** Where a database source's data lives: sources with the same place dump the same database (a whole one, a subset of it). */
export function databasePlace(s: BackupSource): string | undefined {
  if (!tableSubsetTypes.includes(s.type) || !s.database) return undefined;
  const server = s.type === 'postgres' ? 'postgres' : 'mariadb'; // mysql and mariadb: one kind of server
  return `${server} ${s.service ? `service ${s.service}` : (s.socket ?? `${s.host}:${s.port ?? defaultDatabasePort[server]}`)} ${s.database}`;
}

/**
 * Restores of one database (a whole one and a table subset of it, say) go oldest snapshot first,
 * so each table ends as the newest snapshot holding it has it: a whole database restored after a
 * newer subset would drop the subset's fresher tables. Other items keep their places.
 */
export function oldestFirstPerDatabase<T extends { source: BackupSource; snapshot: { time: string } }>(plan: readonly T[]): T[] {
  const places = new Map<string, number[]>();
  plan.forEach((item, i) => {
    const place = databasePlace(item.source);
    if (place) places.set(place, [...(places.get(place) ?? []), i]);
  });
  const out = [...plan];
  for (const at of places.values()) {
    const byTime = at.map((i) => plan[i]!).sort((a, b) => Date.parse(a.snapshot.time) - Date.parse(b.snapshot.time));
    at.forEach((i, k) => (out[i] = byTime[k]!));
  }
  return out;
}

/**
 * What a subset restore says: the tables berth.yaml names now (`only`), counted by `factsOf`,
 * when it names any and they can be counted; else the snapshot's, unnamed.
 */
export async function subsetRestored(db: string, only: readonly string[] | undefined, factsOf: (only: readonly string[]) => Promise<readonly TableFact[]>): Promise<string> {
  const tables = only ? await factsOf(only).catch(() => undefined) : undefined;
  const what = tables ? `${counted(tables.length, 'table')} (${tables.map((t) => t.name).join(', ')}), ${counted(tables.reduce((n, t) => n + t.rows, 0), 'row')}` : 'the tables of the snapshot';
  return `database ${db}: ${what} restored; its other tables left as they were`;
}
