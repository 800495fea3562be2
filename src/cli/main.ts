/** berth command line: parsing only; every command delegates to a domain operation. */
import { Command } from 'commander';
import { registerAgentCommands } from './commands/agent.js';
import { registerAlertsCommand } from './commands/alerts.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerBackupCommands } from './commands/backup.js';
import { registerConfigCommand } from './commands/config.js';
import { registerDeployCommands } from './commands/deploy.js';
import { registerLogsCommand } from './commands/logs.js';
import { registerNotifyCommands } from './commands/notify.js';
import { registerReplicateCommands } from './commands/replicate.js';
import { registerProbesCommand } from './commands/probes.js';
import { registerSilenceCommands } from './commands/silence.js';
import { registerStackCommands } from './commands/stack.js';

const program = new Command('berth')
  .description('Operations control plane for self-hosted Docker Compose stacks: zero-downtime deploys and rollback, verified backups and restores, monitoring and alerts, a tamper-evident audit trail.')
  .version('0.1.0')
  .option('-C, --dir <path>', 'project folder holding compose.yaml and berth.yaml', '.')
  .option('-f, --file <file...>', 'compose file(s), later ones override earlier ones')
  .option('--state-dir <path>', 'where berth keeps its state (default <project>/.berth, or $BERTH_STATE_DIR)')
  .option('--json', 'machine-readable output on stdout')
  .option('-q, --quiet', 'no progress lines on stderr')
  .option('--verbose', 'show stack traces on errors')
  .showHelpAfterError('(run with --help for usage)');

registerStackCommands(program);
registerDeployCommands(program);
registerLogsCommand(program);
registerAuditCommands(program);
registerConfigCommand(program);
registerNotifyCommands(program);
registerReplicateCommands(program);
registerBackupCommands(program);
registerAgentCommands(program);
registerAlertsCommand(program);
registerProbesCommand(program);
registerSilenceCommands(program);

// No top-level await: the built CLI is a CommonJS bundle (see bundle-loader.ts). Commands report
// their own errors (runWithContext); one that escapes is a bug and is shown whole.
program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
