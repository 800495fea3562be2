/**
 * Loads every compose file of the shared corpus (awesome-compose). Files without `build:` must
 * load; files with `build:` must be refused at each `build` key. The corpus is read in place
 * and copied to temp folders, never into the repository.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ConfigError } from '../../../src/lib/errors.js';
import { loadProject } from '../../../src/project/load.js';
import type { Project } from '../../../src/project/model.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const candidates = [
  process.env.BERTH_CORPUS_DIR,
  path.resolve(repoRoot, '../shared/compose-corpus'),
  '/work/shared/compose-corpus',
].filter((d): d is string => Boolean(d));

/**
 * Files without `build:` that berth refuses on purpose, with the whole expected message (every
 * line, with file:line:col). If the file starts to load, this test asks for its entry to be removed.
 */
const deliberateRefusals: Readonly<Record<string, { readonly reason: string; readonly lines: readonly string[] }>> = {
  'awesome-compose__plex.yaml': {
    // Compose refuses it too ("invalid spec: :/media/: empty section between colons").
    reason: 'PLEX_MEDIA_PATH is unset, so the bind source is empty',
    lines: [
      'compose.yaml:10:9 services.plex.volumes[0]: volume source is empty in ":/media/" — ' +
        'written "${PLEX_MEDIA_PATH}:/media/" and PLEX_MEDIA_PATH is not set (set it in the environment or in .env)',
    ],
  },
};

async function loadCopy(file: string, env: Record<string, string> = {}): Promise<{ error?: unknown; project?: Project }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-corpus-'));
  await copyFile(file, path.join(dir, 'compose.yaml'));
  try {
    // Compose leaves unset variables empty; an empty environment makes the run repeatable.
    return { project: await loadProject(dir, { env }) };
  } catch (error) {
    return { error };
  }
}

/** `compose.yaml:L:C services.NAME.build` for each service with `build:`, found from the text. */
function buildLocations(text: string): string[] {
  const services = Object.entries((parse(text) as { services?: Record<string, object> }).services ?? {});
  const withBuild = services.filter(([, s]) => s && 'build' in s).map(([name]) => name);
  const lines = text.split('\n').flatMap((line, i) => {
    const m = /^(\s+)build:/.exec(line);
    return m ? [`${i + 1}:${(m[1] as string).length + 1}`] : [];
  });
  assert.equal(lines.length, withBuild.length, 'one `build:` line per service with build');
  return withBuild.map((name, i) => `compose.yaml:${lines[i]} services.${name}.build: build is not supported`);
}

test('compose corpus: files without build load, files with build are refused at the build key', async (t) => {
  const dir = candidates.find((d) => existsSync(d));
  assert.ok(dir, `compose corpus not found; set BERTH_CORPUS_DIR or provide one of: ${candidates.join(', ')}`);
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort();
  assert.ok(files.length > 0, `no *.yaml files in ${dir}`);
  let plain = 0;
  let loaded = 0;
  let withBuild = 0;
  let refusedPrecisely = 0;
  const refusedOnPurpose: string[] = [];
  for (const name of files) {
    const file = path.join(dir, name);
    const text = await readFile(file, 'utf8');
    const { error } = await loadCopy(file);
    const builds = buildLocations(text);
    if (builds.length > 0) {
      withBuild++;
      assert.ok(error instanceof ConfigError, `${name}: should be refused for build:, got ${String(error)}`);
      for (const location of builds) assert.ok(error.message.includes(location), `${name}: missing "${location}" in\n${error.message}`);
      refusedPrecisely++;
      continue;
    }
    plain++;
    const expected = deliberateRefusals[name];
    if (expected) {
      assert.ok(error instanceof ConfigError, `${name} now loads; remove it from deliberateRefusals`);
      assert.deepEqual(error.message.split('\n'), expected.lines, name);
      refusedOnPurpose.push(`${name} (${expected.reason})`);
      continue;
    }
    assert.equal(error, undefined, `${name} should load:\n${error instanceof Error ? error.message : String(error)}`);
    loaded++;
  }
  const summary =
    `${loaded}/${plain} files without build load (${refusedOnPurpose.length} refused on purpose); ` +
    `${refusedPrecisely}/${withBuild} with build refused precisely`;
  t.diagnostic(summary);
  for (const entry of refusedOnPurpose) t.diagnostic(`refused on purpose: ${entry}`);
  console.log(summary);
  assert.equal(loaded + refusedOnPurpose.length, plain);
});

test('compose corpus: plex (network_mode: host) and pihole (ipv4_address, ipam) load as written', async (t) => {
  const dir = candidates.find((d) => existsSync(d));
  if (!dir) return t.skip('compose corpus not found');
  const plex = await loadCopy(path.join(dir, 'awesome-compose__plex.yaml'), { PLEX_MEDIA_PATH: '/srv/media' });
  assert.equal(plex.error, undefined, String(plex.error));
  assert.equal(plex.project?.services.plex?.networkMode, 'host');
  assert.deepEqual(plex.project?.services.plex?.networks, {});
  assert.deepEqual(plex.project?.networks, {});
  const pihole = await loadCopy(path.join(dir, 'awesome-compose__pihole-cloudflared-DoH.yaml'));
  assert.equal(pihole.error, undefined, String(pihole.error));
  assert.deepEqual(pihole.project?.services.cloudflared?.networks, { 'dns-net': { aliases: [], ipv4Address: '172.20.0.2' } });
  assert.deepEqual(pihole.project?.networks['dns-net']?.ipam, { config: [{ subnet: '172.20.0.0/24' }] });
});
