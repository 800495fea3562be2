import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PortMapping } from '../../../src/project/model.js';
import { parsePortSpec } from '../../../src/project/port-spec.js';
import { shellSplit } from '../../../src/project/shell-split.js';
import { parseVolumeSpec, type VolumeSpec } from '../../../src/project/volume-spec.js';

const tcp = (containerPort: number, hostPort?: number, hostIp?: string): PortMapping => ({
  containerPort,
  protocol: 'tcp',
  ...(hostPort === undefined ? {} : { hostPort }),
  ...(hostIp === undefined ? {} : { hostIp }),
});

const ports: [string | number, PortMapping[]][] = [
  ['80', [tcp(80)]],
  [80, [tcp(80)]],
  ['8080:80', [tcp(80, 8080)]],
  ['127.0.0.1:8080:80', [tcp(80, 8080, '127.0.0.1')]],
  ['127.0.0.1:8080:80/tcp', [tcp(80, 8080, '127.0.0.1')]],
  ['127.0.0.1::80', [tcp(80, undefined, '127.0.0.1')]],
  ['[::1]:8080:80', [tcp(80, 8080, '::1')]],
  ['53:53/udp', [{ containerPort: 53, hostPort: 53, protocol: 'udp' }]],
  ['8000-8001:9000-9001', [tcp(9000, 8000), tcp(9001, 8001)]],
  ['3000-3002', [tcp(3000), tcp(3001), tcp(3002)]],
];

for (const [spec, expected] of ports) {
  test(`port ${JSON.stringify(spec)}`, () => assert.deepEqual(parsePortSpec(spec), expected));
}

const badPorts: [string, RegExp][] = [
  ['80/sctp', /protocol must be tcp or udp/],
  ['8000-8002:80-81', /ranges differ in length/],
  ['8000-8001:80', /ranges differ in length/],
  ['99999:80', /out of range/],
  ['web:80', /should be a port like/],
  ['::1:8080:80', /IPv6 addresses in brackets/],
  ['81-80', /ends before it starts/],
];

for (const [spec, pattern] of badPorts) {
  test(`port ${JSON.stringify(spec)} is refused`, () => assert.throws(() => parsePortSpec(spec), pattern));
}

const volumes: [string, VolumeSpec][] = [
  ['data:/var/lib/data', { kind: 'volume', source: 'data', target: '/var/lib/data', readOnly: false }],
  ['data:/var/lib/data:ro', { kind: 'volume', source: 'data', target: '/var/lib/data', readOnly: true }],
  ['./conf:/etc/app:ro', { kind: 'bind', source: './conf', target: '/etc/app', readOnly: true, createHostPath: true }],
  ['/abs:/path', { kind: 'bind', source: '/abs', target: '/path', readOnly: false, createHostPath: true }],
  ['~/data:/data', { kind: 'bind', source: '~/data', target: '/data', readOnly: false, createHostPath: true }],
  ['.:/code:rw', { kind: 'bind', source: '.', target: '/code', readOnly: false, createHostPath: true }],
  ['/project/node_modules', { kind: 'volume', target: '/project/node_modules', readOnly: false }],
  ['./src:/src:ro,cached', { kind: 'bind', source: './src', target: '/src', readOnly: true, createHostPath: true }],
];

for (const [spec, expected] of volumes) {
  test(`volume ${JSON.stringify(spec)}`, () => assert.deepEqual(parseVolumeSpec(spec), expected));
}

const badVolumes: [string, RegExp][] = [
  [':/media/', /volume source is empty in ":\/media\/"$/],
  ['data:', /volume target is empty in "data:"$/],
  ['data:/x:', /empty section between ":"/],
  ['', /: volume is empty$/],
  ['data:relative', /absolute path/],
  ['data:/x:z', /unsupported volume option "z"/],
  ['a:/b:ro:extra', /too many ":"/],
  ['bad name!:/x', /invalid volume name/],
];

for (const [spec, pattern] of badVolumes) {
  test(`volume ${JSON.stringify(spec)} is refused`, () => assert.throws(() => parseVolumeSpec(spec), pattern));
}

const commands: [string, string[]][] = [
  ['npm run start', ['npm', 'run', 'start']],
  ['  spaced   out ', ['spaced', 'out']],
  [`sh -c "echo 'hi there' && exit 1"`, ['sh', '-c', `echo 'hi there' && exit 1`]],
  [`echo 'a "b"' c\\ d`, ['echo', 'a "b"', 'c d']],
  [`echo "a \\"q\\" \\n"`, ['echo', 'a "q" \\n']],
  [`x ''`, ['x', '']],
];

for (const [input, expected] of commands) {
  test(`shellSplit ${JSON.stringify(input)}`, () => assert.deepEqual(shellSplit(input), expected));
}

test('shellSplit refuses unterminated quotes', () => {
  assert.throws(() => shellSplit(`echo "oops`), /unterminated " quote/);
  assert.throws(() => shellSplit(`echo 'oops`), /unterminated ' quote/);
});
