/**
 * Fixed service addresses (`ipv4_address`, `ipv6_address`) checked against the project's
 * networks before Docker sees them: Docker only accepts one on a network with a configured
 * subnet that contains it, and two containers cannot hold the same address.
 */
import { familyOf, inSubnet } from './addresses.js';
import type { Network } from './model.js';
import type { ServiceBase } from './normalize-service.js';
import type { IssueList } from './positions.js';

const keys = { ipv4Address: 'ipv4_address', ipv6Address: 'ipv6_address' } as const;

export function checkFixedAddresses(
  services: Readonly<Record<string, ServiceBase>>,
  networks: Readonly<Record<string, Network>>,
  root: unknown,
  issues: IssueList,
): void {
  const taken = new Map<string, string>();
  for (const [name, service] of Object.entries(services)) {
    for (const [key, membership] of Object.entries(service.networks)) {
      for (const field of ['ipv4Address', 'ipv6Address'] as const) {
        const address = membership[field];
        if (address === undefined) continue;
        const path = ['services', name, 'networks', key, keys[field]];
        const problem = addressProblem(address, key, networks[key]) ?? clash(taken, key, address, name);
        if (problem) issues.at(root, path, problem);
      }
    }
  }
}

/** Why Docker would refuse `address` on the network `key`; external networks are Docker's to judge. */
function addressProblem(address: string, key: string, network: Network | undefined): string | undefined {
  if (network === undefined || network.external) return undefined;
  const family = familyOf(address) === 'ipv6' ? 'IPv6' : 'IPv4';
  const subnets = (network.ipam?.config ?? []).flatMap((p) => (p.subnet && sameFamily(p.subnet, address) ? [p.subnet] : []));
  if (subnets.length === 0) {
    return (
      `network \`${key}\` has no ${family} subnet; Docker gives fixed addresses only on networks with one — ` +
      `add \`ipam: {config: [{subnet: …}]}\` to \`networks.${key}\``
    );
  }
  if (!subnets.some((s) => inSubnet(address, s))) {
    return `address ${address} is outside the subnet${subnets.length > 1 ? 's' : ''} of network \`${key}\` (${subnets.join(', ')})`;
  }
  if (family === 'IPv6' && !network.enableIpv6) return `network \`${key}\` needs \`enable_ipv6: true\` for an IPv6 address`;
  return undefined;
}

function sameFamily(subnet: string, address: string): boolean {
  return familyOf(subnet.split('/')[0] ?? '') === familyOf(address);
}

function clash(taken: Map<string, string>, key: string, address: string, service: string): string | undefined {
  const id = `${key} ${address}`;
  const first = taken.get(id);
  if (first === undefined) {
    taken.set(id, service);
    return undefined;
  }
  return `address ${address} on network \`${key}\` is also given to service \`${first}\``;
}
