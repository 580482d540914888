import type { ProgressFn } from './types.ts';

// Provisioning as an ordered list of named actions, each reported start / done (with its time) /
// fail (with the error), as kind reports its own steps: what `up` prints and the web page shows
// while a lab comes up. Used by every provider.

/** Runs one named action and reports it; its failure is reported, then rethrown. */
export async function runAction<T>(onProgress: ProgressFn | undefined, action: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  onProgress?.({ action, status: 'start' });
  try {
    const r = await fn();
    onProgress?.({ action, status: 'done', ms: Math.round(performance.now() - t0) });
    return r;
  } catch (e) {
    onProgress?.({ action, status: 'fail', ms: Math.round(performance.now() - t0), error: (e as Error).message ?? String(e) });
    throw e;
  }
}

/** Runs named actions in order, reporting each; the first failure stops and is rethrown. */
export async function runActions(actions: [string, () => Promise<void>][], onProgress?: ProgressFn): Promise<void> {
  for (const [action, fn] of actions) await runAction(onProgress, action, fn);
}
