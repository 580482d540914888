// Runs tasks with at most `limit` in flight, in order of the list; results in the same order.
// A failed task does not start new ones after it: the first error is returned with the results so
// far (a scale run stops at the first lab that cannot be created, and reports it).

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

export async function runPool<T>(tasks: readonly (() => Promise<T>)[], limit: number): Promise<{ results: Settled<T>[]; firstError?: unknown }> {
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`concurrency must be a whole number ≥ 1, got ${limit}`);
  const results: Settled<T>[] = new Array(tasks.length);
  let next = 0;
  let failed = false;
  let firstError: unknown;
  const worker = async () => {
    while (!failed && next < tasks.length) {
      const i = next++;
      try {
        results[i] = { ok: true, value: await tasks[i]() };
      } catch (error) {
        results[i] = { ok: false, error };
        if (!failed) { failed = true; firstError = error; }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return { results: results.filter((r) => r !== undefined), firstError };
}
