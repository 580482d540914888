// The benchmark's one cleanup path. Everything the run creates (labs, containers, networks, an image,
// a Docker daemon, a browser, a server, the temporary NETDOJO_HOME) registers how to undo itself
// here as soon as it exists; undoing it early unregisters it. run() undoes what is left, newest
// first, each step on its own (one failing step does not skip the others), exactly once, whether
// the run finished, threw, or was interrupted (SIGINT/SIGTERM).

export interface CleanupStep { name: string; fn: () => Promise<void> | void }

export class Cleanup {
  private steps: CleanupStep[] = [];
  private running: Promise<string[]> | undefined;

  /** Registers an undo step; the returned function unregisters it (after undoing by hand). */
  add(name: string, fn: () => Promise<void> | void): () => void {
    const step = { name, fn };
    this.steps.push(step);
    return () => { this.steps = this.steps.filter((s) => s !== step); };
  }

  /** Runs a step now and forgets it (the normal path: a lab torn down when its run is over). */
  async now(remove: () => void, fn: () => Promise<void>): Promise<void> {
    remove();
    await fn();
  }

  get pending(): string[] {
    return this.steps.map((s) => s.name);
  }

  /** Undoes everything still registered, newest first; returns "name: error" for steps that failed. */
  run(): Promise<string[]> {
    this.running ??= (async () => {
      const errors: string[] = [];
      while (this.steps.length) {
        const s = this.steps.pop()!;
        try {
          await s.fn();
        } catch (e) {
          errors.push(`${s.name}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      return errors;
    })();
    return this.running;
  }

  /** On SIGINT/SIGTERM: clean up, then exit 130/143. Returns a function that removes the handlers. */
  onSignals(log: (line: string) => void = () => {}): () => void {
    const handler = (sig: NodeJS.Signals) => {
      log(`bench: ${sig}: cleaning up`);
      void this.run().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    };
    process.once('SIGINT', handler);
    process.once('SIGTERM', handler);
    return () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    };
  }
}
