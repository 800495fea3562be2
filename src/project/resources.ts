/**
 * Project-level resources: the project name, and the top-level networks, volumes, secrets and
 * configs with their engine names (`<project>_<key>` unless `name:` or `external:`).
 */
import path from 'node:path';
import type { z } from 'zod';
import type { networkSchema, volumeSchema } from './compose-schema.js';
import type { Ipam, IpamPool, Network, Secret, Volume } from './model.js';
import { dropUndefined } from './schema-kit.js';

/** Compose's rule: lowercase, only `[a-z0-9_-]`, starting with a letter or digit. */
export function normalizeProjectName(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '')
    .replace(/^[^a-z0-9]+/, '');
}

export interface NameSources {
  readonly env?: string;
  readonly berth?: string;
  readonly compose?: string;
  readonly dir: string;
}

/** COMPOSE_PROJECT_NAME, else berth.yaml `name`, else compose `name`, else the folder name. */
export function projectName(sources: NameSources): string {
  const chosen = [sources.env, sources.berth, sources.compose].find((n) => n !== undefined && n !== '');
  return normalizeProjectName(chosen ?? path.basename(sources.dir));
}

type RawNetwork = z.output<typeof networkSchema>;
type RawVolume = z.output<typeof volumeSchema>;

export function resolveNetwork(project: string, key: string, raw: RawNetwork): Network {
  const external = raw.external ?? false;
  return dropUndefined({
    key,
    name: raw.name ?? (external ? key : `${project}_${key}`),
    external,
    driver: raw.driver,
    driverOpts: raw.driver_opts,
    internal: raw.internal ?? false,
    enableIpv6: raw.enable_ipv6,
    ipam: raw.ipam && ipam(raw.ipam),
    labels: labels(raw.labels),
  });
}

function ipam(raw: NonNullable<RawNetwork['ipam']>): Ipam {
  const config = (raw.config ?? []).map(
    (pool): IpamPool =>
      dropUndefined({ subnet: pool.subnet, ipRange: pool.ip_range, gateway: pool.gateway, auxAddresses: pool.aux_addresses }),
  );
  return dropUndefined({ driver: raw.driver, config });
}

export function resolveVolume(project: string, key: string, raw: RawVolume): Volume {
  const external = raw.external ?? false;
  return dropUndefined({
    key,
    name: raw.name ?? (external ? key : `${project}_${key}`),
    external,
    driver: raw.driver,
    labels: labels(raw.labels),
  });
}

/** The file is resolved only; whether it exists is checked when the service starts. */
export function resolveSecret(dir: string, key: string, raw: { file: string }): Secret {
  return { key, file: path.resolve(dir, raw.file) };
}

function labels(raw: Record<string, string | null> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(raw ?? {}).map(([k, v]) => [k, v ?? '']));
}
