/** Who is running berth, for audit records and lock holders. */
import os from 'node:os';

export interface OsUserWorld {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly userInfo: () => { readonly username: string };
  readonly getuid?: () => number;
}

const realWorld: OsUserWorld = { env: process.env, userInfo: () => os.userInfo(), getuid: process.getuid?.bind(process) };

/**
 * The person behind the command: under `sudo`, SUDO_USER (root alone says little in an audit
 * trail); otherwise the login name, or `uid:<n>` when the uid has no passwd entry (containers).
 */
export function osUser(world: OsUserWorld = realWorld): string {
  const sudoUser = world.env.SUDO_USER?.trim();
  if (sudoUser) return sudoUser;
  try {
    const name = world.userInfo().username;
    if (name) return name;
  } catch {
    // os.userInfo() throws when the uid has no passwd entry.
  }
  const uid = world.getuid?.();
  return uid === undefined ? 'unknown' : `uid:${uid}`;
}
