/** Import direction is one way (STYLE.md habit 14): cli → deploy → drivers → project → lib. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');
const layer: Record<string, number> = {
  lib: 0,
  project: 1,
  engine: 2,
  store: 2,
  audit: 2,
  proxy: 3,
  notify: 3,
  deploy: 4,
  backup: 4,
  replicate: 4,
  monitor: 4,
  agent: 5,
  cli: 6,
};

function* sources(dir: string): Generator<string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* sources(p);
    else if (e.name.endsWith('.ts')) yield p;
  }
}

it('no module imports from a higher layer', () => {
  const violations: string[] = [];
  let checked = 0;
  for (const file of sources(src)) {
    const from = path.relative(src, file).split(path.sep)[0]!;
    assert.ok(from in layer, `src/${from} has no layer in test/unit/architecture.test.ts`);
    for (const m of fs.readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
      const to = path.relative(src, path.resolve(path.dirname(file), m[1]!)).split(path.sep)[0]!;
      checked++;
      if (to !== from && layer[to]! > layer[from]!) violations.push(`${path.relative(src, file)} imports ${m[1]}`);
    }
  }
  assert.ok(checked > 50, `only ${checked} imports found`);
  assert.deepEqual(violations, []);
});

it('within layer 4 only backup builds on deploy and replicate; nothing imports backup', () => {
  const allowed = new Set(['backup->deploy', 'backup->replicate']);
  const found = new Set<string>();
  for (const file of sources(src)) {
    const from = path.relative(src, file).split(path.sep)[0]!;
    if (layer[from] !== 4) continue;
    for (const m of fs.readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
      const to = path.relative(src, path.resolve(path.dirname(file), m[1]!)).split(path.sep)[0]!;
      if (to !== from && layer[to] === 4) found.add(`${from}->${to}`);
    }
  }
  assert.deepEqual([...found].filter((f) => !allowed.has(f)), []);
  assert.ok(found.has('backup->deploy'), 'the check sees imports within layer 4');
});
