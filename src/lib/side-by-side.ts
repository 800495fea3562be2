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
