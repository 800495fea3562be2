/**
 * The built CLI's entry (dist/bundle/berth.js, src/cli/bundle-loader.ts) and its V8 code cache:
 * written by the first run, taken by the next, replaced when V8 refuses it, never in the way when it
 * cannot be written, and never changing what the command does. Runs a copy of the bundle `npm test`
 * builds, in a folder of its own.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const builtDir = path.join(repoRoot, 'dist/bundle');
const version = (JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly cache: string[];
  readonly stderr: string;
}

describe('built CLI: V8 code cache', () => {
  let root: string;
  let entry: string;
  let cacheFile: string;
  let project: string;

  const run = (args: string[], env: Record<string, string> = { BERTH_CODE_CACHE: 'report' }): Ran => {
    const r = spawnSync(process.execPath, [entry, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
    const cache = r.stderr.split('\n').filter((l) => l.startsWith('berth code cache: ')).map((l) => l.slice('berth code cache: '.length));
    return { code: r.status, stdout: r.stdout, cache, stderr: r.stderr };
  };

  before(() => {
    if (!fs.existsSync(path.join(builtDir, 'berth.js'))) spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: repoRoot, stdio: 'inherit' });
    // <root>/package.json + <root>/dist/bundle/: the bundle finds berth's version two folders up.
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bundle-'));
    const bundle = path.join(root, 'dist/bundle');
    fs.mkdirSync(bundle, { recursive: true });
    for (const f of fs.readdirSync(builtDir)) if (!f.includes('.v8cache')) fs.copyFileSync(path.join(builtDir, f), path.join(bundle, f));
    fs.copyFileSync(path.join(repoRoot, 'package.json'), path.join(root, 'package.json'));
    fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(root, 'node_modules'));
    entry = path.join(bundle, 'berth.js');
    cacheFile = path.join(bundle, 'berth-cli.js.v8cache');
    project = path.join(root, 'project');
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'compose.yaml'), 'name: cachetest\nservices:\n  web:\n    image: berth-test/app:v1\n');
  });

  it('the first run that runs a command writes the cache at its exit, the next one takes it', () => {
    const informational = run(['--version']);
    assert.equal(informational.code, 0, informational.stderr);
    assert.equal(informational.stdout.trim(), version);
    assert.deepEqual(informational.cache, ['absent'], '--version runs no command: no cache from it');
    assert.equal(fs.existsSync(cacheFile), false);

    const first = run(['-C', project, 'config']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /project cachetest: 1 service\(s\).*valid/);
    assert.deepEqual(first.cache, ['absent', 'written']);
    assert.ok(fs.statSync(cacheFile).size > 10_000, 'a cache of the compiled bundle');

    const second = run(['-C', project, 'config']);
    assert.equal(second.stdout, first.stdout);
    assert.deepEqual(second.cache, ['accepted'], 'taken, and not written again');
  });

  it('a cache V8 refuses (damaged, or from another Node) is replaced, and the command runs as usual', () => {
    fs.writeFileSync(cacheFile, Buffer.alloc(50_000, 7));
    const damaged = run(['-C', project, 'config']);
    assert.equal(damaged.code, 0, damaged.stderr);
    assert.match(damaged.stdout, /project cachetest: .*valid/);
    assert.deepEqual(damaged.cache, ['rejected', 'written']);
    assert.deepEqual(run(['-C', project, 'config']).cache, ['accepted']);
  });

  it('a cache that cannot be written costs nothing but the cache: no leftover file, same output', () => {
    fs.rmSync(cacheFile, { force: true });
    fs.mkdirSync(cacheFile); // the rename onto it fails
    try {
      const r = run(['-C', project, 'config']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /project cachetest: .*valid/);
      assert.deepEqual(r.cache, ['absent', 'unwritable']);
      assert.deepEqual(fs.readdirSync(path.dirname(cacheFile)).filter((f) => f.endsWith('.tmp')), []);
    } finally {
      fs.rmdirSync(cacheFile);
    }
  });

  it('a user who cannot write the install runs it without a cache, and no file is left', () => {
    fs.rmSync(cacheFile, { force: true });
    for (const d of [root, path.join(root, 'dist'), path.dirname(cacheFile), project]) fs.chmodSync(d, 0o755);
    const r = spawnSync(process.execPath, [entry, '-C', project, 'config'], { encoding: 'utf8', uid: 65534, gid: 65534, env: { ...process.env, BERTH_CODE_CACHE: 'report' }, timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /project cachetest: .*valid/);
    assert.match(r.stderr, /berth code cache: absent\nberth code cache: unwritable/);
    assert.deepEqual(fs.readdirSync(path.dirname(cacheFile)).filter((f) => f.includes('v8cache')), []);
  });

  it('BERTH_CODE_CACHE=off reads and writes nothing', () => {
    const r = run(['-C', project, 'config'], { BERTH_CODE_CACHE: 'off' });
    assert.match(r.stdout, /project cachetest: .*valid/);
    assert.equal(fs.existsSync(cacheFile), false);
  });

  it('the build leaves the bundle strict and pure ASCII (read as Latin-1); a bundle with UTF-8 in it is still read as UTF-8', () => {
    const bundle = path.join(path.dirname(entry), 'berth-cli.js');
    const built = fs.readFileSync(bundle);
    // The sources are ES modules: the bundle runs them in strict mode, so the directive comes first.
    assert.equal(built.subarray(0, 14).toString(), '"use strict";\n');
    const nonAscii = built.findIndex((b) => b > 0x7f);
    assert.equal(nonAscii, -1, `non-ASCII byte at offset ${nonAscii}: ${built.subarray(Math.max(0, nonAscii - 60), nonAscii + 20).toString('utf8')}`);
    try {
      // After the first line ("use strict"), before the CLI runs (and exits, for --version).
      const firstLine = built.indexOf(0x0a) + 1;
      const probe = Buffer.from('if (process.env.BERTH_PROBE) process.stderr.write("probe: é → µs\\n");\n', 'utf8');
      fs.writeFileSync(bundle, Buffer.concat([built.subarray(0, firstLine), probe, built.subarray(firstLine)]));
      const r = run(['--version'], { BERTH_CODE_CACHE: 'off', BERTH_PROBE: '1' });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /probe: é → µs\n/);
    } finally {
      fs.writeFileSync(bundle, built);
    }
  });

  it("the command's exit code and errors come through the loader unchanged", () => {
    const bad = run(['--no-such-option']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /unknown option '--no-such-option'/);
    const missing = run(['-C', path.join(root, 'nowhere'), 'status']);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /no compose file in .*nowhere/);
  });
});
