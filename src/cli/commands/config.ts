/** config: load and validate the project, print the resolved model. */
import path from 'node:path';
import type { Command } from 'commander';
import { loadProject } from '../../project/load.js';
import { printJson, reportError } from '../output.js';
import { globals } from '../run.js';

export function registerConfigCommand(program: Command): void {
  program
    .command('config')
    .description('validate compose.yaml + berth.yaml and print the resolved project (errors name file:line:col)')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      try {
        const project = await loadProject(path.resolve(g.dir), { composeFiles: g.file, stateDir: g.stateDir });
        if (g.json) return printJson(project);
        const routed = Object.values(project.services).filter((s) => s.route);
        process.stdout.write(
          `project ${project.name}: ${Object.keys(project.services).length} service(s), ${routed.length} routed, ` +
            `${Object.keys(project.networks).length} network(s), ${Object.keys(project.volumes).length} volume(s) — valid\n`,
        );
      } catch (err) {
        process.exitCode = reportError(err, g);
      }
    });
}
