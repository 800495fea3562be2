/**
 * Lists a folder of an sftp repository with OpenSSH's `sftp` client in batch mode, over the same
 * ssh options restic uses. While another restic holds the repository's lock, a look at its
 * `locks/` folder costs one ssh login instead of an attempt (a key derivation, a dump started for
 * nothing). The account may be limited to sftp (`internal-sftp`): no shell command is run.
 */
import { execFile } from 'node:child_process';

/**
 * The sftp client's argv for the ssh argv restic's `sftp.command` is built from
 * (`ssh [-p PORT] [-i KEY] [-o OPT]… DEST -s sftp`); undefined for anything else.
 */
export function sftpClientArgv(sshArgv: readonly string[]): string[] | undefined {
  if (sshArgv[0] !== 'ssh' || sshArgv.at(-2) !== '-s' || sshArgv.at(-1) !== 'sftp') return undefined;
  const dest = sshArgv.at(-3)!;
  const out = ['-b', '-', '-q'];
  const opts = sshArgv.slice(1, -3);
  for (let i = 0; i < opts.length; i += 2) {
    const [flag, value] = [opts[i], opts[i + 1]];
    if (value === undefined) return undefined;
    if (flag === '-p') out.push('-P', value);
    else if (flag === '-i' || flag === '-o') out.push(flag, value);
    else return undefined;
  }
  return [...out, dest];
}

/** The folder an sftp repository URL names, as the sftp client takes it (relative: from the login's home). */
export function sftpRepositoryPath(url: string): string | undefined {
  const m = /^sftp:\/\/[^/]+\/(.+)$/.exec(url) ?? /^sftp:(?:[^@/]+@)?(?:\[[^\]]+\]|[^:/]+):(.+)$/.exec(url);
  return m?.[1];
}

/** The names in `dir`, sorted; undefined when it cannot be listed (link down, no such folder). */
export function listSftpDir(sshArgv: readonly string[], dir: string, timeoutMs = 20_000): Promise<string[] | undefined> {
  const argv = sftpClientArgv(sshArgv);
  if (!argv || /["\n]/.test(dir)) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const child = execFile('sftp', argv, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout) => {
      if (err) return resolve(undefined);
      // Batch mode echoes each command ("sftp> ls -1 …"); `ls -1 DIR` prints DIR/NAME per entry.
      const names = stdout
        .split('\n')
        .filter((l) => l && !l.startsWith('sftp>'))
        .map((l) => l.slice(l.lastIndexOf('/') + 1));
      resolve(names.sort());
    });
    // No sftp client (ENOENT) or an early exit: the callback above says so; a broken pipe here is not news.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(`ls -1 "${dir}"\n`);
  });
}
