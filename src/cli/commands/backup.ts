/** backup run|list|status|prune|schedule|verify, and restore: parsing and printing only. */
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline/promises';
import { Option, type Command } from 'commander';
import { controlSocketPath, requestBackupRun } from '../../agent/control-protocol.js';
import { createBackupContext, requireBackup, selectSources, type RepositoryOverride } from '../../backup/context.js';
import { effectiveSources, ownRetentions, ownSchedules } from '../../project/backup-schema.js';
import { describeRetention } from '../../project/retention-schema.js';
import { parseRestorePath } from '../../project/path-pattern.js';
import { SpecError } from '../../project/schema-kit.js';
import { snapshotFiles } from '../../backup/files.js';
import { acceptPartlyRestored, partlyRestoredState } from '../../backup/held.js';
import { pruneBackups } from '../../backup/prune.js';
import { recoverAll } from '../../backup/recover.js';
import { planRestore, restorePlanned } from '../../backup/restore.js';
import { runBackup, runOutcomeSchema, type RunOutcome } from '../../backup/run.js';
import { nextRuns, retryComing } from '../../backup/schedule.js';
import { snapshotSource, takenAt, takenBefore, verifyBackups, type VerifyOutcome } from '../../backup/verify.js';
import { formatBytes } from '../../lib/bytes.js';
import { lastBackupAttempt, validationSince, validationWindowDays, validationWindowStart, type BackupStore, type DrillRecord, type ValidationTally, type VerifyRecord } from '../../store/backups.js';
import { counted } from '../../lib/plural.js';
import { BerthError, exitCodes } from '../../lib/errors.js';
import { parsePointInTime, pointInTimeForms } from '../../lib/point-in-time.js';
import { formatMs, formatUtcMinute } from '../../lib/time.js';
import { openContext, reporterFor } from '../context.js';
import { printJson, reportError, table } from '../output.js';
import { positiveInt, readDataSubset } from '../option-parsers.js';
import { globals, runWithContext } from '../run.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];
const time = (ms?: number) => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '-');

export function registerBackupCommands(program: Command): void {
  const backup = program.command('backup').description('verified backups into a restic repository: run, list, files, status, prune, schedule, verify');

  backup
    .command('run')
    .description('dump every source (or --source S) into the restic repository, one snapshot per source')
    .option('-s, --source <name>', 'only this source (repeatable)', collect)
    .option('--agent', "have the project's running agent do it (its environment, no start-up; survives this terminal closing)")
    .option('--init', 'create the repository even though this host stored snapshots there before (it is gone, and a new, empty one is wanted)')
    .option('--accept-partial', 'back up a source a failed restore left partly restored, its data accepted as it is (checked by you); its backups resume')
    .action((o: { source?: string[]; agent?: boolean; init?: boolean; acceptPartial?: boolean }, cmd: Command) =>
      runWithContext(cmd, async (base, g) => {
        if (o.agent && o.init) throw new BerthError('CONFIG', '--init and --agent do not go together', 'run `berth backup run --init` here once; the agent then finds the new repository');
        const ctx = createBackupContext(base);
        if (o.acceptPartial && !selectSources(ctx, o.source).filter((s) => acceptPartlyRestored(ctx, s.name)).length) {
          base.report.info('--accept-partial: no source to back up was partly restored');
        }
        const outcome = o.agent
          ? agentOutcome(await requestBackupRun(controlSocketPath(base.project.stateDir), o.source, base.report))
          : await runBackup(ctx, { sources: o.source, init: o.init });
        g.json ? printJson(outcome) : process.stdout.write(runSummary(outcome));
        if (outcome.status !== 'succeeded') {
          const failed = outcome.results.filter((r) => r.status === 'failed');
          const err = new BerthError('BACKUP', `backup run ${outcome.runId} ${outcome.status}: ${failed.map((f) => `${f.source} failed (${f.error})`).join('; ')}`, failed.find((f) => f.hint)?.hint ?? 'the other sources were stored; fix the cause and run `berth backup run --source NAME`');
          if (g.json) process.exitCode = exitCodes.BACKUP;
          else throw err;
        }
      }),
    );

  backup
    .command('list')
    .description('backup runs with the result of each source, newest first (--snapshots: the repository\'s snapshots; --verifies: the verifies and their drills)')
    .option('-n, --limit <n>', 'how many runs (or verifies)', positiveInt, 10)
    .option('--snapshots', 'list the snapshots in the repository instead')
    .option('--verifies', "list the verifies instead, of backup.repository and of others (`verify --repository`): restic check, and each drill's result, restore time and rate")
    .option('-s, --source <name>', 'with --snapshots: only this source\'s (repeatable)', collect)
    .option('--before <time>', 'with --snapshots: only those taken before this time, as `restore --before` takes it')
    .action((o: { limit: number; snapshots?: boolean; verifies?: boolean; source?: string[]; before?: string }, cmd: Command) =>
      runWithContext(cmd, async (base, g) => {
        if (o.snapshots && o.verifies) throw new BerthError('CONFIG', '--snapshots and --verifies do not go together', 'list one, then the other');
        const filters = [o.source?.length && '--source', o.before !== undefined && '--before'].filter(Boolean);
        if (filters.length && !o.snapshots) throw new BerthError('CONFIG', `${filters.join(' and ')} ${filters.length === 1 ? 'applies' : 'apply'} to --snapshots only`, 'add --snapshots');
        const before = beforeOption(o, undefined);
        const ctx = createBackupContext(base);
        if (o.verifies) {
          const verifies = ctx.backups.allVerifies(ctx.project.name, o.limit).map((v) => withDrills(ctx.backups, v));
          if (g.json) return printJson(verifies);
          return void process.stdout.write(`${table(verifyRows(verifies))}\n`);
        }
        if (o.snapshots) {
          if (o.source?.length) selectSources(ctx, o.source); // a typo is named as one, with the sources there are
          const snaps = (await ctx.restic().snapshots(['berth', `project=${ctx.project.name}`])).filter(
            (s) => (!o.source?.length || o.source.includes(snapshotSource(s) ?? '')) && takenBefore(s, before),
          );
          if (g.json) return printJson(snaps);
          const rows = [['SNAPSHOT', 'TIME', 'SOURCE', 'FILE', 'KIND']];
          for (const s of snaps) rows.push([s.short_id, `${new Date(takenAt(s)).toISOString().slice(0, 19).replace('T', ' ')} UTC`, snapshotSource(s) ?? '-', s.paths?.[0] ?? '-', s.tags?.includes('kind=safety') ? 'safety' : 'backup']);
          return void process.stdout.write(`${table(rows)}\n`);
        }
        const runs = ctx.backups.runs(ctx.project.name, o.limit).map((r) => ({ ...r, results: ctx.backups.results(r.id).map(({ facts: _f, ...x }) => x) }));
        if (g.json) return printJson(runs);
        const rows = [['RUN', 'KIND', 'STATUS', 'STARTED', 'SOURCE', 'RESULT', 'SNAPSHOT', 'SIZE', 'NOTE']];
        for (const r of runs) {
          if (r.results.length === 0) rows.push([r.id, r.kind, r.status, time(r.startedAt), '-', '-', '-', '-', (r.error ?? '').slice(0, 60)]);
          for (const [i, x] of r.results.entries()) {
            rows.push([i ? '' : r.id, i ? '' : r.kind, i ? '' : r.status, i ? '' : time(r.startedAt), x.source, x.status, x.snapshotId ?? '-', x.bytes !== undefined ? formatBytes(x.bytes) : '-', x.suspect ? `SUSPECT: ${x.suspect}` : (x.error ?? '').slice(0, 80)]);
          }
        }
        process.stdout.write(`${table(rows)}\n`);
      }),
    );

  backup
    .command('files [snapshot]')
    .description('what one source\'s snapshot ("latest" by default, or an id) holds: a volume\'s files from its root, the config\'s from the project folder, as `restore --path` takes them; a dump\'s file')
    .requiredOption('-s, --source <name>', 'the source')
    .option('--path <path>', 'a volume or the config: only this file or folder and what is below it, from the volume\'s root or the project folder; * and ? within a name (repeatable)', collect)
    .option('--before <time>', 'the source\'s newest snapshot taken before this time, as `restore --before` takes it')
    .action((snapshot: string | undefined, o: { source: string; path?: string[]; before?: string }, cmd: Command) =>
      runWithContext(cmd, async (base, g) => {
        const before = beforeOption(o, snapshot);
        const ctx = createBackupContext(base);
        const paths = o.path && restorePaths(o.path);
        const listed = await snapshotFiles(ctx, { snapshot: snapshot ?? 'latest', ...(before !== undefined && { before }), source: o.source, ...(paths && { paths }) });
        if (g.json) return printJson(listed);
        const rows = [['TYPE', 'SIZE', 'MODIFIED', 'PATH']];
        for (const e of listed.entries) rows.push([e.type, e.size !== undefined ? formatBytes(e.size) : '-', e.mtime ? e.mtime.slice(0, 19).replace('T', ' ') : '-', e.path]);
        const files = listed.entries.filter((e) => e.type === 'file');
        const total = files.reduce((n, e) => n + (e.size ?? 0), 0);
        process.stdout.write(`${table(rows)}\n${listed.source} in snapshot ${listed.snapshot}${listed.root ? ` (recorded at ${listed.root})` : ''}: ${files.length} file(s), ${formatBytes(total)}\n`);
      }),
    );

  backup
    .command('status')
    .description('per source: the newest good backup, whether the last attempt failed or is suspect, and the last verify')
    .action((_o: unknown, cmd: Command) =>
      runWithContext(cmd, async (base, g) => {
        const ctx = createBackupContext(base);
        const cfg = requireBackup(ctx.project);
        const sources = effectiveSources(cfg).map((s) => {
          const last = ctx.backups.lastResult(ctx.project.name, s.name);
          const partly = partlyRestoredState(ctx, s.name);
          // The newest attempt, whether or not it stored anything: a night that failed is said, not hidden behind the last good one.
          const attempt = lastBackupAttempt(base.store.db, ctx.project.name, s.name, retryComing);
          const failed = attempt && !attempt.ok ? { failed: { at: new Date(attempt.at).toISOString(), error: attempt.error ?? 'no reason recorded', ...(attempt.retryAt !== undefined && { retryAt: new Date(attempt.retryAt).toISOString() }) } } : {};
          return { source: s.name, type: s.type, ...(s.tables && { tables: s.tables }), ...(s.schedule && { schedule: s.schedule }), lastSnapshot: last?.snapshotId, lastAt: last?.finishedAt, bytes: last?.bytes, suspect: last?.suspect, ...failed, ...(partly && { partlyRestored: { since: new Date(partly.sinceMs).toISOString(), by: partly.by, snapshot: partly.snapshot || undefined, heldStopped: partly.held } }) };
        });
        const [verify] = ctx.backups.verifies(ctx.project.name, 1);
        const last = verify && withDrills(ctx.backups, verify);
        // Verifies of other repositories (`backup verify --repository`, the replica) are shown apart, the newest of each.
        const others = ctx.backups.otherVerifies(ctx.project.name).map((v) => withDrills(ctx.backups, v));
        const lastRun = ctx.backups.runs(ctx.project.name, 1)[0];
        const validation = validationRate(validationSince(base.store.db, ctx.project.name, validationWindowStart(ctx.clock())));
        if (g.json) return printJson({ repository: cfg.repository, lastRun, sources, lastVerify: last, otherVerifies: others, validation });
        const rows = [['SOURCE', 'TYPE', 'LAST GOOD', 'SNAPSHOT', 'SIZE', 'STATE']];
        // A table subset and a schedule of its own are said with the type: they change what "LAST GOOD" covers and how old it may be.
        const kind = (s: (typeof sources)[number]) => [s.type, ...(s.tables ? [counted(s.tables.length, 'table')] : []), ...(s.schedule ? [`every "${s.schedule}"`] : [])].join(', ');
        for (const s of sources) rows.push([s.source, kind(s), time(s.lastAt), s.lastSnapshot ?? '-', s.bytes !== undefined ? formatBytes(s.bytes) : '-', s.partlyRestored ? `PARTLY RESTORED since ${formatUtcMinute(Date.parse(s.partlyRestored.since))} (${s.partlyRestored.heldStopped.length ? `${s.partlyRestored.heldStopped.join(', ')} held stopped; ` : ''}not backed up)` : s.failed ? `FAILED ${formatUtcMinute(Date.parse(s.failed.at))}${s.failed.retryAt ? ` (retry due ${formatUtcMinute(Date.parse(s.failed.retryAt))})` : ''}: ${s.failed.error.slice(0, 100)}` : s.suspect ? `SUSPECT: ${s.suspect}` : s.lastAt ? 'ok' : 'never backed up']);
        process.stdout.write(`repository ${cfg.repository}\nlast run: ${lastRun ? `${lastRun.id} ${lastRun.status}` : 'none'}\n${table(rows)}\n`);
        const verifyLine = (v: VerifiedWithDrills) =>
          `${v.id} ${v.status} (${v.drills.length ? v.drills.map((x) => `${x.source} ${x.status} ${formatMs(x.restoreMs)}`).join(', ') : (v.error ?? (v.checkOk === false ? 'restic check found damage' : 'nothing drilled'))})`;
        process.stdout.write(last ? `last verify: ${verifyLine(last)}\n` : 'last verify: never\n');
        for (const o of others) process.stdout.write(`last verify of ${o.otherRepository}: ${verifyLine(o)}\n`);
        const pct = (r: number) => `${Math.floor(r * 1000) / 10} %`;
        process.stdout.write(
          validation.drills
            ? `validation, last ${validation.windowDays} days: ${validation.drillsPassed} of ${counted(validation.drills, 'drill')} passed (${pct(validation.ratio!)}), ${validation.verifiesPassed} of ${counted(validation.verifies, 'verify', 'verifies')}\n`
            : `validation, last ${validation.windowDays} days: no drill\n`,
        );
      }),
    );

  backup
    .command('prune')
    .description("forget snapshots beyond the retention (keep-daily 7, weekly 4, monthly 12 unless berth.yaml says otherwise; a source's own `retention` over it) and free their space")
    .action((_o: unknown, cmd: Command) =>
      runWithContext(cmd, async (base, g) => {
        const outcome = await pruneBackups(createBackupContext(base));
        g.json ? printJson(outcome) : process.stdout.write(`kept ${outcome.kept}, removed ${outcome.removed.length}${outcome.removed.map((r) => `\n  ${r.source} ${r.snapshot} ${r.time}${r.kind === 'safety' ? ' (safety)' : ''}`).join('')}\n`);
      }),
    );

  backup
    .command('schedule')
    .description('the cron schedules `berth agent` runs backups (backup.schedule, default "0 2 * * *"; a source\'s own `schedule`) and verifies (backup.verify.schedule, default "0 3 * * 0") on, with the next run times')
    .option('-n, --count <n>', 'how many next runs', positiveInt, 5)
    .action((o: { count: number }, cmd: Command) =>
      runWithContext(cmd, async (base, g) => {
        const cfg = requireBackup(base.project);
        const next = nextRuns(cfg.schedule, o.count).map((d) => d.toISOString());
        const verify = cfg.verifySchedule ? { schedule: cfg.verifySchedule, next: nextRuns(cfg.verifySchedule, o.count).map((d) => d.toISOString()) } : undefined;
        const own = Object.entries(ownSchedules(cfg)).map(([source, schedule]) => ({ source, schedule, next: nextRuns(schedule, o.count).map((d) => d.toISOString()) }));
        const jobs = [`backup:${base.project.name}`, ...own.map((x) => `backup:${base.project.name}:${x.source}`), ...(verify ? [`verify:${base.project.name}`] : [])];
        const ownRetention = ownRetentions(cfg);
        const out = { schedule: cfg.schedule, next, retries: cfg.retries, retryWaitMs: cfg.retryWaitMs, retention: cfg.retention, ownRetention, sources: own, verify: verify ?? null, jobs };
        const retries = cfg.retries
          ? `failed sources backed up again ${cfg.retries === 1 ? `once, ${formatMs(cfg.retryWaitMs)} after the run` : `${cfg.retries} times, ${formatMs(cfg.retryWaitMs)} apart`} (backup.retries, backup.retry_wait)`
          : 'failed sources are not retried (backup.retries: 0)';
        const list = (runs: readonly string[]) => runs.map((n) => `  ${n}`).join('\n');
        const verifyText = verify
          ? `verify "${verify.schedule}" (run by \`berth agent\`: restic check of 10 % of the data, then a restore drill of every source)\nnext runs:\n${list(verify.next)}\n`
          : 'verify: not scheduled (backup.verify: false); run `berth backup verify` yourself\n';
        const nightly = own.length ? `backup run of the sources without a schedule of their own, then prune of all` : 'backup run, then prune';
        const ownText = own.map((x) => `source ${x.source}: "${x.schedule}" (its own schedule, run by \`berth agent\`: backup run of ${x.source} alone; not retried, pruned by the nightly job)\nnext runs:\n${list(x.next)}\n`).join('');
        const retention = `retention (prune): ${describeRetention(cfg.retention)}${Object.entries(ownRetention).map(([name, r]) => `; ${name}: ${describeRetention(r)} (its own)`).join('')}\n`;
        g.json ? printJson(out) : process.stdout.write(`schedule "${cfg.schedule}" (run by \`berth agent\`: ${nightly})\n${retries}\n${retention}next runs:\n${list(next)}\n${ownText}${verifyText}`);
      }),
    );

  backup
    .command('verify')
    .description('restic check with a read-data subset, then a restore drill of the newest snapshot of each source into scratch databases/dirs')
    .option('--snapshot <id>', 'drill only this snapshot')
    .option('-s, --source <name>', 'drill only this source (repeatable)', collect)
    .option('--read-data-subset <subset>', 'share of pack data restic check reads: 10%, 100%, part 1/5, or a size such as 500M', readDataSubset, '10%')
    .option('--repository <repo>', "verify this restic repository instead of backup.repository (the backup host's replica, say); drills compare with what this host recorded, a copy's by its original")
    .addOption(passwordFileOption)
    .addOption(sshPortOption)
    .addOption(sshIdentityOption)
    .addOption(sshKnownHostsOption)
    .action((o: { snapshot?: string; source?: string[]; readDataSubset: string } & RepositoryFlags, cmd: Command) =>
      runWithContext(cmd, async (base, g) => {
        const outcome = await verifyBackups(createBackupContext(base, repositoryOverride(o)), { snapshot: o.snapshot, sources: o.source, readDataSubset: o.readDataSubset });
        g.json ? printJson({ ...outcome, check: { ...outcome.check, output: undefined } }) : process.stdout.write(verifySummary(outcome));
        if (!outcome.ok) {
          const what = [!outcome.check.ok && `restic check found damage${outcome.check.damagedPacks.length ? ` in pack(s) ${outcome.check.damagedPacks.join(', ')}` : ''}`, outcome.drills.length === 0 && 'no snapshot to drill', ...outcome.drills.filter((d) => !d.ok).map((d) => `drill of ${d.source} failed: ${d.error ?? d.mismatches.slice(0, 3).join('; ')}`)].filter(Boolean);
          const hint = !outcome.check.ok
            ? 'run `restic check --read-data` for details; snapshots that do not use the damaged packs stay restorable; take a fresh `berth backup run`'
            : outcome.drills.length === 0
              ? 'run `berth backup run` first'
              : outcome.drills.every((d) => d.ok || d.unrecorded)
                ? 'this host has nothing recorded of those snapshots (made by another host, or older than the newest ones a restored config snapshot carried): take a `berth backup run` here, then verify again'
                : outcome.drills.some((d) => !d.ok && d.error)
                  ? 'a drill could not run: fix the cause named above and verify again'
                  : 'the restored data differs from what was recorded at dump time (writes during the dump can cause this); take a fresh `berth backup run` and verify again';
          const err = new BerthError('VERIFY', `verify ${outcome.verifyId} failed: ${what.join('; ')}`, hint);
          if (g.json) process.exitCode = exitCodes.VERIFY;
          else throw err;
        }
      }),
    );

  program
    .command('restore [snapshot]')
    .description('restore a snapshot ("latest", an id, or each source\'s newest --before a time): databases into their service (writers stopped, safety snapshot first), volumes, config; --all rebuilds the project on a fresh host')
    .option('-s, --source <name>', 'only this source (repeatable)', collect)
    .option('--to <target>', 'restore elsewhere: a directory (volume, redis, config) or a database name')
    .option('--path <path>', 'with --to and one volume or config source: only this file or folder, from the volume\'s root or the project folder; * and ? within a name (repeatable)', collect)
    .option('--before <time>', `each source's newest snapshot taken before this time (not one after a bad change): ${pointInTimeForms}`)
    .option('--all', 'fresh host: config, volumes, `berth up`, then databases; timed end to end')
    .option('--repository <repo>', 'use this restic repository instead of backup.repository (needed by --all in an empty folder)')
    .addOption(passwordFileOption)
    .option('--project <name>', 'with --all when the repository holds several projects')
    .addOption(sshPortOption)
    .addOption(sshIdentityOption)
    .addOption(sshKnownHostsOption)
    .option('--no-safety', 'do not take a safety snapshot of the current data first')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (snapshot: string | undefined, o: RestoreOptions, cmd: Command) => {
      const g = globals(cmd);
      let override: RepositoryOverride;
      let before: number | undefined;
      try {
        refuseOptionsOfOtherMode(o);
        override = repositoryOverride(o);
        before = beforeOption(o, snapshot);
      } catch (err) {
        process.exitCode = reportError(err, g);
        return;
      }
      if (o.all) {
        try {
          await confirm(o.yes, 'rebuild this project from the backup repository (config, volumes, databases are overwritten)');
          const open = async () => {
            const base = await openContext(g);
            return { ctx: createBackupContext(base, override), close: () => base.close() };
          };
          const outcome = await recoverAll(open, path.resolve(g.dir), { ...(before !== undefined && { before }), ...override, project: o.project, report: reporterFor(g) });
          g.json ? printJson(outcome) : process.stdout.write(`restored ${outcome.sources.length} source(s), ${formatBytes(outcome.bytes)} in ${formatMs(outcome.totalMs)} (${formatBytes(outcome.bytesPerSecond)}/s); projected for 500 GB at this rate: ${(outcome.projected500GbHours).toFixed(2)} h\n`);
        } catch (err) {
          process.exitCode = reportError(err, g);
        }
        return;
      }
      await runWithContext(cmd, async (base) => {
        if (!snapshot && before === undefined) throw new BerthError('CONFIG', 'which snapshot? give "latest", a snapshot id, or --before TIME', 'see `berth backup list --snapshots`');
        const ctx = createBackupContext(base, override);
        const opts = { snapshot: snapshot ?? 'latest', ...(before !== undefined && { before }), sources: o.source, to: o.to, noSafety: !o.safety, ...(o.path && { paths: restorePaths(o.path) }) };
        const plan = await planRestore(ctx, opts);
        if (plan.length === 0) throw new BerthError('NOT_FOUND', 'nothing to restore', 'name a source with --source');
        const what = o.path ? `${o.path.join(', ')} of ` : '';
        await confirm(o.yes, `restore ${what}${plan.map((p) => `${p.source.name} from ${p.snapshot.short_id} (${formatUtcMinute(Date.parse(p.snapshot.time))})`).join(', ')}${o.to ? ` to ${o.to}` : ' over the current data'}`);
        const restored = await restorePlanned(ctx, plan, opts);
        g.json ? printJson(restored) : process.stdout.write(restored.map((r) => `${r.source}: restored ${r.snapshot} of ${formatUtcMinute(Date.parse(r.snapshotTime))} — ${r.summary}${r.safetySnapshot ? ` (safety snapshot ${r.safetySnapshot})` : ''}\n`).join(''));
      });
    });
}

/** --repository, --password-file and the --ssh-* options of `restore` and `backup verify`. */
interface RepositoryFlags {
  repository?: string;
  passwordFile?: string;
  sshPort?: string;
  sshIdentity?: string;
  sshKnownHosts?: string;
}

const passwordFileOption = new Option('--password-file <file>', 'use this repository password file instead of the configured one');
const sshPortOption = new Option('--ssh-port <port>', 'with an sftp --repository: the ssh port (else berth.yaml backup.ssh, else ~/.ssh/config)');
const sshIdentityOption = new Option('--ssh-identity <file>', 'with an sftp --repository: the private key to log in with');
const sshKnownHostsOption = new Option('--ssh-known-hosts <file>', "with an sftp --repository: a known_hosts file holding the repository host's key (strict checking)");

interface RestoreOptions extends RepositoryFlags {
  before?: string;
  source?: string[];
  to?: string;
  path?: string[];
  all?: boolean;
  project?: string;
  safety: boolean;
  yes?: boolean;
}

/** `--path` values, checked as `parseRestorePath` does (from the volume's root or the project folder). */
function restorePaths(values: readonly string[]): string[] {
  return values.map((v) => {
    try {
      return parseRestorePath(v);
    } catch (err) {
      if (err instanceof SpecError) throw new BerthError('CONFIG', `--path ${err.message || `"${v}": not a path`}`, 'give a path from the volume\'s root (or the project folder, for the config), e.g. --path photos/2024 or --path "logs/*.gz"');
      throw err;
    }
  });
}

/** --before as ms since the epoch; a snapshot id beside --all is an error (one beside --before is planRestore's). */
function beforeOption(o: { before?: string; all?: boolean }, snapshot: string | undefined): number | undefined {
  if (o.all && snapshot !== undefined && snapshot !== 'latest') throw new BerthError('CONFIG', `--all restores every source's newest snapshot; it takes no snapshot id (${snapshot})`, 'drop the id, or give --before TIME to rebuild the project as it was then');
  if (o.before === undefined) return undefined;
  try {
    return parsePointInTime(o.before, Date.now());
  } catch (err) {
    throw new BerthError('CONFIG', `--before ${(err as Error).message}`, 'e.g. --before "2026-12-06 10:00" (UTC) or --before 36h; `berth backup list --snapshots` shows when each was taken');
  }
}

/** Options that only one of the two restores takes, given to the other: an error, not silently ignored. */
function refuseOptionsOfOtherMode(o: RestoreOptions): void {
  if (o.all) {
    const given = [o.source?.length && '--source', o.to !== undefined && '--to', o.path?.length && '--path', !o.safety && '--no-safety'].filter(Boolean);
    if (given.length) throw new BerthError('CONFIG', `--all rebuilds the whole project (every source, in place, no safety snapshot on a fresh host); it takes no ${given.join(', ')}`, `drop ${given.join(', ')}, or drop --all to restore single sources`);
  } else if (o.project !== undefined) {
    throw new BerthError('CONFIG', '--project applies to --all only (which project of a shared repository to rebuild)', 'drop --project; a single restore is of this folder\'s project');
  }
}

/** --repository, --password-file and the --ssh-* options, checked and resolved against the working folder. */
function repositoryOverride(o: RepositoryFlags): RepositoryOverride {
  const remote = o.repository !== undefined && /^[a-z0-9]+:/.test(o.repository);
  const sshGiven = [o.sshPort && '--ssh-port', o.sshIdentity && '--ssh-identity', o.sshKnownHosts && '--ssh-known-hosts'].filter(Boolean);
  if (sshGiven.length && !o.repository?.startsWith('sftp:')) {
    const one = sshGiven.length === 1;
    throw new BerthError('CONFIG', `${sshGiven.join(', ')} ${one ? 'applies' : 'apply'} to an sftp: --repository only`, `pass --repository sftp:user@host:/path, or drop ${one ? 'it' : 'them'}`);
  }
  const port = o.sshPort === undefined ? undefined : Number(o.sshPort);
  if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port <= 65535)) throw new BerthError('CONFIG', `--ssh-port ${o.sshPort}: should be a port number (1-65535)`);
  const files = [
    ['--ssh-identity', o.sshIdentity, undefined],
    ['--ssh-known-hosts', o.sshKnownHosts, undefined],
    ['--password-file', o.passwordFile, 'give the file holding the repository password (the copy kept off the primary host)'],
  ] as const;
  for (const [flag, file, hint] of files) {
    if (file !== undefined && !fs.existsSync(file)) throw new BerthError('CONFIG', `${flag} ${file}: no such file`, hint);
  }
  const ssh = { ...(port !== undefined && { port }), ...(o.sshIdentity && { identityFile: path.resolve(o.sshIdentity) }), ...(o.sshKnownHosts && { knownHosts: path.resolve(o.sshKnownHosts) }) };
  return {
    ...(o.repository && { repository: remote ? o.repository : path.resolve(o.repository) }),
    ...(o.passwordFile && { passwordFile: path.resolve(o.passwordFile) }),
    ...(sshGiven.length && { ssh }),
  };
}

async function confirm(yes: boolean | undefined, what: string): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw new BerthError('CONFLICT', `refusing to ${what} without confirmation (no terminal to ask on)`, 'pass --yes to confirm');
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${what}? type "yes" to go on: `);
    if (answer.trim().toLowerCase() !== 'yes') throw new BerthError('CONFLICT', 'restore cancelled');
  } finally {
    rl.close();
  }
}

function agentOutcome(answer: unknown): RunOutcome {
  const parsed = runOutcomeSchema.safeParse(answer);
  if (!parsed.success) throw new BerthError('CONFLICT', `the agent's answer is not a backup outcome: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`, 'the agent may be another berth version; restart it');
  return parsed.data;
}

function runSummary(o: RunOutcome): string {
  const rows = [['SOURCE', 'TYPE', 'RESULT', 'SNAPSHOT', 'SIZE', 'NEW', 'TIME', 'NOTE']];
  for (const r of o.results) {
    rows.push([r.source, r.type, r.status, r.snapshotId ?? '-', r.bytes !== undefined ? formatBytes(r.bytes) : '-', r.dataAdded !== undefined ? formatBytes(r.dataAdded) : '-', formatMs(r.durationMs), r.suspect ? `SUSPECT: ${r.suspect}` : (r.error ?? '')]);
  }
  return `backup run ${o.runId}: ${o.status} in ${formatMs(o.durationMs)} → ${o.repository}\n${table(rows)}\n`;
}

function verifySummary(o: VerifyOutcome): string {
  const rows = [['SOURCE', 'SNAPSHOT', 'DRILL', 'RESTORE TIME', 'SIZE', 'DETAILS']];
  for (const d of o.drills) rows.push([d.source, d.snapshot, d.ok ? 'passed' : 'FAILED', formatMs(d.restoreMs), formatBytes(d.bytes), d.error ?? (d.mismatches.length ? d.mismatches.slice(0, 3).join('; ') : d.summary)]);
  const check = o.check.ok ? `passed (read ${o.check.subset} of the data)` : `FAILED${o.check.damagedPacks.length ? `: damaged pack(s) ${o.check.damagedPacks.join(', ')}` : ''}`;
  return `verify ${o.verifyId} of ${o.repository}: ${o.ok ? 'passed' : 'FAILED'}\nrestic check: ${check}\n${table(rows)}\n`;
}

type VerifiedWithDrills = VerifyRecord & { readonly drills: readonly DrillRecord[] };

/** A verify as `backup status` and `backup list --verifies` show it: with its drills, without restic check's output. */
function withDrills(backups: BackupStore, v: VerifyRecord): VerifiedWithDrills {
  return { ...v, checkOutput: undefined, drills: backups.drills(v.id) };
}

/** `backup list --verifies`: a line per drill, the verify's own columns on its first line only. */
function verifyRows(verifies: readonly VerifiedWithDrills[]): string[][] {
  const rows = [['VERIFY', 'STARTED', 'STATUS', 'REPOSITORY', 'CHECK', 'SOURCE', 'DRILL', 'SNAPSHOT', 'RESTORED', 'IN', 'RATE', 'NOTE']];
  for (const v of verifies) {
    const head = [v.id, time(v.startedAt), v.status, v.otherRepository ?? 'backup.repository', v.checkOk === undefined ? '-' : v.checkOk ? 'ok' : 'DAMAGED'];
    if (v.drills.length === 0) rows.push([...head, '-', '-', '-', '-', '-', '-', (v.error ?? (v.status === 'running' ? 'running' : 'nothing drilled')).slice(0, 80)]);
    for (const [i, d] of v.drills.entries()) {
      const details = d.details as { summary?: string; mismatches?: string[] } | undefined;
      const note = d.error ?? (d.status === 'failed' ? details?.mismatches?.[0] : details?.summary) ?? '';
      const rate = d.bytes && d.restoreMs > 0 ? `${formatBytes((d.bytes * 1000) / d.restoreMs)}/s` : '-';
      rows.push([...(i ? head.map(() => '') : head), d.source, d.status, d.snapshotId, d.bytes !== undefined ? formatBytes(d.bytes) : '-', formatMs(d.restoreMs), rate, note.slice(0, 80)]);
    }
  }
  return rows;
}

/** `backup status`' validation figures: drills passed of all over the window (SC-007's success rate; no ratio without a drill). */
function validationRate(t: ValidationTally) {
  const drills = t.drillsPassed + t.drillsFailed;
  return { windowDays: validationWindowDays, verifies: t.verifies, verifiesPassed: t.verifiesPassed, drills, drillsPassed: t.drillsPassed, ratio: drills ? t.drillsPassed / drills : null, bySource: t.drills };
}
