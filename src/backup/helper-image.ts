/**
 * The short-lived helper container that reads and writes volumes, so the host itself needs no
 * access to volume data. Its image (`berth-helper:local` by default) is made with `docker
 * import` from this host's static busybox and its restic binary (plus the libraries `ldd` lists):
 * no registry needed. It is rebuilt when the restic binary changes.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import { BerthError } from '../lib/errors.js';
import { capture } from './process.js';

const applets = ['sh', 'tar', 'rm', 'find', 'sha256sum', 'ls', 'cat', 'mkdir', 'kill', 'sleep', 'mv', 'rmdir'];
const busyboxPaths = ['/bin/busybox', '/usr/bin/busybox'];
const versionLabel = 'berth.helper-version';

/** Files of the host put into the image: busybox, restic and restic's shared libraries. */
async function hostFiles(): Promise<{ busybox: string; restic?: string; libs: string[] }> {
  const busybox = busyboxPaths.find((p) => fs.existsSync(p));
  if (!busybox) {
    throw new BerthError('BACKUP', 'the helper image is missing and there is no static busybox on this host to build it', 'install busybox-static, or set backup.helper_image to an image that has sh and tar');
  }
  const which = await capture({ file: 'sh', args: ['-c', 'command -v restic'] });
  const restic = which.code === 0 ? fs.realpathSync(which.stdout.trim()) : undefined;
  if (!restic) return { busybox, libs: [] };
  const ldd = await capture({ file: 'ldd', args: [restic] });
  const libs = ldd.code === 0 ? [...ldd.stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)].map((m) => m[1]!) : [];
  return { busybox, restic, libs };
}

function versionOf(files: { busybox: string; restic?: string; libs: string[] }): string {
  const h = createHash('sha256').update(`v2 ${applets.join(',')}`);
  for (const f of [files.busybox, ...(files.restic ? [files.restic] : []), ...files.libs]) {
    const st = fs.statSync(f);
    h.update(`${f} ${st.size} ${st.mtimeMs}\n`);
  }
  return h.digest('hex').slice(0, 16);
}

/** True when the image has restic (it does when this host has restic). */
export async function ensureHelperImage(image: string): Promise<{ hasRestic: boolean }> {
  const files = await hostFiles();
  const version = versionOf(files);
  const inspect = await capture({ file: 'docker', args: ['image', 'inspect', '--format', `{{index .Config.Labels "berth.role"}} {{index .Config.Labels "${versionLabel}"}} {{.Id}}`, image] });
  const [role, current, previousId] = inspect.stdout.trim().split(' ');
  if (inspect.code === 0 && current === version) return { hasRestic: !!files.restic };
  // An image berth did not make (backup.helper_image) is used as it is, for streamed tar backups.
  if (inspect.code === 0 && role !== 'helper') return { hasRestic: false };
  const tarball = pack();
  const dirs = new Set<string>();
  const addFile = (p: string) => {
    const rel = p.replace(/^\//, '');
    for (let d = path.dirname(rel); d !== '.' && !dirs.has(d); d = path.dirname(d)) dirs.add(d);
    return rel;
  };
  const entries: Array<{ name: string; data: Buffer; mode: number }> = [];
  entries.push({ name: addFile('/bin/busybox'), data: fs.readFileSync(files.busybox), mode: 0o755 });
  if (files.restic) entries.push({ name: addFile('/bin/restic'), data: fs.readFileSync(files.restic), mode: 0o755 });
  for (const lib of files.libs) entries.push({ name: addFile(lib), data: fs.readFileSync(lib), mode: 0o755 });
  for (const d of [...dirs, 'tmp'].sort()) tarball.entry({ name: d, type: 'directory', mode: d === 'tmp' ? 0o1777 : 0o755 });
  for (const e of entries) tarball.entry({ name: e.name, mode: e.mode }, e.data);
  for (const a of applets) tarball.entry({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' });
  tarball.finalize();
  // From a file, not docker's stdin: a docker that gives up at once (dockerd unreachable) would
  // leave the tarball writing into a closed pipe.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-helper-'));
  let r;
  try {
    const file = path.join(dir, 'rootfs.tar');
    await pipeline(tarball, fs.createWriteStream(file));
    r = await capture({ file: 'docker', args: ['import', '--change', 'ENV PATH=/bin', '--change', 'LABEL berth.role=helper', '--change', `LABEL ${versionLabel}=${version}`, file, image] });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (r.code !== 0) throw new BerthError('ENGINE', `cannot build the helper image ${image}: ${r.stderr.trim()}`);
  // The image it replaces (restic or busybox upgraded) would stay behind untagged: ~20 MB per upgrade.
  // A helper still running keeps it in use; then it stays, and is only untagged.
  if (inspect.code === 0 && previousId) await capture({ file: 'docker', args: ['image', 'rm', previousId] });
  return { hasRestic: !!files.restic };
}
