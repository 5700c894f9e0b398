// Bounded concurrency: a few tasks at a time from a list, stopping when told.

/** Runs fn over items, at most `limit` at a time, starting none after the signal fires. Results in start order. */
export async function runPool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>, signal: AbortSignal): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  let started = 0;
  const worker = async () => {
    while (next < items.length && !signal.aborted) {
      const index = next++;
      started += 1;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results.slice(0, started);
}
