/**
 * YAML text → plain JS tree, recording the position of every key and value in a
 * `PositionIndex`. Merge keys (`<<: *anchor`) are applied like Compose does; explicit keys win.
 */
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  type Pair,
} from 'yaml';
import type { ConfigIssue, SourcePos } from '../lib/errors.js';
import type { PositionIndex } from './positions.js';

export interface YamlResult {
  /** The document's value; `null` for an empty file. */
  readonly value: unknown;
  readonly issues: readonly ConfigIssue[];
}

const maxAliasDepth = 64;

/** Parses `text`; `file` is the name used in positions (e.g. `compose.yaml`). */
export function parseYaml(file: string, text: string, index: PositionIndex): YamlResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const posAt = (offset: number): SourcePos => ({ file, ...lineCounter.linePos(offset) });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => ({ pos: posAt(e.pos[0]), path: '', message: yamlMessage(e.message) }));
    return { value: undefined, issues };
  }
  const converter = new Converter(doc, index, posAt);
  const value = converter.convert(doc.contents as Node | null, 0);
  if (typeof value === 'object' && value !== null) index.setRoot(value, { file, line: 1, col: 1 });
  return { value, issues: converter.issues };
}

function yamlMessage(message: string): string {
  const first = message.split('\n')[0] ?? message;
  return `invalid YAML: ${first.replace(/ at line \d+, column \d+:?$/, '')}`;
}

class Converter {
  readonly issues: ConfigIssue[] = [];

  constructor(
    private readonly doc: Document,
    private readonly index: PositionIndex,
    private readonly posAt: (offset: number) => SourcePos,
  ) {}

  convert(node: Node | null | undefined, depth: number): unknown {
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      const target = node.resolve(this.doc);
      if (depth > maxAliasDepth || !target) return this.fail(node, 'alias cannot be resolved');
      return this.convert(target as Node, depth + 1);
    }
    if (isScalar(node)) return node.value;
    if (isSeq(node)) {
      const list: unknown[] = [];
      for (const item of node.items) {
        this.index.set(list, list.length, { value: this.pos(item as Node) });
        list.push(this.convert(item as Node, depth));
      }
      return list;
    }
    if (isMap(node)) return this.convertMap(node.items as Pair<Node, Node>[], depth);
    return this.fail(node, 'unsupported YAML node');
  }

  private convertMap(pairs: Pair<Node, Node>[], depth: number): Record<string, unknown> {
    const map: Record<string, unknown> = {};
    const merges: Pair<Node, Node>[] = [];
    for (const pair of pairs) {
      if (isMergeKey(pair.key)) {
        merges.push(pair);
        continue;
      }
      const key = this.keyOf(pair.key);
      if (key === undefined) continue;
      this.index.set(map, key, { key: this.pos(pair.key), value: this.pos(pair.value) ?? this.pos(pair.key) });
      map[key] = this.convert(pair.value, depth);
    }
    for (const pair of merges) this.applyMerge(map, pair, depth);
    return map;
  }

  /** `<<: *a` or `<<: [*a, *b]`: earlier sources win over later ones, explicit keys over all. */
  private applyMerge(map: Record<string, unknown>, pair: Pair<Node, Node>, depth: number): void {
    const sources = isSeq(pair.value) ? (pair.value.items as Node[]) : [pair.value];
    for (const source of sources) {
      const value = this.convert(source, depth + 1);
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        this.fail(source ?? pair.key, 'merge key `<<` needs a mapping or a list of mappings');
        continue;
      }
      for (const [k, v] of Object.entries(value)) {
        if (Object.prototype.hasOwnProperty.call(map, k)) continue;
        map[k] = v;
        this.index.copy(value, k, map, k);
      }
    }
  }

  private keyOf(node: Node | null): string | undefined {
    if (isScalar(node)) return String(node.value);
    if (node === null) return 'null';
    this.fail(node, 'keys must be plain strings');
    return undefined;
  }

  private pos(node: Node | null | undefined): SourcePos | undefined {
    const offset = node?.range?.[0];
    return offset === undefined ? undefined : this.posAt(offset);
  }

  private fail(node: Node | null | undefined, message: string): undefined {
    this.issues.push({ pos: this.pos(node), path: '', message });
    return undefined;
  }
}

function isMergeKey(key: Node | null): boolean {
  return isScalar(key) && key.value === '<<' && key.type === 'PLAIN';
}
