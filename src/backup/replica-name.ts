/**
 * On the backup host (berth.yaml `backup.replicate`) backup.repository is the replica: it holds the
 * primary's snapshots, copied with their tags, `project=` included. A backup host whose own project
 * has the primary's name would take those copies as its own: `backup prune` would forget them by
 * backup.retention (not replicate.retention, and without the pull knowing, so it copies them again),
 * `backup verify` would drill them with nothing recorded to compare, and this host's config
 * snapshots would sit among the primary's, where `restore --all` from the replica could take them.
 * So its backup run, prune and verify refuse, saying how to fix it, and leave the replica as it is.
 */
import { BerthError } from '../lib/errors.js';
import type { Project } from '../project/model.js';
import type { Restic, Snapshot } from './restic.js';

/** The snapshots of this project in `restic`'s repository, after refusing copies of the primary under the same name. */
export async function ownSnapshots(project: Project, restic: Restic): Promise<Snapshot[]> {
  const snapshots = await restic.snapshots(['berth', `project=${project.name}`]);
  if (project.replicate && restic.repository === project.replicate.to) refuseCopiesUnderOwnName(project.name, restic.repository, snapshots);
  return snapshots;
}

export function refuseCopiesUnderOwnName(name: string, repository: string, snapshots: readonly Snapshot[]): void {
  const copies = snapshots.filter((s) => s.original);
  if (copies.length === 0) return;
  throw new BerthError(
    'CONFIG',
    `${repository} holds ${copies.length} snapshot(s) pulled from the primary as project ${name}, this project's own name: its backups, prune and verify would take the primary's copies as this host's (a prune by backup.retention would forget them; restore --all from the replica could take this host's config)`,
    `give this host's project a name of its own (\`name:\` in berth.yaml, e.g. ${name}-offsite); the replica is left as it is, and \`berth replicate pull\` is not affected`,
  );
}
