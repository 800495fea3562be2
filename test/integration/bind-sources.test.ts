/**
 * Bind mounts whose source folder does not exist yet (a new checkout, a project just rebuilt by
 * `restore --all`): made as Compose makes them for the short syntax; refused, naming the path,
 * for the long syntax without `bind.create_host_path` (real dockerd).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createTestProject, dockerPs, type TestProject } from './harness.js';

describe('bind mount sources (real dockerd)', () => {
  const projects: TestProject[] = [];
  after(async () => {
    for (const p of projects) await p.cleanup();
  });

  it('up makes a missing source folder of the short syntax, and the service writes into it', async () => {
    const p = await createTestProject({
      'compose.yaml': 'name: {{NAME}}\nservices:\n  web:\n    image: berth-test/app:v1\n    volumes:\n      - ./data/uploads:/data\n      - type: bind\n        source: ./cache\n        target: /cache\n        bind: { create_host_path: true }\n',
      'berth.yaml': 'edge:\n  listen: ["127.0.0.1:{{EDGE_PORT}}"]\n',
    });
    projects.push(p);
    const r = await p.berth(['up']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.statSync(path.join(p.dir, 'data/uploads')).isDirectory());
    assert.ok(fs.statSync(path.join(p.dir, 'cache')).isDirectory());
    assert.deepEqual(await dockerPs(p.name), [`${p.name}-web-blue running`]);
  });

  it('the long syntax without create_host_path is refused by the engine, naming the path, and nothing is made', async () => {
    const p = await createTestProject({
      'compose.yaml': 'name: {{NAME}}\nservices:\n  web:\n    image: berth-test/app:v1\n    volumes:\n      - type: bind\n        source: ./missing\n        target: /data\n',
      'berth.yaml': 'edge:\n  listen: ["127.0.0.1:{{EDGE_PORT}}"]\n',
    });
    projects.push(p);
    const r = await p.berth(['up']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /bind source path does not exist: .*\/missing/);
    assert.equal(fs.existsSync(path.join(p.dir, 'missing')), false);
  });
});
