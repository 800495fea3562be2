/**
 * Backup benchmark: `berth backup run` against plain `restic backup` of the same data, same run,
 * berth measured twice: the CLI as a person runs it (a cold Node start included), and the run as
 * the agent makes it (the nightly job's path; here asked over its control socket, as
 * `backup run --agent` does).
 *
 * Dataset (bench/lib/dataset.ts): ~1.5 GB incompressible in 2000 files + ~0.5 GB of text, as a bind
 * path source; plus a MariaDB table of 1M rows (the host MariaDB started by setup-databases.sh).
 * The three repositories are copies of one `restic init` (same key and KDF cost, same chunker), each
 * with its own restic cache. Phases, each measured for restic, the berth CLI and the berth agent with
 * the page cache dropped before each command (when permitted), the order rotating: first run into
 * empty repositories (BENCH_FIRST_REPEAT times), unchanged re-run and re-run after ~1 % of the
 * bytes changed (BENCH_REPEAT times each); medians reported. Then restore throughput (berth
 * restore --to vs restic restore), the 1M-row dump and restore drill, `berth restore --all` on a
 * "fresh host" (bench/lib/restore-all.ts), and berth's peak RSS. berth runs as a packed install
 * runs it: the bundle from `npm run build`.
 *
 * Writes bench/results/backup-<date>.json (with "ratioVsRestic": [first, unchanged, changed], berth
 * throughput ÷ restic throughput) and bench/results/backup-latest.md (the README table).
 * Knobs (env): BENCH_DATA (/var/tmp/berth-bench/data), BENCH_SCALE (1 = full size; 0.05 for a smoke run),
 * BENCH_ROWS (1000000), BENCH_REPEAT (11, re-runs), BENCH_FIRST_REPEAT (3, first runs).
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { datasetBytes, ensureDataset, fullShape, mutateOnePercent, type DatasetShape } from './lib/dataset.js';
import { dropCaches, measured, vmHwmKb, type Measured } from './lib/measured.js';
import { measureRestoreAll, type RestoreAllResult } from './lib/restore-all.js';
import { repoRoot } from './lib/proc.js';
import { requestBackupRun } from '../src/agent/control-protocol.js';
import { silentReporter } from '../src/lib/reporter.js';
import { medianOf } from './lib/report.js';

const log = (m: string) => process.stderr.write(`bench: ${m}\n`);
const scale = Number(process.env.BENCH_SCALE ?? 1);
const rows = Number(process.env.BENCH_ROWS ?? 1_000_000);
const dataDir = process.env.BENCH_DATA ?? '/var/tmp/berth-bench/data';
const shape: DatasetShape = {
  ...fullShape,
  binaryFiles: Math.max(20, Math.round(fullShape.binaryFiles * scale)),
  textFiles: Math.max(10, Math.round(fullShape.textFiles * scale)),
};
const db = { host: '127.0.0.1', port: 3306, user: 'berth', password: 'berth-test', database: 'bench_berth' };
// berth as installed from a package (`npm pack`: bin/ and the bundle): the bundle itself, built above.
const berthBin = path.join(repoRoot, 'dist/bundle/berth.js');
const repeat = Math.max(1, Number(process.env.BENCH_REPEAT ?? 11));
const firstRepeat = Math.max(1, Number(process.env.BENCH_FIRST_REPEAT ?? 3));

function prepareDatabase(): void {
  const sql = (q: string, database?: string) =>
    execFileSync('mariadb', ['-h', db.host, '-P', String(db.port), '-u', db.user, `-p${db.password}`, ...(database ? ['-D', database] : []), '-N', '-e', q], {
      encoding: 'utf8',
    }).trim();
  const have = sql(`SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='${db.database}' AND table_name='items'`);
  if (have === '1' && sql(`SELECT COUNT(*) FROM ${db.database}.items`) === String(rows)) return;
  log(`creating ${db.database}.items with ${rows} rows`);
  sql(`DROP DATABASE IF EXISTS ${db.database}; CREATE DATABASE ${db.database}`);
  sql(
    `CREATE TABLE ${db.database}.items (id INT PRIMARY KEY, tenant INT NOT NULL, label VARCHAR(40) NOT NULL, amount DECIMAL(10,2) NOT NULL, created DATETIME NOT NULL, KEY (tenant)) ENGINE=InnoDB;` +
      `INSERT INTO ${db.database}.items SELECT seq, seq % 97, CONCAT('item-', seq), (seq % 1000) / 7, TIMESTAMP '2026-01-01 00:00:00' - INTERVAL seq SECOND FROM seq_1_to_${rows};`,
    db.database,
  );
}

type Contender = 'restic' | 'berth' | 'agent';
type Sample = { name: Phase['name']; order: Contender[] } & Record<`${Contender}Ms`, number>;

interface Phase {
  readonly name: 'first' | 'unchanged' | 'changed';
  readonly restic: Measured;
  readonly berth: Measured;
  readonly agent: Measured;
  readonly bytes: number;
}

const mbps = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);

/** The phase whose timings are the medians of the samples so far (each contender's taken separately). */
function medianPhase(samples: readonly Sample[], prev: Phase, latest: Phase): Phase {
  const of = (c: Contender): Measured => ({ ...latest[c], ms: medianOf(samples.map((x) => x[`${c}Ms`]))!, peakRssMb: Math.max(prev[c].peakRssMb, latest[c].peakRssMb) });
  return { ...latest, restic: of('restic'), berth: of('berth'), agent: of('agent') };
}

/** `berth agent` for the agent's project, up once its control socket answers. */
async function startBenchAgent(project: string, env: NodeJS.ProcessEnv): Promise<{ pid: number; socketPath: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [berthBin, '-C', project, 'agent', '--listen', '127.0.0.1:0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const started = out.split('\n').find((l) => l.includes('"msg":"agent started"'));
    if (started) {
      const socketPath = (JSON.parse(started) as { control?: string }).control;
      if (!socketPath) throw new Error(`the agent has no control socket: ${started}`);
      return { pid: child.pid!, socketPath, stop: async () => void (child.kill('SIGTERM'), await closed) };
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`berth agent did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const vmHwmMb = (pid: number) => vmHwmKb(pid) / 1024;

/** One backup run made by the agent, timed from the request to the outcome; RSS is the agent's peak so far. */
async function agentRun(agent: { pid: number; socketPath: string }, source: string): Promise<Measured> {
  const t0 = performance.now();
  try {
    const outcome = await requestBackupRun(agent.socketPath, [source], silentReporter);
    const ms = performance.now() - t0;
    const status = (outcome as { status?: string }).status;
    return { code: status === 'succeeded' ? 0 : 13, ms, peakRssMb: vmHwmMb(agent.pid), stdout: JSON.stringify(outcome), stderr: '' };
  } catch (err) {
    return { code: 1, ms: performance.now() - t0, peakRssMb: vmHwmMb(agent.pid), stdout: '', stderr: (err as Error).message };
  }
}

/**
 * berth as a packed install runs it: the bundle from `npm run build` (run by `npm run bench:backup`).
 * Its V8 code cache is made here by `berth config` on a one-service project, as by a first command
 * that is not a backup: the cache then holds the start-up and the loading of a project but not the
 * backup path, the less favourable case (a cache made by a backup run starts one ~10 ms sooner).
 */
function berthEntry(): string {
  if (!fs.existsSync(berthBin)) throw new Error(`${berthBin} is missing: run \`npm run build\` first (npm run bench:backup does)`);
  const cache = `${path.join(path.dirname(berthBin), 'berth-cli.js')}.v8cache`;
  fs.rmSync(cache, { force: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-cache-'));
  fs.writeFileSync(path.join(dir, 'compose.yaml'), 'name: warmup\nservices:\n  web:\n    image: busybox\n');
  execFileSync(process.execPath, [berthBin, '-C', dir, 'config'], { env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } });
  fs.rmSync(dir, { recursive: true, force: true });
  if (!fs.existsSync(cache)) throw new Error(`berth config wrote no code cache at ${cache}`);
  return 'dist/bundle/berth.js (npm run build), as a packed install runs it, its V8 code cache made by `berth config`';
}

async function main(): Promise<void> {
  const entry = berthEntry();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-backup-'));
  const bytes = ensureDataset(dataDir, shape, log);
  prepareDatabase();
  const pass = path.join(work, 'repo.pass');
  fs.writeFileSync(pass, 'bench-password\n');
  const resticRepo = path.join(work, 'restic-repo');
  const berthRepo = path.join(work, 'berth-repo');
  const agentRepo = path.join(work, 'agent-repo');
  const project = path.join(work, 'project');
  const agentProject = path.join(work, 'project-agent');
  const compose = 'name: benchbackup\nservices:\n  web:\n    image: berth-test/app:v1\n';
  const berthYaml = (repo: string, withDb: boolean) =>
    [
      // The agent watches no container here (web is never started); its other probes run as usual.
      'services:',
      '  web: { monitor: { container: false } }',
      'backup:',
      `  repository: ${repo}`,
      `  password_file: ${pass}`,
      '  sources:',
      '    files:',
      '      type: volume',
      `      path: ${dataDir}`,
      ...(withDb ? ['    db:', '      type: mariadb', `      host: ${db.host}`, `      port: ${db.port}`, `      user: ${db.user}`, '      password_env: BENCH_DB_PASSWORD', `      database: ${db.database}`] : []),
      '',
    ].join('\n');
  for (const [dir, repo, withDb] of [[project, berthRepo, true], [agentProject, agentRepo, false]] as const) {
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'compose.yaml'), compose);
    fs.writeFileSync(path.join(dir, 'berth.yaml'), berthYaml(repo, withDb));
  }
  // Each side keeps its own restic cache (the repositories share an id, being copies).
  const cache = (who: Contender) => path.join(work, `cache-${who}`);
  const env = { ...process.env, RESTIC_PASSWORD_FILE: pass, BENCH_DB_PASSWORD: db.password, RESTIC_CACHE_DIR: cache('restic') };
  const restic = (args: string[]) => measured('restic', ['-r', resticRepo, ...args], { env });
  // This sandbox sets NODE_EXTRA_CA_CERTS (for its proxy), which makes every Node start parse ~140
  // certificates; a host running berth has no such setting, so berth runs without it (recorded).
  const berthEnv = { ...env, NODE_EXTRA_CA_CERTS: '', RESTIC_CACHE_DIR: cache('berth') };
  const berth = (args: string[]) => measured(process.execPath, [berthBin, '-C', project, ...args], { env: berthEnv });
  const cold = () => {
    execFileSync('sync');
    return dropCaches();
  };

  // One `restic init`, copied: the three repositories then have the same key (so the same scrypt
  // cost on every open, which dominates a re-run) and the same chunker parameters. Two separate
  // inits calibrate scrypt separately, and their costs differed by up to 25 % here. Created outside
  // the timings (berth would create its own on first use; plain restic needs the same `restic init`).
  const pristine = path.join(work, 'pristine-repo');
  execFileSync('restic', ['-r', pristine, 'init', '-q'], { env });
  /** Empty repositories and caches again (before each first run). */
  const freshRepositories = () => {
    for (const [repo, who] of [[resticRepo, 'restic'], [berthRepo, 'berth'], [agentRepo, 'agent']] as const) {
      fs.rmSync(repo, { recursive: true, force: true });
      fs.rmSync(cache(who), { recursive: true, force: true });
      fs.cpSync(pristine, repo, { recursive: true });
    }
  };
  // One unmeasured first run into a scratch repository. Without it, the first round here once took
  // 15–16 s for all three contenders and the next two 11–14 s: the VM's storage (below the page
  // cache dropped here) is slower on the first pass over the dataset, whoever makes it.
  const warmRepo = path.join(work, 'warm-up-repo');
  fs.cpSync(pristine, warmRepo, { recursive: true });
  cold();
  log('warm-up (not measured): restic backup into a scratch repository');
  execFileSync('restic', ['-r', warmRepo, 'backup', '-q', dataDir], { env: { ...env, RESTIC_CACHE_DIR: path.join(work, 'warm-up-cache') } });
  fs.rmSync(warmRepo, { recursive: true, force: true });
  fs.rmSync(path.join(work, 'warm-up-cache'), { recursive: true, force: true });
  const agent = await startBenchAgent(agentProject, { ...berthEnv, RESTIC_CACHE_DIR: cache('agent') });
  const phases: Phase[] = [];
  const samples: Sample[] = [];
  /**
   * Reference for a re-run's CLI gap: the cold start of the two programs alone, each after the page
   * cache is dropped as before a contender. `node -e 0` is the least any Node CLI costs here; the
   * node binary's pages stay in memory, mapped by this process and the agent, as they would on a
   * host where the agent runs.
   */
  const coldStarts: Array<{ nodeMs: number; resticMs: number }> = [];
  const coldStart = async () => {
    const once = async (cmd: string, args: string[]) => {
      cold();
      const m = await measured(cmd, args, { env: berthEnv });
      if (m.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${m.code}): ${m.stderr}`);
      return Math.round(m.ms);
    };
    return { nodeMs: await once(process.execPath, ['-e', '0']), resticMs: await once('restic', ['version']) };
  };
  let cachesDropped = true;
  // The first run `firstRepeat` times, each into empty repositories; then the re-runs `repeat`
  // times each; medians reported, the three contenders always on the same state of the data.
  const rounds: Array<Phase['name']> = [...Array<Phase['name']>(firstRepeat).fill('first'), ...Array<Phase['name']>(repeat).fill('unchanged'), ...Array<Phase['name']>(repeat).fill('changed')];
  const contenders: Contender[] = ['restic', 'berth', 'agent'];
  for (const [i, name] of rounds.entries()) {
    if (name === 'first') freshRepositories();
    const changedBytes = name === 'changed' ? mutateOnePercent(dataDir, shape, (Date.now() + i) % 1000) : 0;
    const runOne = async (who: Contender): Promise<Measured> => {
      cachesDropped = cold() && cachesDropped;
      log(`${name}: ${who === 'restic' ? 'restic backup' : who === 'berth' ? 'berth backup run --source files' : 'berth agent: backup run files'}`);
      const m = who === 'restic' ? await restic(['backup', '-q', '--json', dataDir]) : who === 'berth' ? await berth(['backup', 'run', '--source', 'files', '--json', '-q']) : await agentRun(agent, 'files');
      if (m.code !== 0) throw new Error(`${who} backup failed (${m.code}): ${m.stderr}`);
      return m;
    };
    // Who goes first rotates, so no side always meets the disk just after the previous round's
    // writes were flushed.
    const order = contenders.map((_, k) => contenders[(k + i) % contenders.length]!);
    const got: Partial<Record<Contender, Measured>> = {};
    for (const who of order) got[who] = await runOne(who);
    const [r, b, a] = [got.restic!, got.berth!, got.agent!];
    samples.push({ name, order, resticMs: Math.round(r.ms), berthMs: Math.round(b.ms), agentMs: Math.round(a.ms) });
    if (name !== 'first') coldStarts.push(await coldStart());
    log(`${name}: restic ${(r.ms / 1000).toFixed(2)} s, berth ${(b.ms / 1000).toFixed(2)} s, agent ${(a.ms / 1000).toFixed(2)} s${changedBytes ? ` (${(changedBytes / 1e6).toFixed(0)} MB changed)` : ''}`);
    const prev = phases.find((p) => p.name === name);
    const sample: Phase = { name, restic: r, berth: b, agent: a, bytes };
    if (!prev) phases.push(sample);
    else phases[phases.indexOf(prev)] = medianPhase(samples.filter((x) => x.name === name), prev, sample);
  }
  const agentPeakRssMb = vmHwmMb(agent.pid);
  await agent.stop();

  // Restore throughput: into a scratch directory on the same disk.
  const rTarget = path.join(work, 'restore-restic');
  const bTarget = path.join(work, 'restore-berth');
  cold();
  log('restore: restic restore latest');
  const rr = await restic(['restore', 'latest', '--target', rTarget]);
  fs.rmSync(rTarget, { recursive: true, force: true });
  cold();
  log('restore: berth restore latest --source files --to DIR');
  const br = await berth(['restore', 'latest', '--source', 'files', '--to', bTarget, '--yes', '-q']);
  if (br.code !== 0) throw new Error(`berth restore failed (${br.code}): ${br.stderr}`);
  fs.rmSync(bTarget, { recursive: true, force: true });

  // The 1M-row database: berth's dump into restic, and its restore drill.
  log(`database: berth backup run --source db (${rows} rows)`);
  const dump = await berth(['backup', 'run', '--source', 'db', '--json', '-q']);
  if (dump.code !== 0) throw new Error(`berth backup run --source db failed: ${dump.stderr}`);
  const dumpOut = JSON.parse(dump.stdout) as { results: Array<{ bytes?: number; durationMs: number }> };
  log('database: berth backup verify --source db (restore drill)');
  const drill = await berth(['backup', 'verify', '--source', 'db', '--read-data-subset', '1%', '--json', '-q']);
  const drillOut = JSON.parse(drill.stdout) as { ok: boolean; drills: Array<{ restoreMs: number; ok: boolean; summary: string }> };
  // Reference for the dump: mariadb-dump piped into restic --stdin.
  const refDump = await measured(
    'sh',
    ['-c', `mariadb-dump -h ${db.host} -P ${db.port} -u ${db.user} -p"$BENCH_DB_PASSWORD" --single-transaction --routines --triggers --events ${db.database} | restic -r ${resticRepo} backup -q --stdin --stdin-filename db.sql`],
    { env },
  );

  const restoreAll = await measureRestoreAll({ work, berthBin, dataDir, passwordFile: pass, db, env: berthEnv, log });
  log(`restore --all: ${(restoreAll.wallMs / 1000).toFixed(1)} s, ${(restoreAll.bytesPerSecond / 1e6).toFixed(0)} MB/s, 500 GB projected ${restoreAll.projected500GbHours} h`);

  const ratios = phases.map((p) => Number((p.restic.ms / p.berth.ms).toFixed(3)));
  const agentRatios = phases.map((p) => Number((p.restic.ms / p.agent.ms).toFixed(3)));
  // The median of each round's own ratio: the contenders of one round ran back to back on the same
  // data, so a round that was slow for all (restic's key derivation varies ±20 % here) cancels out.
  const paired = (who: 'berthMs' | 'agentMs') => phases.map((p) => Number(medianOf(samples.filter((x) => x.name === p.name).map((x) => x.resticMs / x[who]))!.toFixed(3)));
  const restoreMBps = mbps(bytes, br.ms);
  const projection500GBh = 500e9 / (restoreMBps * 1e6) / 3600;
  const result = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memGB: Math.round(os.totalmem() / 2 ** 30) },
    resticVersion: execFileSync('restic', ['version'], { encoding: 'utf8' }).trim(),
    dataset: { bytes, files: shape.binaryFiles + shape.textFiles, shape, scale },
    cachesDropped,
    berthEntry: entry,
    berthEnvNote: process.env.NODE_EXTRA_CA_CERTS ? 'NODE_EXTRA_CA_CERTS (set in this sandbox) cleared for berth' : 'as inherited',
    repeat,
    firstRepeat,
    samples,
    phases: phases.map((p) => ({
      name: p.name,
      resticMs: Math.round(p.restic.ms),
      berthMs: Math.round(p.berth.ms),
      agentMs: Math.round(p.agent.ms),
      resticMBps: Number(mbps(p.bytes, p.restic.ms).toFixed(1)),
      berthMBps: Number(mbps(p.bytes, p.berth.ms).toFixed(1)),
      agentMBps: Number(mbps(p.bytes, p.agent.ms).toFixed(1)),
      berthPeakRssMb: Number(p.berth.peakRssMb.toFixed(1)),
      resticPeakRssMb: Number(p.restic.peakRssMb.toFixed(1)),
    })),
    /** The berth CLI, a cold Node start included: what `time berth backup run` shows. */
    ratioVsRestic: ratios,
    /** The same run made by the running agent (the nightly job's path), asked over its control socket. */
    ratioVsResticAgent: agentRatios,
    /** Per phase, the median over rounds of restic's time ÷ berth's time in the same round. */
    pairedRatioVsRestic: paired('berthMs'),
    pairedRatioVsResticAgent: paired('agentMs'),
    /**
     * Re-runs: the median of each round's berth time minus restic's (CLI and agent), against the
     * medians of a cold `node -e 0` and a cold `restic version` measured in the same rounds.
     */
    reRunGap: {
      cliOverResticMs: medianOf(samples.filter((x) => x.name !== 'first').map((x) => x.berthMs - x.resticMs)),
      agentOverResticMs: medianOf(samples.filter((x) => x.name !== 'first').map((x) => x.agentMs - x.resticMs)),
      coldNodeMs: medianOf(coldStarts.map((c) => c.nodeMs)),
      coldResticMs: medianOf(coldStarts.map((c) => c.resticMs)),
      coldStarts,
    },
    agentPeakRssMb: Number(agentPeakRssMb.toFixed(1)),
    restore: {
      resticMs: Math.round(rr.ms),
      berthMs: Math.round(br.ms),
      resticMBps: Number(mbps(bytes, rr.ms).toFixed(1)),
      berthMBps: Number(restoreMBps.toFixed(1)),
      projected500GBHours: Number(projection500GBh.toFixed(2)),
    },
    database: {
      rows,
      dumpBytes: dumpOut.results[0]?.bytes,
      berthDumpMs: Math.round(dump.ms),
      berthDumpSourceMs: Math.round(dumpOut.results[0]?.durationMs ?? 0),
      referenceDumpMs: Math.round(refDump.ms),
      drillOk: drillOut.ok && drillOut.drills.every((d) => d.ok),
      drillRestoreMs: drillOut.drills[0]?.restoreMs,
      drillCommandMs: Math.round(drill.ms),
      drillSummary: drillOut.drills[0]?.summary,
    },
    restoreAll,
    berthPeakRssMb: Number(Math.max(...phases.map((p) => p.berth.peakRssMb), br.peakRssMb, dump.peakRssMb, drill.peakRssMb).toFixed(1)),
    targets: { ratioVsRestic: 0.9, unchangedMaxMs: 5000, restore500GBMaxHours: 1 },
    pass: {
      ratio: ratios.every((r) => r >= 0.9),
      ratioAgent: agentRatios.every((r) => r >= 0.9),
      unchanged: (phases[1]?.berth.ms ?? Infinity) <= 5000,
      restore500GBWithin1h: projection500GBh <= 1,
      restoreAllOk: restoreAll.ok,
      restoreAll500GBWithin4h: restoreAll.projected500GbHours <= 4,
    },
  };
  const outDir = path.join(repoRoot, 'bench/results');
  fs.mkdirSync(outDir, { recursive: true });
  const day = result.date.slice(0, 10);
  fs.writeFileSync(path.join(outDir, `backup-${day}.json`), `${JSON.stringify(result, null, 2)}\n`);
  fs.writeFileSync(path.join(outDir, 'backup-latest.md'), markdown(result));
  process.stdout.write(markdown(result));
  fs.rmSync(work, { recursive: true, force: true });
}

function markdown(r: {
  dataset: { bytes: number; files: number };
  phases: Array<{ name: string; resticMs: number; berthMs: number; agentMs: number; resticMBps: number; berthMBps: number; agentMBps: number }>;
  ratioVsRestic: number[];
  ratioVsResticAgent: number[];
  pairedRatioVsRestic: number[];
  pairedRatioVsResticAgent: number[];
  reRunGap: { cliOverResticMs: number | null; agentOverResticMs: number | null; coldNodeMs: number | null; coldResticMs: number | null };
  agentPeakRssMb: number;
  restore: { resticMBps: number; berthMBps: number; projected500GBHours: number };
  database: { rows: number; berthDumpMs: number; referenceDumpMs: number; drillRestoreMs?: number; drillOk: boolean };
  berthPeakRssMb: number;
  cachesDropped: boolean;
  berthEntry: string;
  repeat: number;
  firstRepeat: number;
  restoreAll: RestoreAllResult;
}): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const lines = [
    `Dataset ${(r.dataset.bytes / 1e9).toFixed(2)} GB in ${r.dataset.files} files; page cache dropped before each command: ${r.cachesDropped ? 'yes' : 'no'}; berth run as ${r.berthEntry}; medians of ${r.firstRepeat} first runs (into empty repositories) and ${r.repeat} re-runs each, the order rotating.`,
    '',
    '| run | plain restic | berth backup run (CLI) | berth ÷ restic | run by the agent | agent ÷ restic |',
    '|---|---|---|---|---|---|',
    ...r.phases.map((p, i) => `| ${p.name} | ${s(p.resticMs)} (${p.resticMBps} MB/s) | ${s(p.berthMs)} (${p.berthMBps} MB/s) | ${r.ratioVsRestic[i]} | ${s(p.agentMs)} (${p.agentMBps} MB/s) | ${r.ratioVsResticAgent[i]} |`),
    '',
    `Ratios of medians above; the median of each round's own ratio (same data, back to back): CLI [${r.pairedRatioVsRestic.join(', ')}], agent [${r.pairedRatioVsResticAgent.join(', ')}].`,
    '',
    `Re-runs, median of each round's difference: the CLI took ${r.reRunGap.cliOverResticMs} ms longer than restic, the agent ${r.reRunGap.agentOverResticMs} ms. Measured in the same rounds, page cache dropped: \`node -e 0\` ${r.reRunGap.coldNodeMs} ms, \`restic version\` ${r.reRunGap.coldResticMs} ms.`,
    '',
    '| | plain restic | berth | |',
    '|---|---|---|---|',
    `| restore | ${r.restore.resticMBps} MB/s | ${r.restore.berthMBps} MB/s | 500 GB projected: ${r.restore.projected500GBHours} h |`,
    `| restore --all (fresh host) | | ${s(r.restoreAll.wallMs)}: config, then ${(r.restoreAll.bytes / 1e9).toFixed(2)} GB files and the ${r.restoreAll.rowsAfter.toLocaleString('en-US')}-row host database side by side, then up; ${(r.restoreAll.bytesPerSecond / 1e6).toFixed(0)} MB/s | 500 GB projected: ${r.restoreAll.projected500GbHours} h (${r.restoreAll.ok ? 'data checked' : 'MISMATCH'}) |`,
    `| MariaDB ${r.database.rows.toLocaleString('en-US')} rows | dump → restic ${s(r.database.referenceDumpMs)} | dump ${s(r.database.berthDumpMs)}, drill restore ${r.database.drillRestoreMs ? s(r.database.drillRestoreMs) : '–'} (${r.database.drillOk ? 'passed' : 'FAILED'}) | |`,
    '',
    `berth peak RSS: ${r.berthPeakRssMb} MB (CLI), ${r.agentPeakRssMb} MB (the agent, over the whole run).`,
    '',
  ];
  return lines.join('\n');
}

await main();
