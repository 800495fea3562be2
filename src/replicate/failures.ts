/** What a failed pull tells the operator: which side is wrong, and how to fix it. */
import type { ReplicateConfig } from '../project/replicate-schema.js';
import type { ResticFailure } from './restic.js';

export function failureMessage(cfg: ReplicateConfig, f: ResticFailure | undefined, side: string | undefined, attempts: number, err: unknown): string {
  const message = pullFailure(cfg, f, side, attempts, err);
  if (f?.during !== 'retention') return message;
  const why = message.replace(/^pull (from \S+ )?failed ?/, '');
  return `the copy succeeded, but this host's retention could not be applied${why.startsWith(':') ? why : ` ${why}`}`;
}

function pullFailure(cfg: ReplicateConfig, f: ResticFailure | undefined, side: string | undefined, attempts: number, err: unknown): string {
  const tries = `after ${attempts} attempt(s)`;
  const repo = side === 'replica' ? `this host's repository ${cfg.to}` : `the primary's repository ${cfg.from}`;
  switch (f?.kind) {
    case 'unreachable':
      return `pull from ${cfg.from} failed ${tries}: the primary is unreachable or the link was cut (${f.message})`;
    case 'auth':
      return `pull from ${cfg.from} failed: SSH login to the primary was refused (${f.message})`;
    case 'wrong-password':
      return `pull failed: wrong password for ${repo} (${f.message})`;
    case 'no-repository':
      return `pull failed: there is no restic repository at ${repo} (${f.message})`;
    case 'locked':
      return `pull failed ${tries}: ${repo} is locked by another restic process`;
    case 'aborted':
      return `pull from ${cfg.from} was cancelled`;
    default:
      return `pull from ${cfg.from} failed: ${(err as Error).message}`;
  }
}

export function failureHint(cfg: ReplicateConfig, f: ResticFailure | undefined, side: string | undefined): string | undefined {
  const hint = kindHint(cfg, f?.kind, side);
  if (f?.during !== 'retention') return hint;
  return `${hint ? `${hint}; ` : ''}the next pull applies the retention (the copies made now are kept meanwhile)`;
}

function kindHint(cfg: ReplicateConfig, kind: string | undefined, side: string | undefined): string | undefined {
  switch (kind) {
    case 'locked':
      return 'another restic process (a prune, check or restore) holds the lock: wait for it to end, or `restic unlock` if none is running';
    case 'unreachable':
      return `check that the primary's sshd is up and reachable (port ${cfg.ssh.port ?? 22}); the next scheduled pull copies whatever is still missing`;
    case 'auth':
      return "add this host's public key to the primary's read-only account (authorized_keys) and its host key to backup.replicate.ssh.known_hosts";
    case 'wrong-password':
      return side === 'replica' ? 'check backup.password_file / backup.password_env on this host' : 'check backup.replicate.from_password_file / from_password_env: it must hold the primary repository password';
    case 'no-repository':
      return side === 'replica' ? 'check backup.repository, and that the disk holding it is mounted' : 'check backup.replicate.from: the path must be the primary’s backup.repository';
    default:
      return undefined;
  }
}
