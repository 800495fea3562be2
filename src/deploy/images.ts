/** Image resolution (tag → immutable ID) and keeping the last N deployed images from pruning. */
import type { Engine, ImageInfo } from '../engine/engine.js';
import { BerthError } from '../lib/errors.js';

export async function resolveImage(engine: Engine, ref: string, service: string): Promise<ImageInfo> {
  const local = await engine.inspectImage(ref);
  if (local) return local;
  try {
    await engine.pullImage(ref);
  } catch (err) {
    throw new BerthError(
      'NOT_FOUND',
      `image "${ref}" for service ${service} is not on this host and could not be pulled: ${(err as Error).message}`,
      `check the name and tag, or build it first (docker build -t ${ref} .)`,
    );
  }
  const pulled = await engine.inspectImage(ref);
  if (!pulled) throw new BerthError('NOT_FOUND', `image "${ref}" for service ${service} is still missing after pull`);
  return pulled;
}

export function keepRepo(project: string, service: string): string {
  return `berth-keep/${project}-${service}`;
}

/**
 * Tag the image of each of the last successful deployments `berth-keep/<project>-<service>:<id>`
 * so `docker image prune` cannot remove what a rollback needs; drop older keep tags.
 */
export async function keepImages(
  engine: Engine,
  project: string,
  service: string,
  keep: ReadonlyArray<{ readonly id: string; readonly imageId: string }>,
): Promise<void> {
  const repo = keepRepo(project, service);
  const wanted = new Set(keep.map((k) => `${repo}:${k.id}`));
  for (const k of keep) {
    if (!(await engine.inspectImage(`${repo}:${k.id}`))) await engine.tagImage(k.imageId, repo, k.id).catch(() => undefined);
  }
  for (const tag of await engine.listImageTags(repo)) {
    if (!wanted.has(tag)) await engine.removeImage(tag).catch(() => undefined);
  }
}
