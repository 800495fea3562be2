/**
 * The entry of a built berth (`dist/bundle/berth.js`, CommonJS): runs the CLI bundle
 * (`berth-cli.js`) through V8's code cache.
 *
 * Node 20 compiles an ES module from source on every start (its own compile cache arrives in Node
 * 22): ~25 ms for berth's 1.2 MB, plus the ES module loader's own set-up. A CommonJS bundle run
 * through `vm.Script` can hand V8 the bytecode it made on an earlier run (`cachedData`), including
 * the functions that run compiled lazily, so a start parses almost nothing.
 *
 * The cache sits next to the bundle. It is written once, at the exit of a run that had none (or one
 * V8 refused: another Node, other V8 flags) and ran a command, to a temporary file then renamed, so
 * a concurrent start never reads half a cache. It is written only where the bundle's folder is
 * writable: whoever can write there could change the bundle itself, so the cache opens no new way in. V8 checks the cache
 * against the source and its own version and flags, and compiles from source when it does not match.
 *
 * `BERTH_CODE_CACHE=off` runs without it (nothing read or written); `BERTH_CODE_CACHE=report`
 * prints what happened to it on stderr (`berth code cache: accepted|rejected|absent|written|unwritable`).
 *
 * This file is bundled on its own (scripts/build.mjs); `__dirname` is CommonJS's, the bundle's folder.
 */
import { isAscii } from 'node:buffer';
import fs from 'node:fs';
import { createRequire, wrap } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';

type Wrapped = (exports: object, require: NodeJS.Require, module: { exports: object }, filename: string, dirname: string) => void;

const bundle = path.join(__dirname, 'berth-cli.js');
const cacheFile = `${bundle}.v8cache`;
const mode = process.env.BERTH_CODE_CACHE;
const report = (what: string): void => void (mode === 'report' && process.stderr.write(`berth code cache: ${what}\n`));

function readCache(): Buffer | undefined {
  if (mode === 'off') return undefined;
  try {
    return fs.readFileSync(cacheFile);
  } catch {
    return undefined;
  }
}

function writeCache(script: vm.Script): void {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    fs.accessSync(__dirname, fs.constants.W_OK); // before the work of making it: an install this user cannot write
    fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o644 });
    fs.renameSync(tmp, cacheFile);
    report('written');
  } catch {
    fs.rmSync(tmp, { force: true });
    report('unwritable');
  }
}

/**
 * The build makes the bundle pure ASCII (scripts/build.mjs, asciiOnly): read as Latin-1 it becomes a
 * one-byte string without UTF-8 decoding, ~15 ms sooner than a two-byte one. A bundle with other
 * bytes (a build made some other way) is still read as UTF-8.
 */
function readSource(): string {
  const bytes = fs.readFileSync(bundle);
  return isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
}

// `--version` and `--help` run no command, and a cache made by them would hold little beyond the
// top level: the first run that does something (loads a project, at least) makes it instead.
const informational = process.argv.length <= 2 || process.argv.slice(2).some((a) => ['-V', '--version', '-h', '--help', 'help'].includes(a));
const cachedData = readCache();
const script = new vm.Script(wrap(readSource()), { filename: bundle, ...(cachedData && { cachedData }) });
report(cachedData ? (script.cachedDataRejected ? 'rejected' : 'accepted') : 'absent');
// At exit, the cache also holds the functions this run compiled on the way.
if (mode !== 'off' && !informational && (!cachedData || script.cachedDataRejected)) process.once('exit', () => writeCache(script));

const cli = { exports: {} };
(script.runInThisContext() as Wrapped).call(cli.exports, cli.exports, createRequire(bundle), cli, bundle, __dirname);
