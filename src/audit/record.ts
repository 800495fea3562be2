/**
 * One audit record and its hash. The hash covers every column and the previous record's hash,
 * so changing, removing or reordering any record breaks the chain from that point on.
 */
import { createHash } from 'node:crypto';
import { BerthError } from '../lib/errors.js';

export const genesisHash = '0'.repeat(64);

export interface AuditEntry {
  readonly user: string;
  readonly action: string;
  readonly project: string;
  /** What the action was applied to: a service, a backup source, `*` for the whole project. */
  readonly target: string;
  readonly oldDigest?: string;
  readonly newDigest?: string;
  readonly outcome: string;
  readonly details?: Record<string, unknown>;
}

export interface AuditRecord extends AuditEntry {
  readonly seq: number;
  readonly ts: number;
  readonly prevHash: string;
  readonly hash: string;
}

/** The `audit` table's row, as stored. */
export interface AuditRow {
  seq: number;
  ts: number;
  user: string;
  action: string;
  project: string;
  target: string;
  old_digest: string | null;
  new_digest: string | null;
  outcome: string;
  details: string | null;
  prev_hash: string;
  hash: string;
}

/** JSON with object keys sorted at every level, so equal values always give equal text. */
export function canonicalJson(value: unknown): string {
  const plain: unknown = JSON.parse(JSON.stringify(value ?? null) ?? 'null');
  return JSON.stringify(sortKeys(plain));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, sortKeys(o[k])]));
}

/** Build the row for a new record: details in canonical form, hash over it all. */
export function sealRow(entry: AuditEntry, seq: number, ts: number, prevHash: string): AuditRow {
  let details: string | null;
  try {
    details = entry.details === undefined ? null : canonicalJson(entry.details);
  } catch (err) {
    throw new BerthError('AUDIT', `audit details for "${entry.action}" cannot be stored as JSON: ${(err as Error).message}`, undefined, { cause: err });
  }
  const row: AuditRow = {
    seq,
    ts,
    user: entry.user,
    action: entry.action,
    project: entry.project,
    target: entry.target,
    old_digest: entry.oldDigest ?? null,
    new_digest: entry.newDigest ?? null,
    outcome: entry.outcome,
    details,
    prev_hash: prevHash,
    hash: '',
  };
  return { ...row, hash: rowHash(row)! };
}

/** The hash a row should carry given its stored contents; undefined when `details` is not JSON. */
export function rowHash(r: AuditRow): string | undefined {
  let details: unknown;
  try {
    details = r.details === null ? null : JSON.parse(r.details);
  } catch {
    return undefined;
  }
  const fields = [r.seq, r.ts, r.user, r.action, r.project, r.target, r.old_digest, r.new_digest, r.outcome, details, r.prev_hash];
  return createHash('sha256').update(canonicalJson(fields)).digest('hex');
}

export function toRecord(r: AuditRow): AuditRecord {
  const record: AuditRecord = {
    seq: r.seq,
    ts: r.ts,
    user: r.user,
    action: r.action,
    project: r.project,
    target: r.target,
    outcome: r.outcome,
    prevHash: r.prev_hash,
    hash: r.hash,
    ...(r.old_digest !== null ? { oldDigest: r.old_digest } : {}),
    ...(r.new_digest !== null ? { newDigest: r.new_digest } : {}),
    ...(r.details !== null ? { details: parseDetails(r.details) } : {}),
  };
  return record;
}

function parseDetails(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    return { value: v };
  } catch {
    return { unparsable: text };
  }
}

/** A short human description of a record: `deploy web by alice at 2026-11-23T09:15:00Z`. */
export function describeRow(r: Pick<AuditRow, 'action' | 'target' | 'user' | 'ts'>): string {
  const when = Number.isFinite(r.ts) ? new Date(r.ts).toISOString().replace(/\.\d{3}Z$/, 'Z') : String(r.ts);
  return `${r.action} ${r.target} by ${r.user} at ${when}`;
}
