/** makeDirs: `mkdir -p` for folders users name, which always ends and says which folder it could not make. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { BerthError } from '../../../src/lib/errors.js';
import { makeDirs } from '../../../src/lib/files.js';

const filesModule = new URL('../../../src/lib/files.ts', import.meta.url).href;

describe('makeDirs', () => {
  it('makes every missing folder, and accepts one that exists', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-dirs-'));
    const deep = path.join(root, 'a', 'b', 'c');
    makeDirs(deep);
    assert.ok(fs.statSync(deep).isDirectory());
    makeDirs(deep);
    makeDirs(`${root}/a/../a/b`);
    fs.rmSync(root, { recursive: true });
  });

  it('a file in the way, or the path itself a file: a CONFIG error naming it', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-dirs-'));
    const file = path.join(root, 'f');
    fs.writeFileSync(file, 'x');
    assert.throws(() => makeDirs(path.join(file, 'sub')), (e: unknown) => e instanceof BerthError && e.code === 'CONFIG' && /cannot create the folder .*f\/sub: ENOTDIR/.test(e.message));
    assert.throws(() => makeDirs(file), (e: unknown) => e instanceof BerthError && /exists and is not a folder/.test(e.message));
    fs.rmSync(root, { recursive: true });
  });

  it('ends under /proc, where Node 20\'s recursive mkdir spins forever (in a child process with a deadline)', () => {
    const script = `import { makeDirs } from '${filesModule}'; try { makeDirs('/proc/berth-no-such/x'); console.log('made'); } catch (e) { console.log(e.code, e.message); }`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.signal, null, 'it did not end within 20 s');
    assert.match(r.stdout, /^CONFIG cannot create the folder \/proc\/berth-no-such: ENOENT/);
  });
});
