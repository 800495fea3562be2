/** notify test / notify status: check the channels of berth.yaml `notify:` and the delivery outbox. */
import path from 'node:path';
import type { Command } from 'commander';
import { BerthError } from '../../lib/errors.js';
import { parseDuration } from '../../lib/duration.js';
import { formatMs } from '../../lib/time.js';
import { loadProject } from '../../project/load.js';
import type { Project } from '../../project/model.js';
import type { NotifyConfig } from '../../project/notify-schema.js';
import { openStore, type Store } from '../../store/db.js';
import { ago, printJson, reportError, table } from '../output.js';
import { positiveInt } from '../option-parsers.js';
import { globals } from '../run.js';
import type { GlobalOptions } from '../output.js';

export function registerNotifyCommands(program: Command): void {
  const notify = program.command('notify').description('notification channels (berth.yaml notify:) and the delivery outbox');

  notify
    .command('test')
    .description('send a test notification through the outbox to each channel (or the ones named) and report delivery')
    .option('-c, --channel <name...>', 'only these channels')
    .option('--timeout <duration>', 'how long to keep retrying', '20s')
    .action((o: { channel?: string[]; timeout: string }, cmd: Command) =>
      withNotify(cmd, async ({ project, config, store }, g) => {
        for (const name of o.channel ?? []) {
          if (!config.channels[name]) {
            throw new BerthError('NOT_FOUND', `no channel \`${name}\` in berth.yaml notify.channels`, `channels are: ${Object.keys(config.channels).join(', ')}`);
          }
        }
        const timeoutMs = parseTimeout(o.timeout);
        if (!g.quiet && !g.json) process.stderr.write(`sending a test notification (up to ${formatMs(timeoutMs)})…\n`);
        const { sendTestNotification } = await import('../../notify/check.js');
        const results = await sendTestNotification({ db: store.db, project: project.name, config, ...(o.channel ? { channels: o.channel } : {}), timeoutMs });
        if (g.json) printJson({ results });
        else {
          const rows = [['CHANNEL', 'RESULT', 'TIME', 'ATTEMPTS', 'ERROR']];
          for (const r of results) rows.push([r.channel, r.delivered ? 'delivered' : 'FAILED', r.ms !== undefined ? formatMs(r.ms) : '-', String(r.attempts), r.error ?? '']);
          process.stdout.write(`${table(rows)}\n`);
        }
        const failed = results.filter((r) => !r.delivered).map((r) => r.channel);
        if (failed.length > 0) {
          throw new BerthError('HEALTH', `notification channel(s) failed: ${failed.join(', ')}`, 'check host, port, credentials or URL in berth.yaml notify.channels; the test stays queued and is retried by `berth agent`');
        }
      }),
    );

  notify
    .command('status')
    .description('pending notifications and the health of each channel')
    .option('-n, --limit <n>', 'recent deliveries to show', positiveInt, 20)
    .action((o: { limit: number }, cmd: Command) =>
      withNotify(cmd, async ({ config, store }, g) => {
        const { outboxStatus } = await import('../../notify/check.js');
        const status = outboxStatus(store.db, config, o.limit);
        if (g.json) return printJson(status);
        const now = Date.now();
        const since = (t?: number) => (t === undefined ? '-' : ago(Math.round((now - t) / 1000)));
        const rows = [['CHANNEL', 'TYPE', 'PENDING', 'OLDEST', 'FAILURES', 'FAILING FOR', 'LAST ERROR']];
        for (const c of status.channels) rows.push([c.channel, c.type, String(c.pending), since(c.oldestPendingAt), String(c.failures), since(c.failingSince), c.lastError ?? '']);
        process.stdout.write(`${table(rows)}\n\n`);
        const recent = [['ID', 'CHANNEL', 'STATE', 'STATUS', 'KEY', 'ATTEMPTS', 'QUEUED']];
        for (const r of status.recent) recent.push([String(r.id), r.channel, r.state, r.status, r.dedupKey, String(r.attempts), `${since(r.createdAt)} ago`]);
        process.stdout.write(`${table(recent)}\n`);
      }),
    );
}

interface NotifyContext {
  readonly project: Project;
  readonly config: NotifyConfig;
  readonly store: Store;
}

async function withNotify(cmd: Command, body: (ctx: NotifyContext, g: GlobalOptions) => Promise<void>): Promise<void> {
  const g = globals(cmd);
  let store: Store | undefined;
  try {
    const project = await loadProject(path.resolve(g.dir), { composeFiles: g.file, stateDir: g.stateDir });
    if (!project.notify) {
      throw new BerthError('CONFIG', 'berth.yaml has no `notify:` section', 'add notify.channels (smtp or webhook) to berth.yaml; see README "Notifications"');
    }
    store = openStore(project.stateDir);
    await body({ project, config: project.notify, store }, g);
  } catch (err) {
    process.exitCode = reportError(err, g);
  } finally {
    store?.close();
  }
}

function parseTimeout(text: string): number {
  try {
    return parseDuration(text);
  } catch {
    throw new BerthError('CONFIG', `--timeout ${text}: should be a duration like "20s"`);
  }
}
