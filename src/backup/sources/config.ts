/**
 * The project's own configuration, so that `restore --all` on a new host can bring it up again:
 * compose files and berth.yaml, and the files inside the project folder its services mount from
 * it (a bind-mounted file such as ./proxy/nginx.conf, a read-only bind-mounted folder, compose
 * `configs:`). Files that hold secrets (`.env`, `*.env`, `env_file:` entries, compose `secrets:`)
 * only with `include_env: true`: the repository is encrypted but readable by everyone with its
 * password. A folder a service writes to is data, not configuration (a volume source with `path:`
 * keeps it). What is left out is named on every run. The tar also carries a copy of berth's audit
 * trail (`audit/copy.ts`) and of the project's newest backup records (`records-copy.ts`), which a
 * restore in place on a fresh host takes up.
 */
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import { auditCopyName, copyLines, takeUpCopy } from '../../audit/copy.js';
import { BerthError } from '../../lib/errors.js';
import { effectiveSources } from '../../project/backup-schema.js';
import type { Project } from '../../project/model.js';
import { recordsCopy, recordsCopyName, takeUpRecords, type CarryingSnapshot } from '../records-copy.js';
import { compareManifests, digestTar, type Manifest } from '../tar-digest.js';
import { extractTar } from './io.js';
import type { DrillOutcome, SourceContext, SourceDriver } from './types.js';
import { relativeTo } from './where.js';
import { counted } from '../../lib/plural.js';

export interface LeftOutFile {
  /** Relative to the project folder. */
  readonly path: string;
  readonly why: 'secret' | 'data';
}

export interface ConfigPlan {
  /** Relative to the project folder, sorted. */
  readonly files: readonly string[];
  readonly leftOut: readonly LeftOutFile[];
}

/** Which project files the config source keeps, and which referenced ones it leaves out. */
export function configPlan(project: Project, includeEnv: boolean): ConfigPlan {
  const inside = (p: string): boolean => inProject(project, p);
  const files = new Set<string>();
  const leftOut = new Map<string, LeftOutFile['why']>();
  const keep = (p: string): void => void (inside(p) && isFile(p) && files.add(p));
  for (const f of [...project.composeFiles, ...(project.berthFile ? [project.berthFile] : []), path.join(project.dir, '.env.example')]) keep(f);

  const secrets: string[] = Object.values(project.secrets).map((s) => s.file);
  for (const f of fs.readdirSync(project.dir)) if (f === '.env' || f.endsWith('.env')) secrets.push(path.join(project.dir, f));
  for (const s of Object.values(project.services)) secrets.push(...(s.envFiles ?? []));
  for (const f of secrets) {
    if (!inside(f) || !isFile(f)) continue;
    if (includeEnv) files.add(f);
    else leftOut.set(f, 'secret');
  }

  // A written folder that a volume source (`path:`) already backs up is not left out.
  const backedUpPaths = Object.values(project.backup?.sources ?? {}).flatMap((s) => (s.type === 'volume' && s.path ? [s.path] : []));
  for (const s of Object.values(project.services)) {
    for (const m of s.mounts) {
      if (m.type !== 'bind' || !m.source || !inside(m.source) || !fs.existsSync(m.source)) continue;
      if (isFile(m.source)) keep(m.source);
      else if (m.readOnly) for (const f of filesUnder(m.source, project.stateDir)) keep(f);
      else if (!backedUpPaths.some((p) => isWithin(p, m.source!))) leftOut.set(m.source, 'data');
    }
  }
  for (const f of files) leftOut.delete(f);
  const rel = (p: string): string => relativeTo(project.dir, p);
  return {
    files: [...files].map(rel).sort(),
    leftOut: [...leftOut.entries()].map(([p, why]) => ({ path: rel(p), why })).sort((a, b) => a.path.localeCompare(b.path)),
  };
}

/**
 * Configuration inside the project folder that its services mount (secrets, read-only bind
 * mounts) but that is not there: after a config restore, what a snapshot taken without
 * `include_env` left out. A folder a service writes to is data: a volume source restores it, or
 * nothing does. Relative to the project folder.
 */
export function missingProjectFiles(project: Project): string[] {
  const wanted = new Set<string>(Object.values(project.secrets).map((s) => s.file));
  for (const s of Object.values(project.services)) for (const m of s.mounts) if (m.type === 'bind' && m.readOnly && m.source) wanted.add(m.source);
  return [...wanted]
    .filter((p) => inProject(project, p) && !fs.existsSync(p))
    .map((p) => relativeTo(project.dir, p))
    .sort();
}

/** The files `configPlan` keeps (relative to the project folder). */
export function configFiles(ctx: SourceContext): string[] {
  return [...configPlan(ctx.project, ctx.source.includeEnv).files];
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Below the project folder (not the folder itself), outside berth's state folder. */
function inProject(project: Project, p: string): boolean {
  return p !== project.dir && isWithin(project.dir, p) && !isWithin(project.stateDir, p);
}

function isWithin(dir: string, p: string): boolean {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Regular files below `dir`, symbolic links not followed, `skip` (the state folder) left out. */
function filesUnder(dir: string, skip: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (isWithin(skip, p)) continue;
    if (e.isDirectory()) out.push(...filesUnder(p, skip));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

export function describeLeftOut(leftOut: readonly LeftOutFile[]): string[] {
  const secret = leftOut.filter((l) => l.why === 'secret').map((l) => l.path);
  const data = leftOut.filter((l) => l.why === 'data').map((l) => l.path);
  return [
    ...(secret.length ? [`left out ${secret.length} file(s) holding secrets (${secret.join(', ')}): \`include_env: true\` on the config source keeps them in the encrypted repository; without them \`restore --all\` cannot start the services that need them`] : []),
    ...(data.length ? [`left out ${data.length} folder(s) services write to (${data.join(', ')}): data, not configuration; a volume source with \`path:\` backs one up`] : []),
  ];
}

export const configSource: SourceDriver = {
  filename: () => 'config/project.tar',

  async dump(ctx, out: Writable, signal) {
    const plan = configPlan(ctx.project, ctx.source.includeEnv);
    for (const line of describeLeftOut(plan.leftOut)) ctx.report.warn(`${ctx.source.name}: ${line}`);
    // berth's own record of every change goes with the config, so a fresh host can go on from it.
    const trail = ctx.audit.rows();
    const trailCopy = Buffer.from([...copyLines(trail)].join(''));
    // And the newest backup record of every other source (they ran before this one), so a fresh host knows what it has.
    const others = (ctx.project.backup ? effectiveSources(ctx.project.backup) : []).filter((s) => s.type !== 'config').map((s) => s.name);
    const copy = ctx.runId ? recordsCopy(ctx.backups, ctx.project.name, ctx.runId, others, Date.now()) : undefined;
    const records = copy && Buffer.from(`${JSON.stringify(copy)}\n`);
    const tarball = pack();
    const tap = new PassThrough();
    const manifest = digestTar(tap);
    // One reader, so restic's pace holds the packing back (a read-only bind-mounted folder may hold
    // large files: streamed, never all in memory). restic giving up aborts: no 'drain' will come.
    const copied = (async () => {
      for await (const chunk of tarball) {
        if (!tap.write(chunk)) await once(tap, 'drain', { signal });
        if (!out.write(chunk)) await once(out, 'drain', { signal });
      }
      tap.end();
    })();
    const packed = (async () => {
      for (const f of plan.files) {
        const full = path.join(ctx.project.dir, f);
        const st = fs.statSync(full);
        const entry = tarball.entry({ name: f, size: st.size, mode: st.mode & 0o777, mtime: st.mtime });
        await pipeline(fs.createReadStream(full), entry);
      }
      const mtime = new Date(trail.at(-1)?.ts ?? 0);
      const member = (name: string, data: Buffer) => new Promise<void>((resolve, reject) => tarball.entry({ name, size: data.length, mode: 0o600, mtime }, data, (err) => (err ? reject(err) : resolve())));
      await member(auditCopyName, trailCopy);
      if (records) await member(recordsCopyName, records);
      tarball.finalize();
    })();
    try {
      await Promise.all([packed, copied]);
    } catch (err) {
      // Whichever failed first, the other ends too (a file that cannot be read, or restic gone).
      tarball.destroy();
      tap.destroy();
      manifest.catch(() => undefined); // the digest of a tarball cut short: nobody waits for it
      await Promise.allSettled([packed, copied]);
      if (signal.aborted) throw new BerthError('BACKUP', `${ctx.source.name}: stopped because the repository write failed`);
      throw err;
    }
    return { manifest: await manifest, files: plan.files, auditRecords: trail.length, ...(records && { backupRecords: true }), ...(plan.leftOut.length ? { leftOut: plan.leftOut } : {}) };
  },

  async drill(_ctx, input, facts): Promise<DrillOutcome> {
    const restored = await digestTar(input);
    const recorded = facts?.manifest as Manifest | undefined;
    const mismatches = recorded ? compareManifests(recorded, restored) : ['no recorded digests'];
    return { ok: mismatches.length === 0, summary: `${counted(restored.files, 'file')}, digests ${mismatches.length ? 'differ' : 'equal'}`, mismatches };
  },

  async restore(ctx, input, opts) {
    const dir = opts.to ?? ctx.project.dir;
    opts.onBegin?.();
    if (opts.to) {
      await extractTar(input, dir, ctx.source.name);
      return `config files extracted into ${dir}`;
    }
    const { manifest, bytes } = await extractConfig(input, dir, ctx.source.name);
    takeUpCopies(ctx, ctx.source.name, opts.snapshot && { id: opts.snapshot.id, time: Date.parse(opts.snapshot.time), bytes, manifest });
    return `config files extracted into ${dir}`;
  },

  writers: () => [],
};

/**
 * After a config restore in place: the copies of the audit trail and of the backup records the
 * snapshot carried, taken up (a fresh host) or dropped, each saying what happened. `carrying`
 * is the restored snapshot, whose own record goes with the backup records.
 */
export function takeUpCopies(ctx: Pick<SourceContext, 'project' | 'audit' | 'backups' | 'report'>, sourceName: string, carrying: CarryingSnapshot | undefined): void {
  const dir = ctx.project.dir;
  const audit = takeUpCopy(ctx.audit, path.join(dir, auditCopyName), ctx.project.stateDir);
  const records = carrying && takeUpRecords(ctx.backups, ctx.project.name, path.join(dir, recordsCopyName), carrying, sourceName);
  for (const said of [audit, records]) if (said) ctx.report[said.level](`${sourceName}: ${said.message}`);
}

/** Extracts a config tar into `dir`, digesting it on the way: the manifest its drill compares with. */
export async function extractConfig(input: Readable, dir: string, what: string): Promise<{ manifest: Manifest; bytes: number }> {
  const toTar = new PassThrough();
  const toDigest = new PassThrough();
  let bytes = 0;
  input.on('data', (d: Buffer) => (bytes += d.length));
  input.pipe(toTar);
  input.pipe(toDigest);
  const [, manifest] = await Promise.all([extractTar(toTar, dir, what), digestTar(toDigest)]);
  return { manifest, bytes };
}
