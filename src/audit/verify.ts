/**
 * Walk the audit chain and explain every break in words a person can act on. Pure: the rows,
 * the head file's state and a hash lookup come in; the verdict comes out.
 */
import type { HeadState } from './head.js';
import { describeRow, genesisHash, rowHash, type AuditRow } from './record.js';

export type AuditProblemKind = 'edited' | 'deleted' | 'truncated' | 'reordered';

export interface AuditProblem {
  /** The record the problem is about (for deletions: the first missing seq). */
  readonly seq: number;
  readonly kind: AuditProblemKind;
  readonly message: string;
}

export interface AuditVerifyResult {
  /** True when no problem was found (warnings do not count). */
  readonly ok: boolean;
  /** Records in the table. */
  readonly count: number;
  readonly problems: AuditProblem[];
  /** Limits of the check, e.g. no head file to compare the newest record with. */
  readonly warnings: string[];
}

interface Link {
  readonly seq: number;
  readonly hash: string;
  readonly intact: boolean;
}

/** `seqOfHash` finds the seq of the stored record carrying a hash (to tell moves from deletions). */
export function verifyChain(rows: Iterable<AuditRow>, head: HeadState, seqOfHash: (hash: string) => number | undefined): AuditVerifyResult {
  const problems: AuditProblem[] = [];
  let prev: Link = { seq: 0, hash: genesisHash, intact: true };
  let count = 0;
  for (const row of rows) {
    count++;
    const intact = rowHash(row) === row.hash;
    if (!intact) problems.push(edited(row));
    const link = row.prev_hash === prev.hash ? undefined : linkProblem(row, prev, seqOfHash(row.prev_hash));
    if (link) problems.push(link);
    else if (row.seq !== prev.seq + 1) problems.push(deleted(prev.seq, row.seq));
    prev = { seq: row.seq, hash: row.hash, intact };
  }
  const fromHead = checkHead(head, { last: prev, count, chainBroken: problems.length > 0 }, seqOfHash);
  problems.push(...fromHead.problems);
  return { ok: problems.length === 0, count, problems, warnings: fromHead.warnings };
}

function edited(row: AuditRow): AuditProblem {
  const details = rowHash(row) === undefined ? ' (its details are no longer valid JSON)' : '';
  return {
    seq: row.seq,
    kind: 'edited',
    message: `record ${row.seq} (now reading: ${describeRow(row)}) was edited${details}: its contents no longer match its hash; which field was changed, and its original value, cannot be known`,
  };
}

/** `record 5` or `records 5–7`. */
function records(first: number, last: number): string {
  return first === last ? `record ${first}` : `records ${first}–${last}`;
}

function deleted(before: number, after: number): AuditProblem {
  const first = before + 1;
  const what = records(first, after - 1);
  const where = before === 0 ? `before seq ${after} (the start of the trail)` : `between seq ${before} and ${after}`;
  return { seq: first, kind: 'deleted', message: `${what} deleted ${where}` };
}

/** Record `row` does not point at the record stored before it: say why, once. */
function linkProblem(row: AuditRow, prev: Link, ownerSeq: number | undefined): AuditProblem | undefined {
  if (ownerSeq !== undefined && ownerSeq !== prev.seq) {
    return {
      seq: row.seq,
      kind: 'reordered',
      message: `record ${row.seq} was written right after the record now stored as seq ${ownerSeq}, not after seq ${prev.seq}: records were moved or renumbered`,
    };
  }
  if (row.seq !== prev.seq + 1) return undefined; // a gap: reported as a deletion
  if (!prev.intact || rowHash(row) !== row.hash) return undefined; // already reported as edited
  if (prev.seq === 0) {
    return { seq: row.seq, kind: 'edited', message: `record ${row.seq} does not start the chain (its previous hash should be all zeros): it was rewritten` };
  }
  return {
    seq: prev.seq,
    kind: 'edited',
    message: `record ${prev.seq} was rewritten and its hash recomputed to hide it: record ${row.seq} still carries the hash record ${prev.seq} had when it was written`,
  };
}

interface ChainEnd {
  readonly last: Link;
  readonly count: number;
  readonly chainBroken: boolean;
}

function checkHead(head: HeadState, end: ChainEnd, seqOfHash: (hash: string) => number | undefined): { problems: AuditProblem[]; warnings: string[] } {
  const { last, count, chainBroken } = end;
  switch (head.kind) {
    case 'none':
      return { problems: [], warnings: [] };
    case 'missing':
      return { problems: [], warnings: count ? [`head file ${head.file} is missing, so deletion of the newest records cannot be checked`] : [] };
    case 'unreadable':
      return { problems: [], warnings: [`head file ${head.file} cannot be read (${head.reason}), so deletion of the newest records cannot be checked`] };
    case 'ok':
      break;
  }
  const h = head.head;
  if (h.seq > last.seq) {
    const first = last.seq + 1;
    const what = records(first, h.seq);
    const end = count ? `the table ends at seq ${last.seq}` : 'the table is empty';
    return {
      problems: [{ seq: first, kind: 'truncated', message: `${what} deleted from the end of the trail: the head file says it reached seq ${h.seq}, but ${end}` }],
      warnings: [],
    };
  }
  if (h.seq < last.seq) {
    const owner = seqOfHash(h.hash);
    if (owner !== undefined && owner !== h.seq) {
      return { problems: [{ seq: owner, kind: 'reordered', message: `the newest record, seq ${h.seq} per the head file, is now stored as seq ${owner}` }], warnings: [] };
    }
    // When the chain itself is broken, records past the head are better explained by its problems.
    const warnings = chainBroken ? [] : [`${records(h.seq + 1, last.seq)} appended without updating the head file ${head.file}`];
    return { problems: [], warnings };
  }
  if (h.hash !== last.hash && last.intact) {
    return {
      problems: [{ seq: last.seq, kind: 'edited', message: `record ${last.seq} was rewritten and its hash recomputed to hide it: the head file holds a different hash for it` }],
      warnings: [],
    };
  }
  return { problems: [], warnings: [] };
}

/** How a trail stands to a copy of it: the same for the copy's first `matched` records, then one differs or the trail ends. */
export interface CopyComparison {
  readonly matched: number;
  /** The first record (seq) the trail holds otherwise than the copy. */
  readonly differsAt?: number;
  /** The first record (seq) of the copy the trail does not hold. */
  readonly missingFrom?: number;
}

/** Record for record, through `hashAt` (the trail's hash at a seq, if it has that record). */
export function compareWithCopy(rows: readonly AuditRow[], hashAt: (seq: number) => string | undefined): CopyComparison {
  let matched = 0;
  for (const r of rows) {
    const here = hashAt(r.seq);
    if (here === undefined) return { matched, missingFrom: r.seq };
    if (here !== r.hash) return { matched, differsAt: r.seq };
    matched++;
  }
  return { matched };
}

/** The first break in a copy's own chain (from the zero hash, no head file), if any. */
export function copyChainProblem(rows: readonly AuditRow[]): AuditProblem | undefined {
  const bySeq = new Map(rows.map((r) => [r.hash, r.seq]));
  return verifyChain(rows, { kind: 'none' }, (hash) => bySeq.get(hash)).problems[0];
}
