/**
 * Merges compose files given with `-f a.yaml -f b.yaml`: later files override earlier ones.
 * Deliberately simpler than Compose's merge rules: mappings merge key by key, lists concatenate,
 * except commands and health tests which replace; `environment`/`labels` given once as a list and
 * once as a mapping are merged as mappings. Positions follow the values to the new tree.
 */
import type { PositionIndex } from './positions.js';

const replacedLists = new Set(['command', 'entrypoint', 'test']);
const keyValueSections = new Set(['environment', 'labels']);

type Tree = Record<string, unknown>;

export function mergeTrees(base: unknown, override: unknown, index: PositionIndex): unknown {
  if (!isMap(base) || !isMap(override)) return override;
  return mergeMaps(base, override, index);
}

function mergeMaps(base: Tree, override: Tree, index: PositionIndex): Tree {
  const out: Tree = {};
  for (const [key, value] of Object.entries(base)) {
    out[key] = value;
    index.copy(base, key, out, key);
  }
  for (const [key, value] of Object.entries(override)) {
    out[key] = key in out ? mergeValue(key, out[key], value, index) : value;
    index.copy(override, key, out, key);
  }
  return out;
}

function mergeValue(key: string, a: unknown, b: unknown, index: PositionIndex): unknown {
  if (keyValueSections.has(key) && Array.isArray(a) !== Array.isArray(b)) {
    return mergeMaps(asMap(a, index), asMap(b, index), index);
  }
  if (isMap(a) && isMap(b)) return mergeMaps(a, b, index);
  if (Array.isArray(a) && Array.isArray(b) && !replacedLists.has(key)) {
    const out = [...a, ...b];
    a.forEach((_, i) => index.copy(a, i, out, i));
    b.forEach((_, i) => index.copy(b, i, out, a.length + i));
    return out;
  }
  return b;
}

/** `["A=1", "B"]` → `{A: "1", B: null}`, keeping each item's position. */
function asMap(value: unknown, index: PositionIndex): Tree {
  if (isMap(value)) return value;
  const out: Tree = {};
  if (!Array.isArray(value)) return out;
  value.forEach((item, i) => {
    const text = String(item);
    const eq = text.indexOf('=');
    const key = eq < 0 ? text : text.slice(0, eq);
    out[key] = eq < 0 ? null : text.slice(eq + 1);
    const loc = index.get(value, i);
    if (loc) index.set(out, key, { key: loc.value, value: loc.value });
  });
  return out;
}

function isMap(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
