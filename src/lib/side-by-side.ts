/**
 * Lanes of work side by side, each lane in order. Every lane runs to its end or its first
 * failure, so nothing is left running behind the caller's back (a lock it holds, a process it
 * started); the first failure is thrown once all have ended. Results come lane by lane.
 */
export async function sideBySide<I, R>(lanes: ReadonlyArray<readonly I[]>, run: (item: I, lane: number) => Promise<R>): Promise<R[]> {
  const settled = await Promise.allSettled(
    lanes.map(async (items, lane) => {
      const out: R[] = [];
      for (const item of items) out.push(await run(item, lane));
      return out;
    }),
  );
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.flatMap((s) => (s.status === 'fulfilled' ? s.value : []));
}

/**
 * Joins lanes whose items share a key (a service that both would stop and start again behind
 * each other's back) into one lane, in lane order; lanes that share nothing stay apart.
 */
export function joinSharing<I>(lanes: ReadonlyArray<readonly I[]>, keys: (item: I) => readonly string[]): I[][] {
  let groups: Array<{ items: I[]; keys: Set<string> }> = [];
  for (const lane of lanes) {
    const own = new Set(lane.flatMap(keys));
    const sharing = groups.filter((g) => [...own].some((k) => g.keys.has(k)));
    const joined = { items: [...sharing.flatMap((g) => g.items), ...lane], keys: new Set([...sharing.flatMap((g) => [...g.keys]), ...own]) };
    const at = sharing.length ? groups.indexOf(sharing[0]!) : groups.length;
    groups = groups.filter((g) => !sharing.includes(g));
    groups.splice(Math.min(at, groups.length), 0, joined);
  }
  return groups.map((g) => g.items).filter((items) => items.length > 0);
}
