/**
 * The short-lived helper container that reads and writes volumes, so the host itself needs no
 * access to volume data. Its image (`berth-helper:local` by default) is made on first use with
 * `docker import` from this host's static busybox: no registry needed.
 */
import fs from 'node:fs';
import { pack } from 'tar-stream';
import { BerthError } from '../lib/errors.js';
import { capture, exitOf, start } from './process.js';

const applets = ['sh', 'tar', 'rm', 'find', 'sha256sum', 'ls', 'cat', 'mkdir'];
const busyboxPaths = ['/bin/busybox', '/usr/bin/busybox'];

export async function ensureHelperImage(image: string): Promise<void> {
  if ((await capture({ file: 'docker', args: ['image', 'inspect', '--format', '{{.Id}}', image] })).code === 0) return;
  const busybox = busyboxPaths.find((p) => fs.existsSync(p));
  if (!busybox) {
    throw new BerthError('BACKUP', `the helper image ${image} is missing and there is no static busybox on this host to build it`, 'install busybox-static, or set backup.helper_image to an image that has sh and tar');
  }
  const tarball = pack();
  tarball.entry({ name: 'bin', type: 'directory', mode: 0o755 });
  tarball.entry({ name: 'tmp', type: 'directory', mode: 0o1777 });
  tarball.entry({ name: 'bin/busybox', mode: 0o755 }, fs.readFileSync(busybox));
  for (const a of applets) tarball.entry({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' });
  tarball.finalize();
  const child = start({ file: 'docker', args: ['import', '--change', 'ENV PATH=/bin', '--change', 'LABEL berth.role=helper', '-', image] });
  tarball.pipe(child.stdin!);
  const r = await exitOf(child);
  if (r.code !== 0) throw new BerthError('ENGINE', `cannot build the helper image ${image}: ${r.stderr.trim()}`);
}
