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

const secretKeyReasons: Readonly<Record<string, string>> = {
  environment: 'berth mounts secrets from files; write the value to a file and use `file:`',
  external: 'berth mounts secrets from files; use `file:`',
};

/** Adds `issues` found in the tree `root`; their paths are relative to `base`. */
const sectionKeyReasons: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  secrets: secretKeyReasons,
};

export function addZodIssues(list: IssueList, root: unknown, base: ConfigPath, issues: readonly ZodIssue[]): void {
  for (const issue of issues) {
    const path = [...base, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysIn(issue.message) ?? [];
      for (const key of issue.keys) list.at(root, [...path, key], unknownKeyMessage(path, key, known), 'key');
    } else {
      list.at(root, path, messageFor(issue));
    }
  }
}

/** A mapping with at most this many keys has them listed when an unknown key is close to none. */
const listedKeysMax = 12;

function unknownKeyMessage(path: ConfigPath, key: string, known: readonly string[]): string {
  const inService = path[0] === 'services' && (path.length === 2 || path[2] === 'networks');
  const reasons = inService ? serviceKeyReasons : sectionKeyReasons[String(path[0])];
  const reason = reasons?.[key];
  if (reason) return `unsupported key \`${key}\`: ${reason}`;
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
