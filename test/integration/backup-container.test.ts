/**
 * A database inside its service container: the dump runs through `docker exec` (BGSAVE, then a
 * tar of RDB + AOF made in the container), the drill loads it into a scratch redis-server, and
 * the restore stops the service, writes its /data through a helper container and starts it again.
 * The Redis image is made here from this host's redis binaries with `docker import` (no registry).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { createTestProject, type TestProject } from './harness.js';

const image = 'berth-test/redis:local';
const buildImage = `
set -eu
r=$(mktemp -d)
files="/usr/bin/redis-check-rdb /usr/bin/redis-cli $(ldd /usr/bin/redis-check-rdb /usr/bin/redis-cli | awk '/=>/ {print $3} /^[[:space:]]+\\// {print $1}' | sort -u)"
for f in $files; do mkdir -p "$r$(dirname "$f")"; cp -L "$f" "$r$f"; done
ln -s redis-check-rdb "$r/usr/bin/redis-server"
mkdir -p "$r/bin" "$r/data" "$r/tmp"
cp /bin/busybox "$r/bin/busybox"
for a in sh tar cat ls rm; do ln -s busybox "$r/bin/$a"; done
tar -C "$r" -c . | docker import --change 'ENV PATH=/usr/bin:/bin' --change 'WORKDIR /data' \\
  --change 'CMD ["redis-server", "--dir", "/data", "--appendonly", "yes", "--protected-mode", "no"]' - ${image} >/dev/null
rm -rf "$r"
`;

const redis = (ctr: string, ...args: string[]) => execFileSync('docker', ['exec', ctr, 'redis-cli', '--raw', ...args], { encoding: 'utf8' }).trim();

describe('a redis in its service container', { timeout: 120_000 }, () => {
  let p: TestProject;
  let ctr: string;
  before(async () => {
    if (execFileSync('docker', ['images', '-q', image], { encoding: 'utf8' }).trim() === '') execFileSync('sh', ['-c', buildImage]);
    p = await createTestProject({
      'compose.yaml': `
services:
  cache:
    image: ${image}
    volumes: ["cachedata:/data"]
volumes:
  cachedata: {}
`,
      'berth.yaml': `
name: {{NAME}}
backup:
  repository: repo
  password_file: backup.pass
  helper_image: berth-test/app:v1     # not berth's own helper: volumes are streamed as tar
  sources:
    cache: { type: redis, service: cache }
    files: { type: volume, volume: cachedata }
`,
      'backup.pass': 'container-test\n',
    });
    const up = await p.berth(['up']);
    assert.equal(up.code, 0, up.stderr);
    ctr = `${p.name}-cache-blue`;
    redis(ctr, 'MSET', 'k1', 'v1', 'k2', 'v2', 'k3', 'v3');
  });
  after(async () => {
    await p?.cleanup();
  });

  it('backs up RDB and AOF through docker exec, a volume as a tar stream, and drills them', async () => {
    const r = await p.berth(['--json', 'backup', 'run', '--source', 'cache', '--source', 'files']);
    assert.equal(r.code, 0, r.stderr);
    const v = await p.berth(['--json', 'backup', 'verify', '--source', 'cache', '--source', 'files']);
    assert.equal(v.code, 0, v.stderr);
    const [cache, files] = (JSON.parse(v.stdout) as { drills: Array<{ ok: boolean; summary: string }> }).drills;
    assert.ok(cache!.ok && files!.ok);
    assert.equal(cache!.summary, 'RDB valid, 3 keys, AOF present');
    assert.match(files!.summary, /^\d+ files, \d+ bytes, digests equal$/);
  });

  it('restores into the container: the service is stopped, its data replaced, started again', async () => {
    redis(ctr, 'FLUSHALL');
    redis(ctr, 'SET', 'later', 'x');
    const r = await p.berth(['--json', 'restore', 'latest', '--source', 'cache', '--yes']);
    assert.equal(r.code, 0, r.stderr);
    const [res] = JSON.parse(r.stdout) as Array<{ stopped: string[]; safetySnapshot?: string }>;
    assert.deepEqual(res!.stopped, ['cache']);
    assert.ok(res!.safetySnapshot);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      try {
        if (redis(ctr, 'PING') === 'PONG') break;
      } catch {
        /* starting */
      }
      await new Promise((s) => setTimeout(s, 200));
    }
    assert.equal(redis(ctr, 'MGET', 'k1', 'k3'), 'v1\nv3');
    assert.equal(redis(ctr, 'EXISTS', 'later'), '0');
  });
});
