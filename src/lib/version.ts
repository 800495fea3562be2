/** berth's own version, from package.json (tagged onto backups, shown by `--version`). */
import { readFileSync } from 'node:fs';

export const berthVersion: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
