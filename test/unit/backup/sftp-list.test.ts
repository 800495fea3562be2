/** The sftp client's argv and the repository folder, from what restic's sftp.command is built of. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listSftpDir, sftpClientArgv, sftpRepositoryPath } from '../../../src/backup/sftp-list.js';
import { sshArgv } from '../../../src/replicate/restic.js';

describe('looking at an sftp repository through the sftp client', () => {
  it('takes over port, key and options of the ssh command restic runs', () => {
    const ssh = sshArgv('sftp:backup@nas.lan:/srv/repo', { port: 2222, identityFile: '/k/id', knownHosts: '/k/known' })!;
    assert.deepEqual(sftpClientArgv(ssh), [
      '-b', '-', '-q',
      '-P', '2222',
      '-i', '/k/id', '-o', 'IdentitiesOnly=yes',
      '-o', 'UserKnownHostsFile=/k/known', '-o', 'StrictHostKeyChecking=yes',
      '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=15', '-o', 'ServerAliveInterval=15', '-o', 'ServerAliveCountMax=3',
      'backup@nas.lan',
    ]);
    assert.deepEqual(sftpClientArgv(sshArgv('sftp:nas:/srv/repo', {})!)?.slice(-3), ['-o', 'ServerAliveCountMax=3', 'nas']);
  });

  it('refuses an ssh command it does not know how to carry over', () => {
    assert.equal(sftpClientArgv(['ssh', '-J', 'jump', 'nas', '-s', 'sftp']), undefined);
    assert.equal(sftpClientArgv(['ssh', 'nas', 'cat']), undefined);
    assert.equal(sftpClientArgv(['dbclient', 'nas', '-s', 'sftp']), undefined);
  });

  it("finds the repository's folder in both URL forms", () => {
    assert.equal(sftpRepositoryPath('sftp:backup@nas.lan:/srv/repo'), '/srv/repo');
    assert.equal(sftpRepositoryPath('sftp:nas:repo'), 'repo');
    assert.equal(sftpRepositoryPath('sftp:backup@[::1]:/srv/repo'), '/srv/repo');
    assert.equal(sftpRepositoryPath('sftp://backup@nas.lan:2222//srv/repo'), '/srv/repo');
    assert.equal(sftpRepositoryPath('sftp://nas.lan/repo'), 'repo');
    assert.equal(sftpRepositoryPath('/srv/repo'), undefined);
  });

  it('cannot list without an sftp client, or with a folder name it would not quote safely: undefined, no throw', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      assert.equal(await listSftpDir(['ssh', 'nas', '-s', 'sftp'], '/srv/repo/locks'), undefined);
    } finally {
      process.env.PATH = path;
    }
    assert.equal(await listSftpDir(['ssh', 'nas', '-s', 'sftp'], '/srv/"repo"/locks'), undefined);
  });
});
