import { destroyLab } from '../server/lab/session.ts';
import type { Lab } from '../server/lab/types.ts';
import type { Cleanup } from './cleanup.ts';

// What every section gets: the run's size, its cleanup path and a progress log (stderr).

export interface BenchContext {
  quick: boolean;
  cleanup: Cleanup;
  /** Progress for people watching (stderr); never part of the results. */
  log(line: string): void;
  /** A tag for everything this run creates outside NETDOJO_HOME (Docker objects). */
  runId: string;
  /** The temporary NETDOJO_HOME every bench lab lives under. */
  home: string;
  /** Sections asked for with --only (all when absent). */
  only?: readonly string[];
}

/** Registers a lab with the cleanup path; the returned function tears it down now (and unregisters it). */
export function track(ctx: BenchContext, lab: Lab): () => Promise<void> {
  const remove = ctx.cleanup.add(`lab ${lab.facts.id}`, () => destroyLab(lab));
  return () => ctx.cleanup.now(remove, () => destroyLab(lab));
}

/**
 * Runs a tracked lab's teardown and times it; a teardown that fails is recorded in `errors`
 * (prefixed with `label`) instead of thrown, so one failed teardown does not cost a section its
 * figures. What such a lab leaves goes with the bench's state directory.
 */
export async function teardown(destroy: () => Promise<void>, errors: string[], label = ''): Promise<number | undefined> {
  const t0 = performance.now();
  try {
    await destroy();
    return performance.now() - t0;
  } catch (e) {
    errors.push(`${label}${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}
