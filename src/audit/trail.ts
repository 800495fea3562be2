/**
 * The hash-chained audit trail. Each append reads the newest record and inserts the next one
 * inside one IMMEDIATE transaction, so concurrent berth processes queue on SQLite's write lock
 * instead of forking the chain; the head file is updated under that same lock.
 */
import { BerthError } from '../lib/errors.js';
import type { Clock } from '../lib/time.js';
import type { Db } from '../store/db.js';
import { readHead, restoreHead, writeHead, type HeadState } from './head.js';
import { genesisHash, sealRow, toRecord, type AuditEntry, type AuditRecord, type AuditRow } from './record.js';
import { compareWithCopy, copyChainProblem, verifyChain, type AuditVerifyResult, type CopyComparison } from './verify.js';

export type { AuditEntry, AuditRecord } from './record.js';
export type { AuditProblem, AuditProblemKind, AuditVerifyResult, CopyComparison } from './verify.js';
export { auditHeadPath } from './head.js';

export interface AuditListOptions {
  readonly project?: string;
  /** How many of the newest records to return (default 100). */
  readonly limit?: number;
}

export interface AuditTrail {
  append(entry: AuditEntry): AuditRecord;
  /** The newest `limit` records (of one project, if given), oldest first. */
  list(opts?: AuditListOptions): AuditRecord[];
  verify(): AuditVerifyResult;
  /** Every stored row, oldest first, as hashed (for a copy: `copy.ts`); read in one transaction. */
  rows(): AuditRow[];
  /**
   * Takes up a copy's rows as they are (same seq, times and hashes) into a trail that has none
   * yet, so the next record goes on from the copy's newest. Refused, and nothing written, when
   * this trail already has records or a head, or the copy's chain is broken.
   */
  adopt(rows: readonly AuditRow[]): AdoptOutcome;
  /** How this trail stands to a copy's rows (`audit verify --against`), read in one transaction. */
  compare(rows: readonly AuditRow[]): CopyComparison;
}

/**
 * Not taken up: this trail holds the copy already (`present`), holds other records where the copy
 * has some (`differs`), holds only the copy's first records (`held`), or the copy's chain is broken.
 */
export type AdoptOutcome = { readonly adopted: true; readonly count: number } | { readonly adopted: false; readonly why: 'present' | 'differs' | 'held' | 'broken'; readonly reason: string };

export interface AuditTrailOptions {
  readonly clock: Clock;
  /** `<stateDir>/audit.head`; without it, deleting the newest records goes unnoticed. */
  readonly headFile?: string;
}

export function createAuditTrail(db: Db, opts: AuditTrailOptions): AuditTrail {
  const q = prepare(db);
  const { headFile } = opts;
  // Set inside the transaction, so a failed commit can put the head file back.
  let headToRestore: HeadState | undefined;

  const hashAt = (seq: number) => q.hashAt.get(seq) as string | undefined;

  const appendTx = db.transaction((entry: AuditEntry): AuditRow => {
    const headBefore = readHead(headFile);
    const tail = chainTail(q.last.get() as { seq: number; hash: string } | undefined, headBefore);
    const row = sealRow(entry, tail.seq + 1, opts.clock(), tail.hash);
    q.insert.run(row);
    if (headFile) {
      writeHead(headFile, { seq: row.seq, hash: row.hash });
      headToRestore = headBefore;
    }
    return row;
  });

  const adoptTx = db.transaction((rows: readonly AuditRow[]): AdoptOutcome => {
    const held = (q.count.get() as number) ?? 0;
    const head = readHead(headFile);
    const newest = rows.at(-1);
    if (held > 0) {
      // Record for record, as far as this trail goes: the same (taken up already, or this host's own), or not.
      const { differsAt, missingFrom } = compareWithCopy(rows, hashAt);
      if (differsAt !== undefined) return { adopted: false, why: 'differs', reason: `this host's audit trail holds other records than the copy from record ${differsAt} on (another host's trail, or one of the two was changed: \`berth audit verify\` checks this host's)` };
      if (missingFrom === undefined) return { adopted: false, why: 'present', reason: `this host's audit trail already holds the copy's ${rows.length} record(s)` };
      return { adopted: false, why: 'held', reason: `this host's audit trail holds only the copy's first ${held} of ${rows.length} record(s) (were its newest removed? \`berth audit verify\` checks)` };
    }
    if (head.kind === 'ok') return { adopted: false, why: 'held', reason: `this host's audit trail is empty, but its head file says it held ${head.head.seq} record(s) (check it with \`berth audit verify\`)` };
    const broken = copyChainProblem(rows);
    if (broken) return { adopted: false, why: 'broken', reason: `the copy's chain is broken: ${broken.message}` };
    for (const row of rows) q.insert.run(row);
    if (headFile && newest) {
      writeHead(headFile, { seq: newest.seq, hash: newest.hash });
      headToRestore = head;
    }
    return { adopted: true, count: rows.length };
  });

  return {
    append(entry) {
      headToRestore = undefined;
      try {
        return toRecord(appendTx.immediate(entry));
      } catch (err) {
        if (headFile && headToRestore) restoreHead(headFile, headToRestore);
        if (err instanceof BerthError) throw err;
        throw new BerthError('AUDIT', `cannot append to the audit trail (${entry.action} ${entry.target}): ${(err as Error).message}`, auditHint, { cause: err });
      }
    },
    list(o = {}) {
      return (q.list.all({ project: o.project ?? null, limit: o.limit ?? 100 }) as AuditRow[]).map(toRecord);
    },
    verify() {
      return verifyChain(q.all.iterate() as IterableIterator<AuditRow>, readHead(headFile), (hash) => q.seqOfHash.get(hash) as number | undefined);
    },
    rows() {
      return q.all.all() as AuditRow[];
    },
    compare(rows) {
      return db.transaction(() => compareWithCopy(rows, hashAt))();
    },
    adopt(rows) {
      headToRestore = undefined;
      try {
        return adoptTx.immediate(rows);
      } catch (err) {
        if (headFile && headToRestore) restoreHead(headFile, headToRestore);
        throw new BerthError('AUDIT', `cannot take up the copy of the audit trail: ${(err as Error).message}`, auditHint, { cause: err });
      }
    },
  };
}

function prepare(db: Db) {
  return {
    last: db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1'),
    insert: db.prepare(
      `INSERT INTO audit (seq, ts, user, action, project, target, old_digest, new_digest, outcome, details, prev_hash, hash)
       VALUES (@seq, @ts, @user, @action, @project, @target, @old_digest, @new_digest, @outcome, @details, @prev_hash, @hash)`,
    ),
    list: db.prepare(
      `SELECT * FROM (SELECT * FROM audit WHERE @project IS NULL OR project = @project ORDER BY seq DESC LIMIT @limit) ORDER BY seq`,
    ),
    all: db.prepare('SELECT * FROM audit ORDER BY seq'),
    seqOfHash: db.prepare('SELECT seq FROM audit WHERE hash = ? ORDER BY seq LIMIT 1').pluck(),
    count: db.prepare('SELECT COUNT(*) FROM audit').pluck(),
    hashAt: db.prepare('SELECT hash FROM audit WHERE seq = ?').pluck(),
  };
}

const auditHint = 'the operation itself may have completed; check the state directory is writable and not full, then run `berth audit verify`';

/**
 * Where the next record links to. The head file wins when it is ahead of the table: if the
 * newest records were deleted, the next one keeps the gap and links to the true last hash,
 * so the deletion stays visible instead of being papered over.
 */
function chainTail(last: { seq: number; hash: string } | undefined, head: HeadState): { seq: number; hash: string } {
  const fromTable = last ?? { seq: 0, hash: genesisHash };
  if (head.kind === 'ok' && head.head.seq >= fromTable.seq) return head.head;
  return fromTable;
}
