/**
 * Zod issues → messages that name the key and say what to write instead. Unknown keys get
 * one issue each, at the key, with the reason berth refuses them when there is one.
 */
import type { ZodIssue } from 'zod';
import { knownKeysIn, meantKey } from './known-keys.js';
import type { ConfigPath, IssueList } from './positions.js';

export const buildRefusal =
  'build is not supported: berth deploys images; build it with `docker build -t NAME .` and set `image: NAME`';

/** Why a Compose service key is refused, for keys people commonly use. */
const serviceKeyReasons: Readonly<Record<string, string>> = {
  privileged: 'berth does not run privileged containers; grant what is needed with cap_add',
  devices: 'device access is not supported by berth',
  pid: 'sharing the PID namespace is not supported by berth',
  ipc: 'sharing the IPC namespace is not supported by berth',
  runtime: 'alternative container runtimes are not supported by berth',
  platform: 'berth runs images for the host platform; pull or build the right one',
  extends: 'flatten the extended service into this one',
  profiles: 'berth deploys every service in the file; split optional services into another project',
};

/**
 * Every key of a Compose service (the Compose specification). One that berth does not take is
 * named as a Compose setting, never answered with a berth key it resembles (`cpu_shares` is not
 * a misspelt `cpus`, nor `volumes_from` a `volumes`).
 */
const composeServiceKeys: ReadonlySet<string> = new Set(
  ('annotations attach blkio_config build cap_add cap_drop cgroup cgroup_parent command configs container_name cpu_count ' +
    'cpu_percent cpu_period cpu_quota cpu_rt_period cpu_rt_runtime cpu_shares cpus cpuset credential_spec depends_on deploy ' +
    'develop device_cgroup_rules devices dns dns_opt dns_search domainname entrypoint env_file environment expose extends ' +
    'external_links extra_hosts gpus group_add healthcheck hostname image init ipc isolation label_file labels links logging ' +
    'mac_address mem_limit mem_reservation mem_swappiness memswap_limit models network_mode networks oom_kill_disable ' +
    'oom_score_adj pid pids_limit platform ports post_start pre_stop privileged profiles provider pull_policy read_only ' +
    'restart runtime scale secrets security_opt shm_size stdin_open stop_grace_period stop_signal storage_opt sysctls tmpfs ' +
    'tty ulimits use_api_socket user userns_mode uts volumes volumes_from working_dir').split(' '),
);

/** The top-level keys of a Compose file. */
const composeTopKeys: ReadonlySet<string> = new Set(['version', 'name', 'include', 'services', 'networks', 'volumes', 'secrets', 'configs', 'models']);

function composeKeysAt(path: ConfigPath): ReadonlySet<string> | undefined {
  if (path.length === 0) return composeTopKeys;
  return path.length === 2 && path[0] === 'services' ? composeServiceKeys : undefined;
}

const secretKeyReasons: Readonly<Record<string, string>> = {
  environment: 'berth mounts secrets from files; write the value to a file and use `file:`',
  external: 'berth mounts secrets from files; use `file:`',
};

/** Adds `issues` found in the tree `root`; their paths are relative to `base`. */
const sectionKeyReasons: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  secrets: secretKeyReasons,
};

/** Which file a tree comes from: Compose keys berth does not take are named as such in compose.yaml only. */
export type ConfigFile = 'compose' | 'berth';

export function addZodIssues(list: IssueList, root: unknown, base: ConfigPath, issues: readonly ZodIssue[], file: ConfigFile): void {
  for (const issue of issues) {
    const path = [...base, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysIn(issue.message) ?? [];
      for (const key of issue.keys) list.at(root, [...path, key], unknownKeyMessage(path, key, known, file), 'key');
    } else {
      list.at(root, path, messageFor(issue));
    }
  }
}

/** A mapping with at most this many keys has them listed when an unknown key is close to none. */
const listedKeysMax = 12;

function unknownKeyMessage(path: ConfigPath, key: string, known: readonly string[], file: ConfigFile): string {
  const inService = path[0] === 'services' && (path.length === 2 || path[2] === 'networks');
  const reasons = inService ? serviceKeyReasons : sectionKeyReasons[String(path[0])];
  const reason = reasons?.[key];
  if (reason) return `unsupported key \`${key}\`: ${reason}`;
  if (file === 'compose' && composeKeysAt(path)?.has(key)) return `unsupported key \`${key}\`: a Compose setting berth does not support; remove it`;
  const meant = meantKey(key, known);
  if (meant) return `unsupported key \`${key}\`: did you mean \`${meant}\`?`;
  const listed = known.length && known.length <= listedKeysMax ? `this mapping takes ${known.map((k) => `\`${k}\``).join(', ')}; ` : '';
  return `unsupported key \`${key}\` (${listed}custom keys must start with \`x-\`)`;
}

function messageFor(issue: ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.received === 'undefined' ? 'is required' : `should be ${typeName(issue.expected)}`;
    case 'invalid_enum_value':
      return `should be one of ${issue.options.map((o) => JSON.stringify(o)).join(', ')}`;
    case 'invalid_union':
      return 'has an invalid value';
    default:
      return issue.message;
  }
}

function typeName(expected: string): string {
  const names: Record<string, string> = {
    object: 'a mapping',
    array: 'a list',
    string: 'a string',
    number: 'a number',
    boolean: 'true or false',
    null: 'empty',
  };
  return names[expected] ?? expected;
}
