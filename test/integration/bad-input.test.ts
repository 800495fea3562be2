/** Each bad input gives one clear message (what, where, how to fix) and leaves the running stack untouched. */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createTestProject, dockerPs, webStack, type TestProject } from './harness.js';

describe('bad input changes nothing (real dockerd + haproxy)', () => {
  let p: TestProject;
  let running: string[];
  let statusBefore: string;
  before(async () => {
    p = await createTestProject(webStack);
    const r = await p.berth(['up']);
    assert.equal(r.code, 0, r.stderr);
    running = await dockerPs(p.name);
    statusBefore = deploymentsOf((await p.berth(['status', '--json'])).stdout);
  });
  after(async () => p.cleanup());

  const deploymentsOf = (json: string) => JSON.stringify((JSON.parse(json).services as Array<{ deployment: string }>).map((s) => s.deployment));

  async function assertUntouched(): Promise<void> {
    assert.deepEqual(await dockerPs(p.name), running);
    assert.equal((await p.get()).body.trim(), 'app v1');
    assert.equal(deploymentsOf((await p.berth(['status', '--json'])).stdout), statusBefore);
  }

  function withFile(file: string, content: string, test: () => Promise<void>): () => Promise<void> {
    return async () => {
      const original = (await import('node:fs')).readFileSync(`${p.dir}/${file}`, 'utf8');
      p.write(file, content);
      try {
        await test();
      } finally {
        p.write(file, original);
      }
      await assertUntouched();
    };
  }

  it(
    'malformed YAML names file:line:col',
    withFile('compose.yaml', 'services:\n  web:\n    image: [unclosed\n', async () => {
      const r = await p.berth(['up']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /compose\.yaml:\d+:\d+/);
    }),
  );

  it(
    'an unknown key is refused with its position, never ignored',
    withFile('compose.yaml', 'services:\n  web:\n    image: berth-test/app:v1\n    privileged: true\n', async () => {
      const r = await p.berth(['up']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /compose\.yaml:4:5 .*privileged/);
    }),
  );

  it(
    'a berth.yaml route to a service that does not exist',
    withFile('berth.yaml', 'edge:\n  listen: ["127.0.0.1:{{EDGE_PORT}}"]\nservices:\n  wbe:\n    route: { hosts: [app.localhost], port: 80 }\n', async () => {
      const r = await p.berth(['up']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /berth\.yaml:4:3 .*wbe/);
      assert.match(r.stderr, /web/);
    }),
  );

  it('a missing image', async () => {
    const r = await p.berth(['deploy', 'web', '--image', 'berth-test/app:does-not-exist']);
    assert.equal(r.code, 6, r.stderr);
    assert.match(r.stderr, /image "berth-test\/app:does-not-exist" for service web is not on this host/);
    assert.match(r.stderr, /hint: /);
    await assertUntouched();
  });

  it(
    'a missing image in the compose file stops up before any change',
    withFile('compose.yaml', 'services:\n  web:\n    image: berth-test/app:v1\n    ports: ["127.0.0.1:{{PORT2}}:80"]\n  extra:\n    image: berth-test/nope:1\n', async () => {
      const r = await p.berth(['up']);
      assert.equal(r.code, 6, r.stderr);
      assert.match(r.stderr, /berth-test\/nope:1/);
    }),
  );

  it('an unknown service name lists the real ones', async () => {
    const r = await p.berth(['deploy', 'nope']);
    assert.equal(r.code, 6, r.stderr);
    assert.match(r.stderr, /unknown service "nope"/);
    assert.match(r.stderr, /services in .*: web/);
    await assertUntouched();
  });

  it(
    'a host port already taken by another process',
    async () => {
      const squatter = net.createServer();
      await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
      const port = (squatter.address() as net.AddressInfo).port;
      try {
        await withFile('compose.yaml', `services:\n  web:\n    image: berth-test/app:v1\n    ports: ["127.0.0.1:{{PORT2}}:80"]\n  db:\n    image: berth-test/app:v1\n    ports: ["127.0.0.1:${port}:80"]\n`, async () => {
          const r = await p.berth(['up']);
          assert.equal(r.code, 7, r.stderr);
          assert.match(r.stderr, new RegExp(`port clash: 127.0.0.1:${port} \\(for db\\)`));
        })();
      } finally {
        squatter.close();
      }
    },
  );

  it(
    'two services publishing the same port',
    withFile('compose.yaml', 'services:\n  web:\n    image: berth-test/app:v1\n    ports: ["127.0.0.1:{{PORT2}}:80"]\n  db:\n    image: berth-test/app:v1\n    ports: ["127.0.0.1:{{PORT2}}:80"]\n', async () => {
      const r = await p.berth(['up']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /port clash/);
    }),
  );

  it('an unreachable Docker socket', async () => {
    const r = await p.berth(['deploy', 'web', '--image', 'berth-test/app:v2'], { DOCKER_HOST: 'unix:///tmp/berth-no-such-docker.sock' });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /cannot reach the Docker engine at \/tmp\/berth-no-such-docker\.sock/);
    assert.match(r.stderr, /hint: start dockerd/);
    await assertUntouched();
  });

  it('restore options of the other mode are refused, not silently ignored (nothing restored)', async () => {
    for (const [args, want] of [
      [['restore', '--all', '--source', 'web', '--yes'], /--all rebuilds the whole project .* it takes no --source\n\s+hint: drop --source, or drop --all/],
      [['restore', '--all', '--to', '/tmp/x', '--no-safety', '--yes'], /it takes no --to, --no-safety/],
      [['restore', 'latest', '--project', 'other', '--yes'], /--project applies to --all only/],
    ] as const) {
      const r = await p.berth([...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, want);
    }
    await assertUntouched();
  });
});
