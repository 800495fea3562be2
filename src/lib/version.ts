/** berth's own version, from package.json (tagged onto backups, shown by `--version`). */
import { existsSync, readFileSync } from 'node:fs';

/** The nearest package.json above this module: `src/lib` when run from source, `dist/src/lib` when compiled. */
function packageJson(): URL {
  for (const rel of ['../../package.json', '../../../package.json']) {
    const url = new URL(rel, import.meta.url);
    if (existsSync(url)) return url;
  }
  throw new Error('berth: package.json not found next to the sources');
}

export const berthVersion: string = (JSON.parse(readFileSync(packageJson(), 'utf8')) as { version: string }).version;
