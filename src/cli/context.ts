/** Loads the project and wires the real world into a DeployContext for one command. */
import path from 'node:path';
import { openDeployContext, type OpenDeployContext } from '../deploy/wire.js';
import { createConsoleReporter, silentReporter, type Reporter } from '../lib/reporter.js';
import { loadProject } from '../project/load.js';
import type { GlobalOptions } from './output.js';

export type CommandContext = OpenDeployContext;

export async function openContext(opts: GlobalOptions): Promise<CommandContext> {
  const project = await loadProject(path.resolve(opts.dir), { composeFiles: opts.file, stateDir: opts.stateDir });
  return openDeployContext(project, reporterFor(opts));
}

/** Progress on stderr, unless --quiet. */
export function reporterFor(opts: GlobalOptions): Reporter {
  return opts.quiet ? silentReporter : createConsoleReporter();
}
