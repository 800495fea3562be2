/**
 * The backup sources of a project, from three places merged in one fixed order:
 *   1. `backup.sources` (in file order) — or, when absent, the defaults detected from the images
 *      and named volumes (`detectSources`), minus what per-service settings claim or exclude;
 *   2. `services.<name>.backup` (in berth.yaml order): `true` (the detected default of that service),
 *      `false` (nothing of it is detected), or a mapping (its database and/or named volumes).
 * A source name given twice is a problem naming both places; nothing is silently replaced.
 */
import path from 'node:path';
import { type BackupSource, besideConfig, configSourceName, databaseTypes, detectSources, type DetectableService, type RawServiceBackup, type RepositoryPassword, qualifiedTables, tableSubsetTypes, tablesProblem } from './backup-schema.js';

export type ConfigKeyPath = ReadonlyArray<string | number>;

export interface SourcesInput {
  /** Resolved `backup.sources`, or undefined when the section gives none (→ detection). */
  readonly explicit: Readonly<Record<string, BackupSource>> | undefined;
  /** `services.<name>.backup` per berth.yaml service, in file order. */
  readonly perService: ReadonlyArray<readonly [string, RawServiceBackup | undefined]>;
  /** The compose services, in compose order. */
  readonly services: readonly DetectableService[];
  /** Project volume keys that berth may back up (not external). */
  readonly volumeKeys: readonly string[];
  /** The project folder, for password files. */
  readonly dir: string;
  /** The repository is reached over sftp, so named volumes are streamed as tars (no `exclude`): checked here for every declared source. */
  readonly sftpRepository: boolean;
}

export interface Problem {
  readonly path: ConfigKeyPath;
  readonly message: string;
  /** Where the same name was declared first (the caller turns it into `file:line`). */
  readonly firstAt?: ConfigKeyPath;
  /** Or what made it first, when it was detected rather than written. */
  readonly firstFrom?: string;
}

export function resolveBackupSources(input: SourcesInput): { sources: Record<string, BackupSource>; problems: Problem[] } {
  const problems: Problem[] = [];
  const byName = new Map(input.services.map((s) => [s.name, s]));
  const declared = input.perService.filter((e): e is [string, RawServiceBackup] => e[1] !== undefined && byName.has(e[0]));
  const volumesOf = (svc: DetectableService) => [...new Set(svc.mounts.filter((m) => m.type === 'volume' && m.source && input.volumeKeys.includes(m.source)).map((m) => m.source!))];
  // Volumes of a service with its own settings are decided there (listed, or left out).
  const claimedVolumes = new Set(declared.filter(([, v]) => v !== true).flatMap(([n]) => volumesOf(byName.get(n)!)));
  const claimedServices = new Set(declared.filter(([, v]) => v !== true).map(([n]) => n));

  const out: Array<{ source: BackupSource; at: ConfigKeyPath | string }> = [];
  const add = (source: BackupSource, at: ConfigKeyPath | string) => {
    // restic in the helper container cannot reach an sftp repository, and the tar it streams instead leaves nothing out.
    if (source.type === 'volume' && source.volume && source.exclude?.length && input.sftpRepository && typeof at !== 'string') {
      problems.push({ path: [...at, 'exclude'], message: 'cannot apply with an sftp repository: a named volume is then streamed as a tar, which leaves nothing out; back up into a local repository (and pull it off-site with `berth replicate pull`), or remove `exclude`' });
    }
    if (source.name === configSourceName && source.type !== 'config') {
      const message = `\`${configSourceName}\` names the project's own config source (type: config), which berth adds by itself; give this ${source.type} source another name`;
      return void problems.push({ path: typeof at === 'string' ? ['backup'] : at, message });
    }
    const first = out.find((o) => o.source.name === source.name);
    if (!first) return void out.push({ source, at });
    const message = `backup source name \`${source.name}\` is used twice; rename one (per-service sources take \`name:\`)`;
    problems.push({ path: typeof at === 'string' ? ['backup'] : at, message, ...(typeof first.at === 'string' ? { firstFrom: first.at } : { firstAt: first.at }) });
  };
  // Names written in per-service settings; a detected volume of the same name steps aside.
  const reserved = new Set(declared.flatMap(([n, v]) => (typeof v === 'object' ? [v.name ?? n, ...(v.volumes ?? []).map((e) => e.volume)] : [])));

  if (input.explicit) {
    for (const s of Object.values(input.explicit)) add(s, ['backup', 'sources', s.name]);
  } else {
    const candidates = input.services.filter((s) => !claimedServices.has(s.name));
    for (const s of detectSources(candidates, input.volumeKeys.filter((k) => !claimedVolumes.has(k)))) {
      const renamed = s.type === 'volume' && reserved.has(s.name) ? { ...s, name: `${s.volume}-volume` } : s;
      add(renamed, s.service ? `detected from the image of service ${s.service}` : `detected for volume ${s.volume}`);
    }
  }

  for (const [name, raw] of declared) {
    const svc = byName.get(name)!;
    const at = ['services', name, 'backup'];
    if (raw === false) continue;
    const detected = detectSources([svc], volumesOf(svc));
    if (raw === true) {
      if (detected.length === 0) {
        problems.push({ path: at, message: `nothing to detect for service \`${name}\`: its image ${svc.image} is no known database and it mounts no named volume; give \`type:\` and \`database:\`, or \`volumes:\`` });
      } else if (input.explicit) {
        for (const s of detected) add(s, at);
      }
      continue;
    }
    const db = detected.find((d) => d.type !== 'volume');
    const type = raw.type ?? db?.type;
    if (type) {
      const database = raw.database ?? (raw.type === undefined || raw.type === db?.type ? db?.database : undefined);
      if (type !== 'redis' && !database) {
        problems.push({ path: at, message: `a ${type} source needs \`database\` (none found in the service's environment)` });
      }
      if (raw.password_file && raw.password_env) problems.push({ path: at, message: 'give password_file or password_env, not both' });
      const tablesWrong = tablesProblem(type, raw.tables);
      if (tablesWrong) problems.push({ path: [...at, 'tables'], message: tablesWrong });
      const password: RepositoryPassword | undefined = raw.password_env ? { env: raw.password_env } : raw.password_file ? { file: path.resolve(input.dir, raw.password_file) } : undefined;
      add(dropUndefined({ name: raw.name ?? besideConfig(name, type), type, service: name, host: '127.0.0.1', user: raw.user, password, database: type === 'redis' ? undefined : database, tables: qualifiedTables(type, raw.tables), writers: raw.writers, schedule: raw.schedule, retention: raw.retention, includeEnv: false }), at);
    } else if (raw.tables) {
      problems.push({ path: [...at, 'tables'], message: `service \`${name}\` (image ${svc.image}) is no database berth recognises; give \`type:\` (${tableSubsetTypes.join(', ')}) with \`tables\`` });
    } else if (!raw.volumes?.length) {
      problems.push({ path: at, message: `service \`${name}\` (image ${svc.image}) is no database berth recognises and lists no \`volumes\`; give \`type:\` (${databaseTypes.join(', ')}) or \`volumes:\`` });
    }
    const own = volumesOf(svc);
    for (const [i, { volume: key, exclude }] of (raw.volumes ?? []).entries()) {
      if (!own.includes(key)) {
        problems.push({ path: [...at, 'volumes', i], message: `\`${key}\` is not a named volume of service \`${name}\`; its named volumes are: ${own.join(', ') || '(none)'}` });
        continue;
      }
      const patterns = exclude?.length ? { exclude } : {};
      // The service's schedule and retention are its volumes' too.
      add({ name: besideConfig(key, 'volume'), type: 'volume', volume: key, host: '127.0.0.1', ...patterns, ...(raw.schedule && { schedule: raw.schedule }), ...(raw.retention && { retention: raw.retention }), includeEnv: false }, [...at, 'volumes', i]);
    }
  }
  return { sources: Object.fromEntries(out.map((o) => [o.source.name, o.source])), problems };
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
