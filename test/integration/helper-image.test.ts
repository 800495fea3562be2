/**
 * The helper image (real dockerd, `docker import` of this host's busybox and restic): built when
 * missing, rebuilt when its version label is out of date, and the image it replaces is removed
 * rather than left behind untagged.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { ensureHelperImage } from '../../src/backup/helper-image.js';

const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8' }).trim();
const exists = (ref: string) => spawnSync('docker', ['image', 'inspect', ref], { stdio: 'ignore' }).status === 0;

describe('the helper image', () => {
  const image = `berth-test-helper-${randomBytes(3).toString('hex')}:local`;
  after(() => {
    spawnSync('docker', ['image', 'rm', '-f', image], { stdio: 'ignore' });
  });

  it('an out-of-date one is rebuilt and the old image removed; an up-to-date one is kept as it is', async () => {
    // An image berth made for an older restic: its role label says helper, its version is stale.
    const stale = execFileSync('docker', ['import', '--change', 'LABEL berth.role=helper', '--change', 'LABEL berth.helper-version=0000000000000000', '-', image], {
      input: execFileSync('tar', ['-c', '-C', '/', '--files-from', '/dev/null']),
      encoding: 'utf8',
    }).trim();
    assert.ok(exists(stale));

    assert.deepEqual(await ensureHelperImage(image), { hasRestic: true });
    const rebuilt = docker('image', 'inspect', '--format', '{{.Id}}', image);
    assert.notEqual(rebuilt, stale);
    assert.equal(exists(stale), false, 'the replaced image is removed, not left untagged');
    assert.match(docker('run', '--rm', '--entrypoint', '/bin/restic', image, 'version'), /^restic \d/);

    await ensureHelperImage(image);
    assert.equal(docker('image', 'inspect', '--format', '{{.Id}}', image), rebuilt, 'up to date: not built again');
  });

  it('dockerd unreachable: a clear error, not a crash on the import\'s closed stdin', async () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';
    try {
      await assert.rejects(ensureHelperImage(`berth-test-helper-${randomBytes(3).toString('hex')}:local`), /cannot build the helper image .*Cannot connect to the Docker daemon/);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });

  it('an image berth did not make is used as it is (streamed tar backups, no restic in it)', async () => {
    const own = `berth-test-own-${randomBytes(3).toString('hex')}:local`;
    docker('tag', 'berth-test/app:v1', own);
    try {
      const before = docker('image', 'inspect', '--format', '{{.Id}}', own);
      assert.deepEqual(await ensureHelperImage(own), { hasRestic: false });
      assert.equal(docker('image', 'inspect', '--format', '{{.Id}}', own), before);
    } finally {
      spawnSync('docker', ['image', 'rm', own], { stdio: 'ignore' });
    }
  });
});
