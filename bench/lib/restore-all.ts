/**
 * `berth restore --all` measured end to end, as on a fresh host: a project whose config, bind-path
 * data (the bench dataset, hard-linked so the dataset itself is never touched) and a MariaDB
 * database (a copy of the 1M-row table) are backed up, then the project folder, the data folder,
 * the database and the containers are removed, and only the repository and its password remain.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { measured } from './measured.js';

export interface RestoreAllResult {
  readonly ok: boolean;
  readonly wallMs: number;
  /** What berth reported: bytes restored, its own timing, throughput and the 500 GB projection. */
  readonly bytes: number;
  readonly totalMs: number;
  readonly upMs: number;
  readonly bytesPerSecond: number;
  readonly projected500GbHours: number;
  readonly sources: readonly string[];
  readonly rowsAfter: number;
  readonly filesMatch: boolean;
  readonly peakRssMb: number;
}

export interface RestoreAllSetup {
  readonly work: string;
  readonly berthBin: string;
  readonly dataDir: string;
  readonly passwordFile: string;
  readonly db: { host: string; port: number; user: string; password: string; database: string };
  readonly env: NodeJS.ProcessEnv;
  readonly log: (m: string) => void;
}

export async function measureRestoreAll(s: RestoreAllSetup): Promise<RestoreAllResult> {
  const { db } = s;
  const recoverDb = 'bench_recover';
  const sql = (q: string) => execFileSync('mariadb', ['-h', db.host, '-P', String(db.port), '-u', db.user, `-p${db.password}`, '-N', '-e', q], { encoding: 'utf8' }).trim();
  const project = path.join(s.work, 'recover-project');
  const data = path.join(s.work, 'recover-data');
  const repo = path.join(s.work, 'recover-repo');
  fs.mkdirSync(project);
  execFileSync('cp', ['-al', s.dataDir, data]);
  sql(`DROP DATABASE IF EXISTS ${recoverDb}; CREATE DATABASE ${recoverDb}; CREATE TABLE ${recoverDb}.items LIKE ${db.database}.items; INSERT INTO ${recoverDb}.items SELECT * FROM ${db.database}.items`);
  const rows = Number(sql(`SELECT COUNT(*) FROM ${recoverDb}.items`));
  fs.writeFileSync(path.join(project, 'compose.yaml'), 'name: benchrecover\nservices:\n  web:\n    image: berth-test/app:v1\n');
  fs.writeFileSync(
    path.join(project, 'berth.yaml'),
    [
      'backup:',
      `  repository: ${repo}`,
      `  password_file: ${s.passwordFile}`,
      '  sources:',
      '    files: { type: volume, path: ' + data + ' }',
      `    db: { type: mariadb, host: ${db.host}, port: ${db.port}, user: ${db.user}, password_env: BENCH_DB_PASSWORD, database: ${recoverDb} }`,
      '',
    ].join('\n'),
  );
  const berth = (dir: string, args: string[]) => measured(process.execPath, [s.berthBin, '-C', dir, ...args], { env: s.env });
  try {
    s.log('restore --all: berth backup run (config, files, db)');
    const b = await berth(project, ['backup', 'run', '-q']);
    if (b.code !== 0) throw new Error(`berth backup run failed (${b.code}): ${b.stderr}`);
    const before = fileList(data);
    s.log('restore --all: the host is lost (project folder, data folder, database, containers)');
    await berth(project, ['down', '-q']);
    fs.rmSync(project, { recursive: true, force: true });
    fs.rmSync(data, { recursive: true, force: true });
    sql(`DROP DATABASE ${recoverDb}`);
    execFileSync('sync');
    try {
      fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
    } catch {
      /* not permitted: measured warm */
    }
    s.log('restore --all: berth restore --all --yes --repository … --password-file …');
    const r = await berth(project, ['--json', 'restore', '--all', '--yes', '--repository', repo, '--password-file', s.passwordFile]);
    if (r.code !== 0) throw new Error(`berth restore --all failed (${r.code}): ${r.stderr}`);
    const out = JSON.parse(r.stdout) as { sources: Array<{ source: string }>; bytes: number; totalMs: number; upMs: number; bytesPerSecond: number; projected500GbHours: number };
    const rowsAfter = Number(sql(`SELECT COUNT(*) FROM ${recoverDb}.items`));
    const filesMatch = JSON.stringify(fileList(data)) === JSON.stringify(before);
    return {
      ok: rowsAfter === rows && filesMatch,
      wallMs: Math.round(r.ms),
      bytes: out.bytes,
      totalMs: out.totalMs,
      upMs: out.upMs,
      bytesPerSecond: Math.round(out.bytesPerSecond),
      projected500GbHours: Number(out.projected500GbHours.toFixed(2)),
      sources: out.sources.map((x) => x.source).sort(),
      rowsAfter,
      filesMatch,
      peakRssMb: Number(r.peakRssMb.toFixed(1)),
    };
  } finally {
    if (fs.existsSync(project)) await berth(project, ['down', '-q']);
    fs.rmSync(data, { recursive: true, force: true });
    sql(`DROP DATABASE IF EXISTS ${recoverDb}`);
  }
}

/** Every file with its size, sorted: equal lists mean the same tree came back. */
function fileList(root: string): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push([path.relative(root, p), fs.statSync(p).size]);
    }
  };
  if (fs.existsSync(root)) walk(root);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}
