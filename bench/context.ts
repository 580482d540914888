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
}

/** Registers a lab with the cleanup path; the returned function tears it down now (and unregisters it). */
export function track(ctx: BenchContext, lab: Lab): () => Promise<void> {
  const remove = ctx.cleanup.add(`lab ${lab.facts.id}`, () => destroyLab(lab));
  return () => ctx.cleanup.now(remove, () => destroyLab(lab));
}
