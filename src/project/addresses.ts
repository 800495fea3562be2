/**
 * IP addresses and subnets in Compose files: leaf parsers for `ipv4_address`, `ipam.config`
 * entries, and the check that a fixed address lies in one of its network's subnets.
 */
import net from 'node:net';
import { leaf, SpecError } from './schema-kit.js';

export type Family = 'ipv4' | 'ipv6';

export function familyOf(address: string): Family | undefined {
  return net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : undefined;
}

export const ipv4Address = leaf('an IPv4 address like 172.20.0.2', (v) => {
  if (typeof v !== 'string' || !net.isIPv4(v)) throw new SpecError();
  return v;
});

export const ipv6Address = leaf('an IPv6 address like fd00::2', (v) => {
  if (typeof v !== 'string' || !net.isIPv6(v)) throw new SpecError();
  return v;
});

export const ipAddress = leaf('an IP address like 172.20.0.1', (v) => {
  if (typeof v !== 'string' || !familyOf(v)) throw new SpecError();
  return v;
});

export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: Family;
}

export function parseCidr(text: unknown): Cidr | undefined {
  const m = typeof text === 'string' ? /^([^/]+)\/(\d{1,3})$/.exec(text.trim()) : null;
  const family = m ? familyOf(m[1] as string) : undefined;
  if (!m || !family) return undefined;
  const prefix = Number(m[2]);
  return prefix <= (family === 'ipv4' ? 32 : 128) ? { address: m[1] as string, prefix, family } : undefined;
}

export const cidr = leaf('a subnet like 172.20.0.0/24', (v) => {
  if (typeof v !== 'string' || !parseCidr(v)) throw new SpecError();
  return v.trim();
});

/** Whether `address` lies in `subnet` (a CIDR string or a parsed one). */
export function inSubnet(address: string, subnet: string | Cidr): boolean {
  const c = typeof subnet === 'string' ? parseCidr(subnet) : subnet;
  const family = familyOf(address);
  if (!c || c.family !== family) return false;
  const list = new net.BlockList();
  list.addSubnet(c.address, c.prefix, c.family);
  return list.check(address, family);
}
