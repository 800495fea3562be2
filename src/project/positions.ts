/**
 * Where every key and value of the parsed config trees came from, so that a problem found
 * anywhere (zod, cross-references, the edge) can name `file:line:col`. Positions are keyed by
 * the container object, which lets merged and interpolated trees keep them without a side copy.
 */
import { type ConfigIssue, ConfigError, type SourcePos } from '../lib/errors.js';

export type ConfigPath = readonly (string | number)[];
export type PosKind = 'key' | 'value';

export interface Located {
  readonly key?: SourcePos;
  readonly value?: SourcePos;
}

export class PositionIndex {
  private readonly entries = new WeakMap<object, Map<string, Located>>();
  private readonly roots = new WeakMap<object, SourcePos>();

  set(container: object, key: string | number, loc: Located): void {
    let map = this.entries.get(container);
    if (!map) this.entries.set(container, (map = new Map()));
    map.set(String(key), loc);
  }

  get(container: object, key: string | number): Located | undefined {
    return this.entries.get(container)?.get(String(key));
  }

  copy(from: object, fromKey: string | number, to: object, toKey: string | number): void {
    const loc = this.get(from, fromKey);
    if (loc) this.set(to, toKey, loc);
  }

  setRoot(root: object, pos: SourcePos): void {
    this.roots.set(root, pos);
  }

  /** The position of `path` in `root`, or of the deepest ancestor that has one. */
  locate(root: unknown, path: ConfigPath, kind: PosKind = 'value'): SourcePos | undefined {
    let node: unknown = root;
    let best = typeof root === 'object' && root !== null ? this.roots.get(root) : undefined;
    for (const [i, seg] of path.entries()) {
      if (typeof node !== 'object' || node === null) break;
      const loc = this.get(node, seg);
      if (!loc) break;
      const last = i === path.length - 1;
      best = (last && kind === 'value' ? loc.value ?? loc.key : loc.key ?? loc.value) ?? best;
      node = (node as Record<string, unknown>)[seg];
    }
    return best;
  }
}

/** `services.web.ports[0]` */
export function formatPath(path: ConfigPath): string {
  return path.map((seg, i) => (typeof seg === 'number' ? `[${seg}]` : i === 0 ? seg : `.${seg}`)).join('');
}

/** Collects every problem of one load, so the user sees them all at once. */
export class IssueList {
  readonly items: ConfigIssue[] = [];
  private readonly muted: string[] = [];
  /** `file:line:col` of a value → what to add to any problem reported there. */
  private readonly notes = new Map<string, string>();

  constructor(readonly index: PositionIndex) {}

  /** An issue at `path` inside the tree `root`, unless that path was muted. */
  at(root: unknown, path: ConfigPath, message: string, kind: PosKind = 'value'): void {
    const formatted = formatPath(path);
    if (this.muted.some((m) => formatted === m || formatted.startsWith(`${m}.`) || formatted.startsWith(`${m}[`))) return;
    this.items.push({ pos: this.index.locate(root, path, kind), path: formatted, message });
  }

  /** Drops later issues at `path` or below, once its problem has been reported. */
  mute(path: ConfigPath): void {
    this.muted.push(formatPath(path));
  }

  add(issue: ConfigIssue): void {
    this.items.push(issue);
  }

  /** Context for any problem later reported at the value `path` (e.g. it used an unset variable). */
  note(root: unknown, path: ConfigPath, text: string): void {
    const pos = this.index.locate(root, path, 'value');
    if (pos) this.notes.set(posKey(pos), text);
  }

  /** Throws one `ConfigError` with every issue so far, files in order of appearance, then by line. */
  throwIfAny(hint?: string): void {
    if (this.items.length === 0) return;
    const fileRank = new Map<string, number>();
    for (const issue of this.items) {
      if (issue.pos && !fileRank.has(issue.pos.file)) fileRank.set(issue.pos.file, fileRank.size);
    }
    const rank = (i: ConfigIssue): number[] =>
      i.pos ? [fileRank.get(i.pos.file) ?? 0, i.pos.line, i.pos.col] : [Infinity, 0, 0];
    const sorted = [...this.items].sort((a, b) => compareTuples(rank(a), rank(b)));
    throw new ConfigError(sorted.map((i) => this.withNote(i)), hint);
  }

  private withNote(issue: ConfigIssue): ConfigIssue {
    const note = issue.pos && this.notes.get(posKey(issue.pos));
    return note ? { ...issue, message: `${issue.message} — ${note}` } : issue;
  }
}

function posKey(pos: SourcePos): string {
  return `${pos.file}:${pos.line}:${pos.col}`;
}

function compareTuples(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0 && !Number.isNaN(d)) return d;
  }
  return 0;
}
