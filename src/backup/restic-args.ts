/** restic argv arrays as pure data (STYLE.md habit 1); `restic.ts` runs them. Targets restic ≥ 0.14. */
import type { Retention } from '../project/backup-schema.js';
import { keepArgs } from '../project/retention-schema.js';

export interface StdinBackupArgs {
  /** Path of the single file inside the snapshot, e.g. `mariadb/app.sql`. */
  readonly filename: string;
  readonly tags: readonly string[];
  readonly host: string;
}

const tagArgs = (tags: readonly string[]): string[] => tags.flatMap((t) => ['--tag', t]);

export const resticArgs = {
  /** `cat config` succeeds only on an initialised repository whose password we have. */
  probe: (): string[] => ['cat', 'config', '--no-lock', '--quiet'],
  init: (): string[] => ['init', '--quiet'],
  backupStdin: (a: StdinBackupArgs): string[] => ['backup', '--json', '--stdin', '--stdin-filename', a.filename, '--host', a.host, ...tagArgs(a.tags)],
  /**
   * `parent`: the snapshot to compare with (else restic reads every snapshot to find the newest of
   * these paths); `exclude`: restic's own `--exclude` arguments (`sources/path-patterns.ts`).
   */
  backupPaths: (paths: readonly string[], a: Omit<StdinBackupArgs, 'filename'> & { parent?: string; exclude?: readonly string[] }): string[] => [
    'backup',
    '--json',
    '--host',
    a.host,
    ...tagArgs(a.tags),
    ...(a.parent ? ['--parent', a.parent] : []),
    ...(a.exclude ?? []),
    '--',
    ...paths,
  ],
  /** Snapshots carrying every tag in `tags` (restic ANDs tags joined with a comma). */
  snapshots: (tags: readonly string[]): string[] => ['snapshots', '--json', '--no-lock', ...(tags.length ? ['--tag', tags.join(',')] : [])],
  forget: (r: Retention, tags: readonly string[]): string[] => [
    'forget',
    '--json',
    // One group: the caller selects one source by tags; restic's own grouping would split it
    // on host names and berth versions.
    '--group-by',
    '',
    ...keepArgs(r),
    ...(tags.length ? ['--tag', tags.join(',')] : []),
  ],
  prune: (): string[] => ['prune'],
  check: (readDataSubset?: string): string[] => ['check', ...(readDataSubset ? [`--read-data-subset=${readDataSubset}`] : [])],
  /** With `include` (restic's own `--include` arguments) not quiet: restic then says how many files it restored and verified. */
  restore: (snapshot: string, target: string, include: readonly string[] = []): string[] => ['restore', ...(include.length ? include : ['--quiet']), '--verify', snapshot, '--target', target],
  dump: (snapshot: string, file: string): string[] => ['dump', '--quiet', snapshot, file],
  ls: (snapshot: string): string[] => ['ls', '--json', '--no-lock', snapshot],
  /** Without --remove-all restic removes only stale locks (dead pid on this host, or older than 30 min). */
  unlockStale: (): string[] => ['unlock'],
} as const;

/**
 * Tags berth puts on every snapshot, so one repository can hold several projects. A safety
 * snapshot (the state just before a restore) names its source as `safety-of=`, not `source=`:
 * retention then treats it as a group of its own, so it never takes the place of a regular backup
 * of the same day, and `latest` (here and on a fresh host) never picks it.
 */
export function snapshotTags(project: string, source: string, version: string, kind: 'backup' | 'safety' = 'backup'): string[] {
  return ['berth', `project=${project}`, kind === 'safety' ? `safety-of=${source}` : `source=${source}`, `berth-version=${version}`, ...(kind === 'safety' ? ['kind=safety'] : [])];
}
