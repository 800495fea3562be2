/**
 * An sftp repository that cannot be reached: restic only says "unable to start the sftp session,
 * error: EOF" (it relays ssh's stderr too late). On such a failure ssh itself is asked why
 * (host key, refused key, closed port), and that reason becomes the error.
 */
import { BerthError } from '../lib/errors.js';
import { probeSsh, sshReason } from '../replicate/restic.js';
import type { Restic } from './restic.js';

const sshTrouble = /sftp session|ssh command exited|subprocess ssh|connection (refused|reset|closed|lost)|EOF/i;

export function explainSftpFailures(restic: Restic, sshArgv: readonly string[] | undefined): Restic {
  if (!sshArgv) return restic;
  const unreachable = async (): Promise<BerthError | undefined> => {
    const probe = await probeSsh(sshArgv);
    if (probe.ok || !probe.stderr.trim()) return undefined;
    return new BerthError('REPOSITORY', `cannot reach the repository ${restic.repository} over ssh: ${sshReason(probe.stderr)}`, 'check backup.ssh in berth.yaml (port, identity_file, known_hosts) and that the account may use sftp; the snapshots are unchanged');
  };
  const explain = async (err: unknown): Promise<never> => {
    if (err instanceof BerthError && sshTrouble.test(err.message)) throw (await unreachable()) ?? err;
    throw err;
  };
  const guard = <A extends unknown[], T>(fn: (...a: A) => Promise<T>) => (...a: A) => fn(...a).catch(explain);
  return {
    ...restic,
    ensureInit: guard(restic.ensureInit),
    snapshots: guard(restic.snapshots),
    async check(subset) {
      const r = await restic.check(subset).catch(explain);
      // A link that fails is not damage in the repository.
      if (!r.ok && sshTrouble.test(r.output)) {
        const err = await unreachable();
        if (err) throw err;
      }
      return r;
    },
  };
}
