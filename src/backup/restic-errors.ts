/** restic's stderr → a BerthError that says what is wrong with the repository and what to do. */
import { BerthError } from '../lib/errors.js';

export function classifyResticFailure(stderr: string, code: number | null, repository: string, action: string): BerthError {
  // eslint-disable-next-line no-control-regex
  const text = stderr.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').trim();
  const last = lastMeaningfulLine(text) || `restic exited with ${code ?? 'a signal'}`;
  if (/wrong password or no key found/i.test(text)) {
    return new BerthError('REPOSITORY', `wrong password for the restic repository ${repository}`, 'check backup.password_file / backup.password_env in berth.yaml; the snapshots are unchanged');
  }
  if (/no space left on device|ENOSPC|disk quota exceeded/i.test(text)) {
    return new BerthError(
      'REPOSITORY',
      `the repository ${repository} is full (no space left on device) during ${action}`,
      'free space on the repository disk or run `berth backup prune`; earlier snapshots are intact (check with `berth backup verify`)',
    );
  }
  if (/repository is already locked/i.test(text)) {
    const by = /locked (?:exclusively )?by (PID \d+ on \S+ by \S+)/i.exec(text)?.[1];
    return new RepositoryLockedError(repository, by);
  }
  if (/Is there a repository at the following location|unable to open config file|repository does not exist/i.test(text)) {
    return new BerthError('REPOSITORY', `no restic repository at ${repository}`, 'run `berth backup run` once to create it, or check backup.repository in berth.yaml');
  }
  return new BerthError('REPOSITORY', `restic ${action} failed on ${repository}: ${last}`, undefined);
}

/**
 * Another restic holds a lock this command cannot share (a prune or check holds it alone; a backup
 * or restore shares it, but not with those). restic 0.14 cannot wait for it; `waitingForLock` does.
 */
export class RepositoryLockedError extends BerthError {
  constructor(
    readonly repository: string,
    /** "PID 123 on host by user", as restic names the holder. */
    readonly holder: string | undefined,
    opts: { readonly hint?: string; /** How long berth waited for it (backup.lock_wait). */ readonly waited?: string } = {},
  ) {
    super(
      'REPOSITORY',
      `the repository ${repository} is locked${holder ? ` by ${holder}` : ''}${opts.waited ? `, still, after waiting ${opts.waited} (backup.lock_wait)` : ''}`,
      opts.hint ?? 'another backup, prune or check is running; wait for it. A lock left by a killed process on this host is removed automatically; from another host run `restic unlock` once it is surely dead',
    );
    this.name = 'RepositoryLockedError';
  }
}

function lastMeaningfulLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !/^using temporary cache/.test(l));
  return lines.at(-1) ?? '';
}
