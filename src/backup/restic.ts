/**
 * The restic adapter: runs the argv from `restic-args.ts`, parses `--json` output with zod and
 * turns failures into BerthErrors (`restic-errors.ts`). One repository per instance.
 */
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { z } from 'zod';
import { BerthError } from '../lib/errors.js';
import type { RepositoryPassword, Retention } from '../project/backup-schema.js';
import { capture, exitOf, interrupt, start, type Cmd } from './process.js';
import { resticArgs, type StdinBackupArgs } from './restic-args.js';
import { classifyResticFailure } from './restic-errors.js';
import { listSftpDir, sftpRepositoryPath } from './sftp-list.js';

export const snapshotSchema = z.object({
  id: z.string(),
  short_id: z.string(),
  time: z.string(),
  hostname: z.string(),
  paths: z.array(z.string()).nullish(),
  tags: z.array(z.string()).nullish(),
  /** On a copy (`restic copy`, a replica): the id of the snapshot it was copied from. */
  original: z.string().nullish(),
});
export type Snapshot = z.output<typeof snapshotSchema>;

const summarySchema = z.object({
  message_type: z.literal('summary'),
  snapshot_id: z.string(),
  total_files_processed: z.number().optional(),
  total_bytes_processed: z.number(),
  data_added: z.number(),
  total_duration: z.number(),
});
export type BackupSummary = z.output<typeof summarySchema>;

const forgetSchema = z.array(
  z.object({
    tags: z.array(z.string()).nullish(),
    keep: z.array(snapshotSchema).nullish(),
    remove: z.array(snapshotSchema).nullish(),
  }),
);
export type ForgetGroup = z.output<typeof forgetSchema>[number];

export interface DumpStream {
  readonly stdout: Readable;
  /** Rejects with a BerthError when restic fails. */
  readonly done: Promise<void>;
  /**
   * Stops restic when the reader gave up (else it would block on a full pipe forever), and resolves
   * once it has exited. By SIGINT: restic removes its lock then; on SIGTERM it leaves the lock file.
   */
  cancel(): Promise<void>;
}

/**
 * restic's dump of one file, handed over once its first byte is there (or it ended cleanly). A
 * restic that refuses (a lock another restic holds, a missing snapshot) rejects here, before any
 * consumer has dropped a database or cleared a folder to receive the data: retrying is safe then.
 */
export async function startDump(restic: Pick<Restic, 'dump'>, snapshot: string, file: string): Promise<DumpStream> {
  const dump = restic.dump(snapshot, file);
  const ac = new AbortController();
  // A 'readable' listener keeps the stream paused; once() removes it again (then a pipe resumes the flow).
  const readable = once(dump.stdout, 'readable', { signal: ac.signal }).then(() => 'readable' as const);
  try {
    const first = await Promise.race([readable, dump.done.then(() => 'ended' as const)]);
    // Ended without a byte: only restic's exit says whether that is an empty file or a failure.
    if (first === 'readable' && dump.stdout.readableLength === 0) await dump.done;
  } catch (err) {
    await dump.cancel();
    throw err;
  } finally {
    ac.abort();
    readable.catch(() => undefined);
  }
  return dump;
}

/** Feeds a dump to `consume`; whichever side fails first stops the other. */
export async function consumeDump<T>(dump: DumpStream, consume: (input: Readable) => Promise<T>): Promise<T> {
  try {
    const [result] = await Promise.all([consume(dump.stdout), dump.done]);
    return result;
  } catch (err) {
    await dump.cancel();
    throw err;
  }
}

export interface CheckResult {
  readonly ok: boolean;
  readonly output: string;
}

/** Feeds restic's stdin; resolves when the producer finished cleanly. `signal` aborts when restic gave up. */
export type Feed = (stdin: Writable, signal: AbortSignal) => Promise<void>;

export interface Restic {
  readonly repository: string;
  /** A local path (not sftp:, rest:, s3:…): it can be bind-mounted into a helper container. */
  readonly local: boolean;
  /** RESTIC_REPOSITORY and RESTIC_PASSWORD (the value), for a restic run inside a helper container. */
  containerEnv(): Record<string, string>;
  /** The host command for these restic arguments (repository and password in its environment). */
  command(args: readonly string[]): Cmd;
  /** restic's stderr → the BerthError for it. */
  failure(stderr: string, code: number | null, action: string): BerthError;
  /** Creates the repository when there is none; `beforeCreate` may refuse (throw) first. True when created. */
  ensureInit(beforeCreate?: () => void): Promise<boolean>;
  backupStream(args: StdinBackupArgs, feed: Feed): Promise<BackupSummary>;
  snapshots(tags?: readonly string[]): Promise<Snapshot[]>;
  /** Takes restic's exclusive lock: a SIGKILLed run's stale one refuses it (see unlockStale, lock-wait.ts). */
  forget(retention: Retention, tags: readonly string[]): Promise<ForgetGroup[]>;
  /** Exclusive, like forget(). */
  prune(): Promise<string>;
  check(readDataSubset?: string): Promise<CheckResult>;
  /** `restic restore --verify`: restic re-reads the restored files and checks them against the recorded chunk hashes. */
  /**
   * `restic restore --verify`; with `include` (restic's `--include` arguments) only what they
   * match, and returns how many files restic restored and verified.
   */
  restoreVerified(snapshot: string, target: string, include?: readonly string[]): Promise<number | undefined>;
  /** Streams one file of a snapshot; `done` rejects with a BerthError when restic fails. */
  dump(snapshot: string, file: string): DumpStream;
  /** Removes locks whose holder is provably dead (e.g. a SIGKILLed backup); live ones stay. */
  unlockStale(): Promise<void>;
  /**
   * The repository's lock files as they are now (their names): a local one's `locks/` folder, an
   * sftp one's through the sftp client (one ssh login); undefined where they cannot be looked at.
   */
  locksNow(): Promise<string | undefined>;
}

export interface ResticOptions {
  readonly repository: string;
  readonly password: RepositoryPassword;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly binary?: string;
  /** For an sftp repository: the ssh command restic runs (`-o sftp.command=…`). */
  readonly sftpCommand?: string;
  /** The same ssh command as argv: lock files are looked at through the sftp client with it. */
  readonly sshArgv?: readonly string[];
}

export function createRestic(opts: ResticOptions): Restic {
  const { repository } = opts;
  const env = resticEnv(opts);
  const global = opts.sftpCommand ? ['-o', `sftp.command=${opts.sftpCommand}`] : [];
  const cmd = (args: string[]): Cmd => ({ file: opts.binary ?? 'restic', args: [...global, ...args], env });
  const fail = (r: { stderr: string; code: number | null }, action: string) => classifyResticFailure(r.stderr, r.code, repository, action);
  const run = async (args: string[], action: string): Promise<string> => {
    const r = await capture(cmd(args));
    if (r.code !== 0) throw fail(r, action);
    return r.stdout;
  };
  const unlockStale = async () => void (await capture(cmd(resticArgs.unlockStale())));
  // A path, not a backend URL such as `sftp:…` or `rest:…`.
  const local = !/^[a-z0-9]+:/i.test(repository);
  /** The names in the sftp repository's folder (or a folder in it); undefined where it cannot be listed. */
  const sftpFolder = async (sub = ''): Promise<string[] | undefined> => {
    const dir = sftpRepositoryPath(repository);
    return opts.sshArgv && dir !== undefined ? listSftpDir(opts.sshArgv, sub ? `${dir.replace(/\/+$/, '')}/${sub}` : dir) : undefined;
  };

  return {
    repository,
    local,
    command: (args) => cmd([...args]),
    containerEnv() {
      const password = env.RESTIC_PASSWORD ?? fs.readFileSync(env.RESTIC_PASSWORD_FILE!, 'utf8').replace(/\r?\n$/, '');
      return { RESTIC_REPOSITORY: repository, RESTIC_PASSWORD: password, RESTIC_PROGRESS_FPS: env.RESTIC_PROGRESS_FPS! };
    },
    failure: (stderr, code, action) => classifyResticFailure(stderr, code, repository, action),
    async restoreVerified(snapshot, target, include = []) {
      const out = await run(resticArgs.restore(snapshot, target, include), 'restore');
      const verified = /finished verifying (\d+) files/.exec(out);
      return include.length && verified ? Number(verified[1]) : undefined;
    },
    async ensureInit(beforeCreate) {
      // A repository with a config file exists; its password is checked by the first real command.
      if (local && fs.existsSync(`${repository}/config`)) return false;
      // Over sftp, a look at its folder (one login) instead of restic's probe (a login and a key derivation).
      if ((await sftpFolder())?.includes('config')) return false;
      const probe = await capture(cmd(resticArgs.probe()));
      if (probe.code === 0) return false;
      const err = fail(probe, 'open');
      if (!/no restic repository/.test(err.message)) throw err;
      beforeCreate?.();
      await run(resticArgs.init(), 'init');
      return true;
    },
    backupStream: (args, feed) => backupStream(cmd(resticArgs.backupStdin(args)), feed, fail, unlockStale),
    async snapshots(tags = []) {
      const out = await run(resticArgs.snapshots(tags), 'snapshots');
      return parseJson(z.array(snapshotSchema).nullable(), out, 'snapshots') ?? [];
    },
    async forget(retention, tags) {
      const out = await run(resticArgs.forget(retention, tags), 'forget');
      // No snapshot carries these tags (a source not backed up yet): restic prints nothing at all.
      return out.trim() === '' ? [] : (parseJson(forgetSchema.nullable(), out, 'forget') ?? []);
    },
    prune: () => run(resticArgs.prune(), 'prune'),
    async check(subset) {
      const r = await capture(cmd(resticArgs.check(subset)), { timeoutMs: 3600_000 });
      const output = `${r.stdout}${r.stderr}`;
      // A wrong password, a lock, a missing repository or a refused flag is not damage: report it as the error it is.
      if (r.code !== 0 && /wrong password|already locked|Is there a repository|unable to open config|check flag/i.test(r.stderr)) throw fail(r, 'check');
      return { ok: r.code === 0, output };
    },
    dump(snapshot, file) {
      const child = start(cmd(resticArgs.dump(snapshot, file)));
      child.stdin!.end();
      const done = exitOf(child).then((r) => {
        if (r.code !== 0) throw fail(r, `dump ${file}`);
      });
      // Not the child's own stdout: when restic exits, Node resumes a child's unpiped stdout and
      // whatever was still buffered would be lost to a consumer that attaches a moment later.
      const stdout = child.stdout!.pipe(new PassThrough());
      return { stdout, done, cancel: () => interrupt(child) };
    },
    unlockStale,
    async locksNow() {
      if (!local) return (await sftpFolder('locks'))?.join(' ');
      try {
        return fs.readdirSync(path.join(repository, 'locks')).sort().join(' ');
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * restic writes a JSON status line 60 times a second unless told otherwise; berth shows progress
 * every 2 s, so once a second is plenty (measurably less work on a short re-run).
 */
const progressFps = (env: Readonly<Record<string, string | undefined>>) => env.RESTIC_PROGRESS_FPS ?? '1';

function resticEnv(opts: ResticOptions): Record<string, string> {
  const base: Record<string, string> = { RESTIC_REPOSITORY: opts.repository, RESTIC_PROGRESS_FPS: progressFps(opts.env ?? process.env) };
  const p = opts.password;
  if ('file' in p) {
    if (!fs.existsSync(p.file)) {
      throw new BerthError('REPOSITORY', `the repository password file ${p.file} does not exist`, 'create it (e.g. `head -c 32 /dev/urandom | base64 > FILE && chmod 600 FILE`) and keep a copy off this host, or set backup.password_env');
    }
    return { ...base, RESTIC_PASSWORD_FILE: p.file };
  }
  const value = (opts.env ?? process.env)[p.env];
  if (!value) throw new BerthError('REPOSITORY', `the environment variable ${p.env} (backup.password_env) is not set`, `export ${p.env}=… with the repository password`);
  return { ...base, RESTIC_PASSWORD: value };
}

/**
 * `restic backup --stdin` fed by `feed`. A feed that fails (the dump tool failed) interrupts restic
 * before EOF, so it saves no snapshot of the partial stream. restic interrupted while it takes its
 * lock (it waits 200 ms after writing the lock file) exits without removing that file; `unlockStale`
 * (`restic unlock`: only locks of dead processes) then removes it, so a failed source leaves no lock
 * that would refuse the next check or prune.
 */
async function backupStream(cmd: Cmd, feed: Feed, fail: (r: { stderr: string; code: number | null }, action: string) => BerthError, unlockStale: () => Promise<void>): Promise<BackupSummary> {
  const child = start(cmd);
  const exit = exitOf(child);
  let summary: BackupSummary | undefined;
  watchSummary(child.stdout!, (s) => (summary = s));
  child.stdin!.on('error', () => undefined); // EPIPE when restic gave up; its exit says why
  const ac = new AbortController();
  let resticGaveUp = false;
  void exit.then(() => {
    resticGaveUp = true;
    ac.abort();
  });
  let feedError: unknown;
  let resticFailedFirst = false;
  try {
    await feed(child.stdin!, ac.signal);
    child.stdin!.end();
  } catch (err) {
    feedError = err;
    // restic failing first (full disk, wrong password, a lock it cannot take) is the cause; the
    // producer only lost its reader. restic's stdin destroyed means restic closed it: it is giving
    // up, though its exit may not have been seen yet (the dump can be through first).
    resticFailedFirst = resticGaveUp || child.stdin!.destroyed;
    // Interrupt before EOF: restic then saves no snapshot of the partial stream.
    if (!resticGaveUp) void interrupt(child);
  }
  const r = await exit;
  if (feedError !== undefined) {
    if (resticFailedFirst && r.code !== 0) throw fail(r, 'backup');
    await unlockStale();
    throw feedError;
  }
  if (r.code !== 0 || !summary) throw fail(r, 'backup');
  return summary;
}

/** Calls `onSummary` with the summary line of `restic backup --json` output. */
export function watchSummary(stdout: Readable, onSummary: (s: BackupSummary) => void): void {
  eachLine(stdout, (line) => {
    const s = summaryOf(line);
    if (s) onSummary(s);
  });
}

/** Calls `onLine` with every complete line of `stdout`. */
export function eachLine(stdout: Readable, onLine: (line: string) => void): void {
  let buffered = '';
  stdout.on('data', (d: Buffer) => {
    buffered += d.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    lines.forEach(onLine);
  });
}

/** The summary of `restic backup --json`, when `line` is it. */
export function summaryOf(line: string): BackupSummary | undefined {
  const parsed = line.startsWith('{"message_type":"summary"') ? summarySchema.safeParse(JSON.parse(line)) : undefined;
  return parsed?.success ? parsed.data : undefined;
}

function parseJson<T>(schema: z.ZodType<T>, text: string, what: string): T {
  const start = text.search(/[[{]/);
  const result = start < 0 ? undefined : schema.safeParse(JSON.parse(text.slice(start)));
  if (!result?.success) throw new BerthError('REPOSITORY', `unexpected output from restic ${what}: ${text.slice(0, 200)}`, 'berth needs restic >= 0.14');
  return result.data;
}
