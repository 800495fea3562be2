/**
 * The state database: one SQLite file per state directory, in WAL mode so the agent and CLI
 * commands can read while another process writes. Schema changes go through `migrations.ts`.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import Database from 'better-sqlite3';
import { BerthError } from '../lib/errors.js';
import { makeDirs } from '../lib/files.js';
import { migrations } from './migrations.js';

export type Db = Database.Database;

export interface Store {
  readonly db: Db;
  /** Directory holding `berth.db` (and files such as `audit.head` that sit beside it). */
  readonly stateDir: string;
  close(): void;
}

export const dbFileName = 'berth.db';

/**
 * The native addon, by path: better-sqlite3 would otherwise look for it through the `bindings`
 * package, which probes a dozen paths (and the bundle carries better-sqlite3's JavaScript inside,
 * so the addon is the only file it loads).
 */
let nativeBinding: string | undefined;
function addonPath(): string {
  nativeBinding ??= path.join(path.dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')), 'build', 'Release', 'better_sqlite3.node');
  return nativeBinding;
}

export function openStore(stateDir: string): Store {
  const file = path.join(stateDir, dbFileName);
  let db: Db;
  try {
    makeDirs(stateDir);
    db = new Database(file, { nativeBinding: addonPath() });
  } catch (err) {
    throw new BerthError('STATE', `cannot open the state database ${file}: ${(err as Error).message}`, 'check that the state directory exists and is writable (set it with --state-dir or BERTH_STATE_DIR)', { cause: err });
  }
  try {
    // busy_timeout first: switching to WAL needs a lock another process may hold.
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, migrations, file);
  } catch (err) {
    db.close();
    if (err instanceof BerthError) throw err;
    throw new BerthError('STATE', `cannot prepare the state database ${file}: ${(err as Error).message}`, undefined, { cause: err });
  }
  return { db, stateDir, close: () => db.close() };
}

/**
 * Apply the migrations the database has not seen yet, each in its own IMMEDIATE transaction.
 * The version is re-read under the write lock, so two processes opening a fresh database at
 * the same time apply each step once.
 */
export function migrate(db: Db, steps: readonly string[], label = 'the state database'): number {
  const version = (): number => db.pragma('user_version', { simple: true }) as number;
  if (version() > steps.length) {
    throw new BerthError(
      'STATE',
      `${label} has schema version ${version()}, but this berth only knows up to ${steps.length}`,
      'it was written by a newer berth; upgrade berth to use it',
    );
  }
  for (let i = version(); i < steps.length; i++) {
    db.transaction(() => {
      if (version() !== i) return;
      db.exec(steps[i]!);
      db.pragma(`user_version = ${i + 1}`);
    }).immediate();
  }
  return version();
}
