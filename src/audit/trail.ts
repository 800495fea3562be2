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
import { verifyChain, type AuditVerifyResult } from './verify.js';

export type { AuditEntry, AuditRecord } from './record.js';
export type { AuditProblem, AuditProblemKind, AuditVerifyResult } from './verify.js';
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
}

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
