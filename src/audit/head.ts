/**
 * The head file (`<stateDir>/audit.head`) remembers the newest record's seq and hash outside
 * the database. A chain check alone cannot see the newest records being deleted; the head can.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../lib/files.js';

export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
}

export type HeadState =
  | { readonly kind: 'none' }
  | { readonly kind: 'missing'; readonly file: string }
  | { readonly kind: 'unreadable'; readonly file: string; readonly reason: string }
  | { readonly kind: 'ok'; readonly file: string; readonly head: AuditHead };

export const auditHeadFileName = 'audit.head';

export function auditHeadPath(stateDir: string): string {
  return path.join(stateDir, auditHeadFileName);
}

/** Read the head file; `none` when the trail keeps no head file at all. */
export function readHead(file: string | undefined): HeadState {
  if (file === undefined) return { kind: 'none' };
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing', file };
    return { kind: 'unreadable', file, reason: (err as Error).message };
  }
  try {
    const v = JSON.parse(text) as Partial<AuditHead>;
    if (Number.isSafeInteger(v.seq) && typeof v.hash === 'string' && /^[0-9a-f]{64}$/.test(v.hash)) {
      return { kind: 'ok', file, head: { seq: v.seq!, hash: v.hash } };
    }
  } catch {
    // reported below
  }
  return { kind: 'unreadable', file, reason: 'it does not hold {"seq": <n>, "hash": "<sha256>"}' };
}

export function writeHead(file: string, head: AuditHead): void {
  writeFileAtomic(file, `${JSON.stringify({ seq: head.seq, hash: head.hash })}\n`);
}

/** Put the head file back as it was (after a failed commit), or remove it if there was none. */
export function restoreHead(file: string, before: HeadState): void {
  if (before.kind === 'ok') writeHead(file, before.head);
  else if (before.kind === 'missing') fs.rmSync(file, { force: true });
}
