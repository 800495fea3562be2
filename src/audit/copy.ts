/**
 * A copy of the audit trail outside the state database: one stored row per line (JSON), exactly
 * as hashed, so the copy can be checked and taken up again record for record. The config source
 * carries one in every snapshot; `restore --all` on a fresh host takes it up, so the new host's
 * trail goes on from the old one's instead of starting over.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { BerthError } from '../lib/errors.js';
import { makeDirs } from '../lib/files.js';
import type { AuditRow } from './record.js';
import type { AuditTrail } from './trail.js';

/** The copy's name inside the config source's tar, and where an in-place restore leaves it. */
export const auditCopyName = '.berth-audit.jsonl';

/** Where a copy that was not taken up is kept, in the state folder. */
export const keptCopyName = 'audit-snapshot.jsonl';

const rowSchema = z
  .object({
    seq: z.number().int().positive(),
    ts: z.number(),
    user: z.string(),
    action: z.string(),
    project: z.string(),
    target: z.string(),
    old_digest: z.string().nullable(),
    new_digest: z.string().nullable(),
    outcome: z.string(),
    details: z.string().nullable(),
    prev_hash: z.string().regex(/^[0-9a-f]{64}$/),
    hash: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict();

/** The rows as the copy's text: one JSON object per line, oldest first. */
export function* copyLines(rows: Iterable<AuditRow>): Generator<string> {
  for (const r of rows) {
    const row: AuditRow = { seq: r.seq, ts: r.ts, user: r.user, action: r.action, project: r.project, target: r.target, old_digest: r.old_digest, new_digest: r.new_digest, outcome: r.outcome, details: r.details, prev_hash: r.prev_hash, hash: r.hash };
    yield `${JSON.stringify(row)}\n`;
  }
}

/** A copy's text → its rows; a line that is no stored row is an error naming `file:line`. */
export function parseCopy(text: string, file: string): AuditRow[] {
  const rows: AuditRow[] = [];
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new BerthError('AUDIT', `${file}:${i + 1}: not JSON`, 'the copy of the audit trail is damaged; it is not taken up');
    }
    const row = rowSchema.safeParse(value);
    if (!row.success) {
      const issue = row.error.issues[0]!;
      throw new BerthError('AUDIT', `${file}:${i + 1}: not an audit record (${issue.path.join('.') || 'record'}: ${issue.message})`, 'the copy of the audit trail is damaged; it is not taken up');
    }
    rows.push(row.data);
  }
  return rows;
}

/**
 * A copy a config restore left at `file`: taken up into `trail` when that has no records yet
 * (a fresh host), and removed; removed too when `trail` holds it already (this host's own). Else
 * (another host's trail, a changed or cut one, a damaged copy) kept at
 * `<stateDir>/audit-snapshot.jsonl` for a person to compare, with a warning. Never fails the
 * restore: says what happened, or nothing when there is no copy.
 */
export function takeUpCopy(trail: AuditTrail, file: string, stateDir: string): { level: 'info' | 'warn'; message: string } | undefined {
  if (!fs.existsSync(file)) return undefined;
  const keep = (why: string, level: 'info' | 'warn') => {
    const kept = path.join(stateDir, keptCopyName);
    makeDirs(stateDir);
    try {
      fs.renameSync(file, kept);
    } catch {
      fs.copyFileSync(file, kept); // another file system
      fs.rmSync(file, { force: true });
    }
    return { level, message: `audit trail: the snapshot's copy was not taken up (${why}); it is kept at ${kept}` };
  };
  let rows: AuditRow[];
  try {
    rows = parseCopy(fs.readFileSync(file, 'utf8'), auditCopyName);
  } catch (err) {
    if (err instanceof BerthError) return keep(err.message, 'warn');
    throw err;
  }
  if (rows.length === 0) {
    fs.rmSync(file, { force: true });
    return undefined;
  }
  const outcome = trail.adopt(rows);
  if (!outcome.adopted && outcome.why !== 'present') return keep(outcome.reason, 'warn');
  fs.rmSync(file, { force: true });
  if (!outcome.adopted) return { level: 'info', message: `audit trail: ${outcome.reason}` };
  const last = rows.at(-1);
  return { level: 'info', message: `audit trail: ${outcome.count} record(s) taken up from the snapshot's copy, chain checked${last ? `; new records go on from record ${last.seq}` : ''}` };
}
