// `npm run build`: bundles the CLI (src/cli/main.ts) into dist/bundle/ with esbuild, so a command
// such as `berth backup run` starts in a fraction of the time tsx needs.
//
// - dist/bundle/berth-cli.js: the whole CLI, one CommonJS file. Small pure-JS packages (yaml, zod,
//   commander…) are inside: one file to read instead of dozens; so is better-sqlite3's JavaScript
//   (its native addon is loaded by path, see src/store/db.ts). Large packages stay external and are
//   required only by the code that uses them (dockerode, pg, mariadb, nodemailer, prom-client).
// - dist/bundle/berth.js: the entry (src/cli/bundle-loader.ts), which runs berth-cli.js through V8's
//   code cache (berth-cli.js.v8cache, written by the first run). CommonJS rather than ES modules for
//   that reason: Node 20 can hand V8 a code cache only for a script.
// - dist/bundle/package.json: marks the folder CommonJS (the project is "type": "module").
//
// The folder is emptied first, so no file of an earlier build (or a cache of an older bundle) is
// left to be packed. bin/berth.js runs this bundle whenever it is newer than every source file.
import fs from 'node:fs';
import { build } from 'esbuild';

const outdir = 'dist/bundle';
fs.rmSync(outdir, { recursive: true, force: true });
fs.mkdirSync(outdir, { recursive: true });
fs.writeFileSync(`${outdir}/package.json`, `${JSON.stringify({ type: 'commonjs' })}\n`);

const common = {
  outdir,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // import() of an external package becomes require(): a vm.Script has no module loader of its own.
  supported: { 'dynamic-import': false },
  logLevel: 'warning',
};

await build({
  ...common,
  entryPoints: { 'berth-cli': 'src/cli/main.ts' },
  external: ['dockerode', 'pg', 'mariadb', 'nodemailer', 'prom-client', 'tsx'],
  // The sources are ES modules and find files next to themselves through import.meta.url.
  define: { 'import.meta.url': '__berthModuleUrl' },
  banner: {
    js: [
      // The sources are ES modules, strict by definition: the directive must come before the banner's
      // own statements, or the whole bundle would run in sloppy mode (esbuild's own one comes after).
      '"use strict";',
      "const __berthModuleUrl = require('node:url').pathToFileURL(__filename).href;",
      // See builtinsWithoutCopies below.
      'const __berthBuiltin = (m) => Object.create(m, { default: { value: m, enumerable: true } });',
    ].join('\n'),
  },
  sourcemap: true,
});
builtinsWithoutCopies(`${outdir}/berth-cli.js`);
asciiOnly(`${outdir}/berth-cli.js`);

await build({ ...common, entryPoints: { berth: 'src/cli/bundle-loader.ts' } });

/**
 * esbuild hands a default import of a Node module (`import fs from 'node:fs'`) to the code as
 * `__toESM(require("node:fs"), 1)`, which defines a getter for every export of the module: 72 such
 * imports cost ~8 ms at every start. `__berthBuiltin` gives the same reads (`.default`, and each
 * export through the prototype) without copying anything. Only these call sites change, so the
 * source map is off by a few columns on those lines.
 */
function builtinsWithoutCopies(file) {
  const code = fs.readFileSync(file, 'utf8');
  let n = 0;
  const out = code.replace(/__toESM\(require\("(node:[a-z_/]+)"\), 1\)/g, (_m, name) => (n++, `__berthBuiltin(require("${name}"))`));
  if (n === 0) throw new Error(`build: no __toESM(require("node:…"), 1) in ${file}; esbuild's output changed, check builtinsWithoutCopies`);
  fs.writeFileSync(file, out);
}

/**
 * esbuild escapes non-ASCII characters in strings but leaves them in comments and regular
 * expressions (a `→` in a doc comment, `µs` in a library's regex). One such character makes Node
 * read the whole 1.2 MB file into a two-byte string: decoding UTF-8 then costs ~10 ms more at every
 * start, and V8 checks and compiles twice the bytes (~5 ms). As `\uXXXX` they mean the same in a
 * comment, a string and a regex without the `u` flag, which is where esbuild leaves them (the
 * build fails if one is anywhere else); the loader then reads the bundle as Latin-1.
 */
function asciiOnly(file) {
  const code = fs.readFileSync(file, 'utf8');
  const escape = (c) => c.split('').map((u) => `\\u${u.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
  const out = code.replace(/[^\x00-\x7f]+/g, (run, at) => {
    const line = code.slice(code.lastIndexOf('\n', at) + 1, code.indexOf('\n', at));
    if (/\/[^/]*\/[dgimsy]*u[dgimsy]*\b/.test(line) || /String\.raw|\.raw\b/.test(line)) {
      throw new Error(`build: a non-ASCII character where \\u escapes may change the meaning (a /u regex or raw template):\n${line.trim().slice(0, 200)}`);
    }
    return escape(run);
  });
  fs.writeFileSync(file, out);
}
