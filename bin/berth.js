#!/usr/bin/env node
// Runs the bundle `npm run build` makes (dist/bundle/berth.js) when it is newer than every source
// file, else the TypeScript sources through tsx: a fresh clone needs no build step, and an edited
// source is never shadowed by a stale bundle. BERTH_FROM_SOURCE=1 forces the sources. A packed
// install (`npm pack`: bin/ and dist/bundle/ only) has no sources and runs the bundle unchecked.
// CommonJS (bin/package.json), like the bundle: Node's ES module loader would add its own set-up
// to every start.
'use strict';
const { existsSync, readdirSync, statSync } = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const bundle = path.join(root, 'dist/bundle/berth.js');

function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function bundleIsFresh() {
  if (process.env.BERTH_FROM_SOURCE === '1') return false;
  if (!existsSync(path.join(root, 'src'))) return true;
  try {
    return statSync(bundle).mtimeMs >= Math.max(newestMtime(path.join(root, 'src')), statSync(path.join(root, 'package.json')).mtimeMs);
  } catch {
    return false;
  }
}

if (bundleIsFresh()) {
  require(bundle);
} else {
  import('tsx/esm/api')
    .then(({ register }) => {
      register();
      return import('../src/cli/main.ts');
    })
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    });
}
