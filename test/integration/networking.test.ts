/** Unrouted services may use fixed addresses and network_mode: they are replaced by stop-and-start. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { createTestProject, type TestProject } from './harness.js';

const octet = 100 + Math.floor(Math.random() * 100);
const files = {
  'compose.yaml': `
services:
  fixed:
    image: berth-test/app:v1
    networks:
      back: { ipv4_address: 10.213.${octet}.10 }
  isolated:
    image: berth-test/app:v1
    network_mode: none
networks:
  back:
    ipam:
      config: [{ subnet: 10.213.${octet}.0/24 }]
`,
  'berth.yaml': 'name: {{NAME}}\ndeploy: { verify: 1s }\n',
};

const inspect = (c: string, f: string) => execFileSync('docker', ['inspect', '-f', f, c]).toString().trim();

describe('fixed addresses and network_mode (real dockerd)', () => {
  let p: TestProject;
  before(async () => {
    p = await createTestProject(files);
  });
  after(async () => p.cleanup());

  it('up creates the network with its subnet and the container at its fixed address', async () => {
    const r = await p.berth(['up']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(execFileSync('docker', ['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}', `${p.name}_back`]).toString().trim(), `10.213.${octet}.0/24`);
    assert.equal(inspect(`${p.name}-fixed-blue`, `{{(index .NetworkSettings.Networks "${p.name}_back").IPAddress}}`), `10.213.${octet}.10`);
    assert.equal(inspect(`${p.name}-isolated-blue`, '{{.HostConfig.NetworkMode}}'), 'none');
  });

  it('a deploy keeps the fixed address (stop-and-start) and serves the new version there', async () => {
    const r = await p.berth(['deploy', 'fixed', '--image', 'berth-test/app:v2']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /fixed has no edge route: replacing it by stop-and-start/);
    assert.equal(inspect(`${p.name}-fixed-green`, `{{(index .NetworkSettings.Networks "${p.name}_back").IPAddress}}`), `10.213.${octet}.10`);
    const body = execFileSync('docker', ['exec', `${p.name}-fixed-green`, 'wget', '-q', '-O', '-', `http://10.213.${octet}.10/`]).toString();
    assert.equal(body.trim(), 'app v2');
  });
});
