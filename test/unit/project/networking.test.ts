/**
 * network_mode (host, none), fixed service addresses and network IPAM: how they load, and every
 * refusal with its file:line:col — including routes, which two colors of such a service cannot share.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load, loadError, yaml } from './helpers.js';

const web = ['services:', '  web:', '    image: nginx'];
const dnsNet = ['networks:', '  dns:', '    ipam:', '      config:', '        - subnet: 172.20.0.0/24'];

test('network_mode host and none: no project network, expose kept, no default network created for them', async () => {
  const p = await load({
    'compose.yaml': yaml(
      'services:',
      '  agent:',
      '    image: agent',
      '    network_mode: host',
      '    expose: [9100]',
      '  batch:',
      '    image: batch',
      '    network_mode: "none"',
    ),
  });
  assert.equal(p.services.agent?.networkMode, 'host');
  assert.deepEqual(p.services.agent?.networks, {});
  assert.deepEqual(p.services.agent?.expose, [9100]);
  assert.equal(p.services.batch?.networkMode, 'none');
  assert.deepEqual(p.services.batch?.networks, {});
  assert.deepEqual(p.networks, {}, 'no service uses the default network');
});

test('network_mode: other services keep the default network; berth.yaml deploy settings still apply', async () => {
  const p = await load({
    'compose.yaml': yaml(...web, '    ports: ["8080:80"]', '  agent:', '    image: agent', '    network_mode: host'),
    'berth.yaml': yaml('services:', '  agent:', '    deploy: {drain: 1s}'),
  });
  assert.deepEqual(p.services.web?.networks, { default: { aliases: [] } });
  assert.equal(p.services.web?.networkMode, undefined);
  assert.equal(p.networks.default?.name, 'demo_default');
  assert.equal(p.services.agent?.deploy.drainMs, 1000);
  assert.equal(p.services.agent?.route, undefined);
});

test('fixed addresses and IPAM: service networks and project networks', async () => {
  const p = await load({
    'compose.yaml': yaml(
      'services:',
      '  dns:',
      '    image: dns',
      '    networks:',
      '      dns:',
      '        ipv4_address: 172.20.0.2',
      '        aliases: [resolver]',
      '      v6:',
      '        ipv6_address: fd00:1::10',
      '  web:',
      '    image: nginx',
      '    networks: [dns]',
      'networks:',
      '  dns:',
      '    driver: bridge',
      '    driver_opts:',
      '      com.docker.network.bridge.name: br-dns',
      '      com.docker.network.driver.mtu: 1400',
      '    attachable: true',
      '    ipam:',
      '      driver: default',
      '      config:',
      '        - subnet: 172.20.0.0/24',
      '          ip_range: 172.20.0.128/25',
      '          gateway: 172.20.0.1',
      '          aux_addresses:',
      '            router: 172.20.0.254',
      '  v6:',
      '    enable_ipv6: true',
      '    ipam:',
      '      config:',
      '        - subnet: fd00:1::/64',
    ),
  });
  assert.deepEqual(p.services.dns?.networks, {
    dns: { aliases: ['resolver'], ipv4Address: '172.20.0.2' },
    v6: { aliases: [], ipv6Address: 'fd00:1::10' },
  });
  assert.deepEqual(p.services.web?.networks, { dns: { aliases: [] } });
  assert.deepEqual(p.networks.dns, {
    key: 'dns',
    name: 'demo_dns',
    external: false,
    driver: 'bridge',
    driverOpts: { 'com.docker.network.bridge.name': 'br-dns', 'com.docker.network.driver.mtu': '1400' },
    internal: false,
    ipam: {
      driver: 'default',
      config: [{ subnet: '172.20.0.0/24', ipRange: '172.20.0.128/25', gateway: '172.20.0.1', auxAddresses: { router: '172.20.0.254' } }],
    },
    labels: {},
  });
  assert.deepEqual(p.networks.v6, {
    key: 'v6',
    name: 'demo_v6',
    external: false,
    internal: false,
    enableIpv6: true,
    ipam: { config: [{ subnet: 'fd00:1::/64' }] },
    labels: {},
  });
});

test('a fixed address on an external network is left to Docker', async () => {
  const p = await load({
    'compose.yaml': yaml(...web, '    networks:', '      lan:', '        ipv4_address: 192.168.1.10', 'networks:', '  lan: {external: true}'),
  });
  assert.equal(p.services.web?.networks.lan?.ipv4Address, '192.168.1.10');
});

const cases: [string, Record<string, string>, string][] = [
  [
    'network_mode service:',
    { 'compose.yaml': yaml(...web, '    network_mode: service:vpn') },
    'compose.yaml:4:19 services.web.network_mode: sharing the network stack of service `vpn` is not supported: this container would lose its network whenever berth recreates `vpn`, as every deploy of it does; put both services on a project network instead',
  ],
  [
    'network_mode container:',
    { 'compose.yaml': yaml(...web, '    network_mode: "container:abc123"') },
    'compose.yaml:4:19 services.web.network_mode: sharing the network stack of container `abc123` is not supported: berth does not track that container, so this one would lose its network whenever it is recreated; put both on a network instead',
  ],
  [
    'network_mode bridge',
    { 'compose.yaml': yaml(...web, '    network_mode: bridge') },
    "compose.yaml:4:19 services.web.network_mode: `bridge` (Docker's default bridge network) is not supported: remove network_mode and the service joins the project's `default` network",
  ],
  [
    'network_mode naming a network',
    { 'compose.yaml': yaml(...web, '    network_mode: backend') },
    'compose.yaml:4:19 services.web.network_mode: should be "host" or "none"; to join a network, list it under `networks:`',
  ],
  [
    'network_mode with networks',
    { 'compose.yaml': yaml(...web, '    network_mode: host', '    networks: [back]', 'networks:', '  back: {}') },
    'compose.yaml:5:5 services.web.networks: `networks` cannot be combined with `network_mode: host` (as in Compose): the service joins no project network; remove one of them',
  ],
  [
    'network_mode host with published ports',
    { 'compose.yaml': yaml(...web, '    network_mode: host', '    ports: ["80:80"]') },
    "compose.yaml:5:5 services.web.ports: ports cannot be published with `network_mode: host`: the container listens on the host's ports directly and Docker would discard these; remove `ports:`",
  ],
  [
    'network_mode none with published ports',
    { 'compose.yaml': yaml(...web, '    network_mode: none', '    ports: ["80"]') },
    'compose.yaml:5:5 services.web.ports: ports cannot be published with `network_mode: none`: the container has no network to publish them from; remove `ports:`',
  ],
  [
    'route to a network_mode service',
    {
      'compose.yaml': yaml(...web, '    network_mode: host', '    expose: [80]'),
      'berth.yaml': yaml('services:', '  web:', '    route: {hosts: [web.localhost], port: 80}'),
    },
    'berth.yaml:3:5 services.web.route: service `web` uses network_mode: host; the edge cannot route to it — remove the route (the service will then be replaced by stop-and-start) or drop network_mode',
  ],
  [
    'HTTP probe of a network_mode service',
    {
      'compose.yaml': yaml(...web, '    network_mode: none'),
      'berth.yaml': yaml('services:', '  web:', '    health: {path: /healthz, port: 80}'),
    },
    "berth.yaml:3:5 services.web.health: service `web` uses network_mode: none; berth's HTTP probe reaches a service at its address on a project network, which it has none of — use a Compose healthcheck instead, or drop network_mode",
  ],
  [
    'route to a service with a fixed address',
    {
      'compose.yaml': yaml(...web, '    networks:', '      dns:', '        ipv4_address: 172.20.0.5', ...dnsNet),
      'berth.yaml': yaml('services:', '  web:', '    route: {port: 80}'),
    },
    'berth.yaml:3:5 services.web.route: service `web` has a fixed ipv4_address (172.20.0.5 on network `dns`), which the two colors of a blue-green deploy cannot share; the edge cannot route to it — remove the route (the service will then be replaced by stop-and-start) or drop ipv4_address',
  ],
  [
    'malformed ipv4_address',
    { 'compose.yaml': yaml(...web, '    networks:', '      dns:', '        ipv4_address: 172.20.0.300', ...dnsNet) },
    'compose.yaml:6:23 services.web.networks.dns.ipv4_address: should be an IPv4 address like 172.20.0.2',
  ],
  [
    'ipv6 address in ipv4_address',
    { 'compose.yaml': yaml(...web, '    networks:', '      dns:', '        ipv4_address: "fd00::1"', ...dnsNet) },
    'compose.yaml:6:23 services.web.networks.dns.ipv4_address: should be an IPv4 address like 172.20.0.2',
  ],
  [
    'fixed address on a network without a subnet',
    { 'compose.yaml': yaml(...web, '    networks:', '      back:', '        ipv4_address: 10.1.0.5', 'networks:', '  back: {}') },
    'compose.yaml:6:23 services.web.networks.back.ipv4_address: network `back` has no IPv4 subnet; Docker gives fixed addresses only on networks with one — add `ipam: {config: [{subnet: …}]}` to `networks.back`',
  ],
  [
    'fixed address on the implicit default network',
    { 'compose.yaml': yaml(...web, '    networks:', '      default:', '        ipv4_address: 10.1.0.5') },
    'compose.yaml:6:23 services.web.networks.default.ipv4_address: network `default` has no IPv4 subnet; Docker gives fixed addresses only on networks with one — add `ipam: {config: [{subnet: …}]}` to `networks.default`',
  ],
  [
    'fixed address outside the subnet',
    { 'compose.yaml': yaml(...web, '    networks:', '      dns:', '        ipv4_address: 172.21.0.2', ...dnsNet) },
    'compose.yaml:6:23 services.web.networks.dns.ipv4_address: address 172.21.0.2 is outside the subnet of network `dns` (172.20.0.0/24)',
  ],
  [
    'IPv6 address without enable_ipv6',
    {
      'compose.yaml': yaml(
        ...web,
        '    networks:',
        '      v6:',
        '        ipv6_address: fd00:1::10',
        'networks:',
        '  v6:',
        '    ipam:',
        '      config: [{subnet: "fd00:1::/64"}]',
      ),
    },
    'compose.yaml:6:23 services.web.networks.v6.ipv6_address: network `v6` needs `enable_ipv6: true` for an IPv6 address',
  ],
  [
    'the same fixed address twice',
    {
      'compose.yaml': yaml(
        ...web,
        '    networks:',
        '      dns: {ipv4_address: 172.20.0.2}',
        '  api:',
        '    image: api',
        '    networks:',
        '      dns: {ipv4_address: 172.20.0.2}',
        ...dnsNet,
      ),
    },
    'compose.yaml:9:27 services.api.networks.dns.ipv4_address: address 172.20.0.2 on network `dns` is also given to service `web`',
  ],
  [
    'unsupported key of a service network',
    { 'compose.yaml': yaml(...web, '    networks:', '      default:', '        mac_address: 02:42:ac:11:00:02') },
    'compose.yaml:6:9 services.web.networks.default.mac_address: unsupported key `mac_address` (this mapping takes `aliases`, `ipv4_address`, `ipv6_address`; custom keys must start with `x-`)',
  ],
  [
    'bad subnet',
    { 'compose.yaml': yaml(...web, 'networks:', '  dns:', '    ipam:', '      config:', '        - subnet: 172.20.0.0/33') },
    'compose.yaml:8:19 networks.dns.ipam.config[0].subnet: should be a subnet like 172.20.0.0/24',
  ],
  [
    'gateway, ip_range and aux address outside the subnet',
    {
      'compose.yaml': yaml(
        ...web,
        ...dnsNet,
        '          gateway: 172.21.0.1',
        '          ip_range: 172.20.0.0/16',
        '          aux_addresses: {router: 10.0.0.1}',
      ),
    },
    'compose.yaml:9:20 networks.dns.ipam.config[0].gateway: gateway 172.21.0.1 is outside the subnet 172.20.0.0/24\n' +
      'compose.yaml:10:21 networks.dns.ipam.config[0].ip_range: ip_range 172.20.0.0/16 is outside the subnet 172.20.0.0/24\n' +
      'compose.yaml:11:35 networks.dns.ipam.config[0].aux_addresses.router: address 10.0.0.1 is outside the subnet 172.20.0.0/24',
  ],
  [
    'unknown ipam key',
    { 'compose.yaml': yaml(...web, ...dnsNet, '    ipam_mode: auto') },
    'compose.yaml:9:5 networks.dns.ipam_mode: unsupported key `ipam_mode`: did you mean `ipam`?',
  ],
];

for (const [name, files, expected] of cases) {
  test(`refuses: ${name}`, async () => {
    assert.equal(await loadError(files), expected);
  });
}

test('routes to services without network_mode or fixed addresses are unaffected', async () => {
  const p = await load({
    'compose.yaml': yaml(...web, '    expose: [80]', '    networks: [dns]', '  agent:', '    image: agent', '    network_mode: host', ...dnsNet),
    'berth.yaml': yaml('services:', '  web:', '    route: {hosts: [web.localhost]}'),
  });
  assert.deepEqual(p.services.web?.route, { hosts: ['web.localhost'], port: 80 });
});
