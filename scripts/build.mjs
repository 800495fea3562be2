// `npm run build`: bundles the CLI (src/cli/main.ts) into dist/bundle/ with esbuild, so `berth backup
// run` starts in a fraction of the time tsx needs. Small pure-JS packages (yaml, zod, commander…)
// are bundled: one file to read instead of dozens; so is better-sqlite3's JavaScript (its native
// addon is loaded by path, see src/store/db.ts). Large packages stay external and are loaded only
// by the commands that use them (the agent's chunk: prom-client, nodemailer).
// bin/berth.js runs this bundle whenever it is newer than every source file.
import { build } from 'esbuild';

await build({
  entryPoints: { berth: 'src/cli/main.ts' },
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['dockerode', 'pg', 'mariadb', 'nodemailer', 'prom-client', 'tsx'],
  // Bundled CommonJS packages call require() for Node's own modules.
  banner: { js: "import { createRequire as __berthRequire } from 'node:module'; const require = __berthRequire(import.meta.url);" },
  sourcemap: true,
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
});
