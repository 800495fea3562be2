import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../../src/lib/errors.js';
import { loadProject, type LoadOptions } from '../../../src/project/load.js';
import type { Project } from '../../../src/project/model.js';

/** Writes `files` (relative path → content) into a fresh temp folder named `name`. */
export async function writeProject(files: Record<string, string>, name = 'demo'): Promise<string> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'berth-project-'));
  const dir = path.join(base, name);
  await mkdir(dir);
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), text);
  }
  return dir;
}

export async function load(files: Record<string, string>, opts: LoadOptions = {}): Promise<Project> {
  return loadProject(await writeProject(files), { env: {}, ...opts });
}

/** Loads and returns the ConfigError message; fails when loading succeeds or throws something else. */
export async function loadError(files: Record<string, string>, opts: LoadOptions = {}): Promise<string> {
  try {
    await load(files, opts);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError, but the project loaded');
}

/** A compose file from lines, so tests can count line numbers. */
export function yaml(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}
