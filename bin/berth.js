#!/usr/bin/env node
// Runs the bundle `npm run build` makes (dist/bundle/berth.js) when it is newer than every source
// file, else the TypeScript sources through tsx: a fresh clone needs no build step, and an edited
// source is never shadowed by a stale bundle. BERTH_FROM_SOURCE=1 forces the sources. A packed
// install (`npm pack`: bin/ and dist/bundle/ only) has no sources and runs the bundle unchecked.
import { existsSync, readdirSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const bundle = new URL('dist/bundle/berth.js', root);

function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const url = new URL(e.isDirectory() ? `${e.name}/` : e.name, dir);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(url) : statSync(url).mtimeMs);
  }
  return newest;
}

function bundleIsFresh() {
  if (process.env.BERTH_FROM_SOURCE === '1') return false;
  if (!existsSync(new URL('src/', root))) return true;
  try {
    return statSync(bundle).mtimeMs >= Math.max(newestMtime(new URL('src/', root)), statSync(new URL('package.json', root)).mtimeMs);
  } catch {
    return false;
  }
}

if (bundleIsFresh()) {
  await import(bundle.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
