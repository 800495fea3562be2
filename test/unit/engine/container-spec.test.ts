import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildContainer, stableJson } from '../../../src/engine/specs/container.js';
import { project, service } from '../fixtures.js';

const opts = { color: 'green' as const, deploymentId: 'd1', imageId: 'sha256:abc', publishPorts: true };

describe('buildContainer', () => {
  it('maps the hardening and resource keys to HostConfig', () => {
    const s = service('web', {
      user: '1000:1000',
      readOnly: true,
      capDrop: ['ALL'],
      capAdd: ['NET_BIND_SERVICE'],
      securityOpt: ['no-new-privileges:true'],
      tmpfs: { '/tmp': 'size=64m' },
      limits: { nanoCpus: 500_000_000, memoryBytes: 64 * 1024 * 1024, pids: 100 },
      restart: 'unless-stopped',
      init: true,
      sysctls: { 'net.ipv4.ip_forward': '1' },
    });
    const { spec } = buildContainer(project([s]), s, opts);
    assert.equal(spec.User, '1000:1000');
    assert.deepEqual(spec.HostConfig, {
      NetworkMode: undefined,
      PortBindings: undefined,
      Mounts: undefined,
      Tmpfs: { '/tmp': 'size=64m' },
      RestartPolicy: { Name: 'unless-stopped' },
      ReadonlyRootfs: true,
      CapAdd: ['NET_BIND_SERVICE'],
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges:true'],
      NanoCpus: 500_000_000,
      Memory: 67108864,
      PidsLimit: 100,
      Init: true,
      Sysctls: { 'net.ipv4.ip_forward': '1' },
    });
  });

  it('runs the image by ID, names and labels the container for its color', () => {
    const s = service('web');
    const { spec } = buildContainer(project([s]), s, opts);
    assert.equal(spec.Image, 'sha256:abc');
    assert.equal(spec.name, 'shop-web-green');
    assert.equal(spec.Labels?.['berth.color'], 'green');
    assert.equal(spec.Labels?.['berth.deployment'], 'd1');
    assert.equal(spec.Labels?.['com.docker.compose.service'], 'web');
    assert.deepEqual(spec.NetworkingConfig, { EndpointsConfig: { shop_default: { Aliases: ['web'] } } });
  });

  it('publishes ports only when asked (the edge owns routed ports)', () => {
    const s = service('web', { ports: [{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }] });
    const published = buildContainer(project([s]), s, opts).spec;
    const routed = buildContainer(project([s]), s, { ...opts, publishPorts: false }).spec;
    assert.deepEqual(published.HostConfig?.PortBindings, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }] });
    assert.equal(routed.HostConfig?.PortBindings, undefined);
    assert.deepEqual(routed.ExposedPorts, { '80/tcp': {} });
  });

  it('mounts volumes by engine name, binds, and secrets read-only', () => {
    const s = service('db', {
      mounts: [
        { type: 'volume', source: 'data', target: '/var/lib/db', readOnly: false },
        { type: 'bind', source: '/srv/shop/conf', target: '/etc/app', readOnly: true },
      ],
      secrets: [{ source: 'dbpass', target: '/run/secrets/dbpass' }],
    });
    assert.deepEqual(buildContainer(project([s]), s, opts).spec.HostConfig?.Mounts, [
      { Type: 'volume', Source: 'shop_data', Target: '/var/lib/db', ReadOnly: false },
      { Type: 'bind', Source: '/srv/shop/conf', Target: '/etc/app', ReadOnly: true },
      { Type: 'bind', Source: '/srv/shop/secrets/dbpass', Target: '/run/secrets/dbpass', ReadOnly: true },
    ]);
  });

  it('converts healthcheck durations to nanoseconds', () => {
    const s = service('web', { healthcheck: { test: ['CMD', 'true'], intervalMs: 1000, timeoutMs: 2000, retries: 3, startPeriodMs: 500 } });
    assert.deepEqual(buildContainer(project([s]), s, opts).spec.Healthcheck, { Test: ['CMD', 'true'], Interval: 1e9, Timeout: 2e9, Retries: 3, StartPeriod: 5e8 });
  });

  it('hashes config independently of color and deployment, and changes with image or env', () => {
    const s = service('web', { environment: { A: '1' } });
    const p = project([s]);
    const a = buildContainer(p, s, opts).configHash;
    assert.equal(buildContainer(p, s, { ...opts, color: 'blue', deploymentId: 'd2' }).configHash, a);
    assert.notEqual(buildContainer(p, s, { ...opts, imageId: 'sha256:def' }).configHash, a);
    const changed = service('web', { environment: { A: '2' } });
    assert.notEqual(buildContainer(project([changed]), changed, opts).configHash, a);
  });

  it('connects extra networks after create', () => {
    const s = service('web', { networks: { front: { aliases: ['www'] }, back: { aliases: [] } } });
    const p = project([s], {
      networks: {
        front: { key: 'front', name: 'shop_front', external: false, internal: false, labels: {} },
        back: { key: 'back', name: 'shop_back', external: false, internal: false, labels: {} },
      },
    });
    const built = buildContainer(p, s, opts);
    assert.deepEqual(built.spec.NetworkingConfig, { EndpointsConfig: { shop_front: { Aliases: ['web', 'www'] } } });
    assert.deepEqual(built.extraNetworks, [{ name: 'shop_back', aliases: ['web'] }]);
  });

  for (const mode of ['host', 'none'] as const) {
    it(`network_mode ${mode}: HostConfig.NetworkMode, no networks to join, no port bindings`, () => {
      // The loader refuses ports with a network mode; the spec binds none even if one slips through.
      const s = service('agent', {
        networkMode: mode,
        networks: {},
        ports: [{ hostPort: 9100, containerPort: 9100, protocol: 'tcp' }],
        expose: [9101],
      });
      const built = buildContainer(project([s]), s, opts);
      assert.equal(built.spec.HostConfig?.NetworkMode, mode);
      assert.equal(built.spec.HostConfig?.PortBindings, undefined);
      assert.equal(built.spec.NetworkingConfig, undefined);
      assert.deepEqual(built.extraNetworks, []);
      assert.deepEqual(built.spec.ExposedPorts, { '9100/tcp': {}, '9101/tcp': {} });
    });
  }

  it('network mode is part of the config hash', () => {
    const plain = service('agent');
    const host = service('agent', { networkMode: 'host', networks: {} });
    assert.notEqual(buildContainer(project([host]), host, opts).configHash, buildContainer(project([plain]), plain, opts).configHash);
  });

  it('fixed addresses: IPAMConfig on the create endpoint, addresses on extra networks', () => {
    const s = service('dns', {
      networks: {
        front: { aliases: ['resolver'], ipv4Address: '172.20.0.2', ipv6Address: 'fd00::2' },
        back: { aliases: [], ipv4Address: '172.21.0.2' },
        v6: { aliases: [], ipv6Address: 'fd00:1::2' },
        plain: { aliases: [] },
      },
    });
    const net = (key: string) => ({ key, name: `shop_${key}`, external: false, internal: false, labels: {} });
    const p = project([s], { networks: { front: net('front'), back: net('back'), v6: net('v6'), plain: net('plain') } });
    const built = buildContainer(p, s, opts);
    assert.equal(built.spec.HostConfig?.NetworkMode, undefined);
    assert.deepEqual(built.spec.NetworkingConfig, {
      EndpointsConfig: {
        shop_front: { Aliases: ['dns', 'resolver'], IPAMConfig: { IPv4Address: '172.20.0.2', IPv6Address: 'fd00::2' } },
      },
    });
    assert.deepEqual(built.extraNetworks, [
      { name: 'shop_back', aliases: ['dns'], ipv4Address: '172.21.0.2' },
      { name: 'shop_v6', aliases: ['dns'], ipv6Address: 'fd00:1::2' },
      { name: 'shop_plain', aliases: ['dns'] },
    ]);
  });

  it('a fixed address is part of the config hash; services without one hash as before', () => {
    const at = (ipv4Address?: string) => {
      const s = service('dns', { networks: { default: ipv4Address ? { aliases: [], ipv4Address } : { aliases: [] } } });
      return buildContainer(project([s]), s, opts).configHash;
    };
    assert.notEqual(at('172.20.0.2'), at('172.20.0.3'));
    assert.notEqual(at('172.20.0.2'), at());
    // Pinned to the hash from before fixed addresses existed: existing services must not redeploy.
    assert.equal(at(), '1763df3458718c3b');
  });

  it('stableJson sorts keys and drops undefined', () => {
    assert.equal(stableJson({ b: 1, a: [{ d: undefined, c: 2 }] }), '{"a":[{"c":2}],"b":1}');
  });
});
