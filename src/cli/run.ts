/** Runs a command body with a context, the one error reporter, and the exit code. */
import type { Command } from 'commander';
import { openContext, type CommandContext } from './context.js';
import { reportError, type GlobalOptions } from './output.js';

export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

export async function runWithContext(cmd: Command, body: (ctx: CommandContext, g: GlobalOptions) => Promise<void>): Promise<void> {
  const g = globals(cmd);
  let ctx: CommandContext | undefined;
  try {
    ctx = await openContext(g);
    await body(ctx, g);
  } catch (err) {
    process.exitCode = reportError(err, g);
  } finally {
    ctx?.close();
  }
}
