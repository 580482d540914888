import { isDeepStrictEqual } from 'node:util';
import { newLabId } from './naming.ts';
import { assignScenario, removeLabDir } from './records.ts';
import { DEFAULT_LAB_RESOURCES, type LabResources } from './resources.ts';
import { baseTopology } from './topology.ts';
import type { Lab, Provider, ProviderName } from './types.ts';

// Warm labs: base labs created ahead of demand, so a learner's lab is there when asked for instead
// of after a whole create (a netns lab's second of pods starting; a kind cluster's minute). A warm
// lab is the base topology under the scenario name WARM_SCENARIO; taking one writes the learner's
// scenario and seed into its record and opens it again, and the session then sets it up and breaks
// it like any other. When none is warm the session creates one as usual: a burst of starts (an
// exam's tasks) never waits behind the pool. The pool knows nothing of providers: it drives a
// PoolFactory (providerFactory below; tests use a fake).

/**
 * How many labs `netdojo serve` keeps warm unless told: a netns lab waiting costs some 30 MiB and
 * a few process starts a minute (its probes); a kind cluster, a gigabyte and a CPU-minute to make.
 */
export const DEFAULT_WARM_LABS: Readonly<Record<ProviderName, number>> = { netns: 2, kind: 0 };

/** The scenario a warm lab's record names until it is taken. */
export const WARM_SCENARIO = '(warm)';

export interface PoolFactory<L> {
  /** A fresh lab in the base state. */
  create(id: string): Promise<L>;
  destroy(lab: L): Promise<void>;
}

export type PoolEvent =
  | { type: 'created' | 'destroyed'; id: string }
  | { type: 'create-failed'; id: string; error: string };

export interface PoolOptions {
  /** Labs kept ready ahead of demand. */
  size: number;
  /** Creations at once (kind clusters are heavy, and inotify limits bite beyond ~3). */
  maxParallel?: number;
  /** Stop refilling after this many failed creations in a row (until the next take). */
  maxFailures?: number;
  newId?: () => string;
  onEvent?: (e: PoolEvent) => void;
}

export class WarmPool<L> {
  private warm: L[] = [];
  private creating = new Set<Promise<void>>();
  private failures = 0;
  private closed = false;
  private readonly maxParallel: number;
  private readonly maxFailures: number;
  private readonly newId: () => string;

  constructor(private factory: PoolFactory<L>, private opts: PoolOptions) {
    if (!Number.isInteger(opts.size) || opts.size < 0) throw new Error(`pool size must be a whole number ≥ 0, got ${opts.size}`);
    this.maxParallel = Math.max(1, opts.maxParallel ?? 1);
    this.maxFailures = Math.max(1, opts.maxFailures ?? 3);
    this.newId = opts.newId ?? newLabId;
  }

  stats() {
    return { warm: this.warm.length, creating: this.creating.size, size: this.opts.size };
  }

  /** Starts filling the pool up to its size. */
  start(): void {
    this.refill();
  }

  private emit(e: PoolEvent) {
    this.opts.onEvent?.(e);
  }

  private refill(): void {
    if (this.closed) return;
    while (this.creating.size < this.maxParallel && this.failures < this.maxFailures && this.warm.length + this.creating.size < this.opts.size) {
      const id = this.newId();
      const job: Promise<void> = this.factory.create(id).then(
        (lab) => {
          this.creating.delete(job);
          this.failures = 0;
          this.emit({ type: 'created', id });
          if (this.closed) {
            // Closed meanwhile: the lab goes, and drained() waits for that.
            const gone = this.destroy(lab, id);
            this.creating.add(gone);
            void gone.then(() => this.creating.delete(gone));
          } else {
            this.warm.push(lab);
          }
          this.refill();
        },
        (e: Error) => {
          this.creating.delete(job);
          this.failures++;
          this.emit({ type: 'create-failed', id, error: e.message });
          this.refill();
        },
      );
      this.creating.add(job);
    }
  }

  private async destroy(lab: L, id = '?') {
    await this.factory.destroy(lab).catch(() => {});
    this.emit({ type: 'destroyed', id });
  }

  /** A warm lab, if one is ready (the pool refills behind it); undefined otherwise. */
  take(): L | undefined {
    if (this.closed) return undefined;
    const lab = this.warm.shift();
    this.failures = 0; // someone asks: try again even after failures
    this.refill();
    return lab;
  }

  /** Destroys every warm lab; labs still being created are destroyed as they finish (see drained). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.warm.splice(0).map((l) => this.destroy(l)));
  }

  /** Resolves when no creation is in flight (after close: when every lab is destroyed). */
  async drained(): Promise<void> {
    while (this.creating.size) await Promise.allSettled([...this.creating]);
  }
}

/** What the session asks of warm labs: one for this scenario, seed and resources, if one is there. */
export interface WarmLabs {
  readonly provider: ProviderName;
  take(want: { scenario: string; seed: number; resources?: LabResources }): Promise<Lab | undefined>;
  stats(): ReturnType<WarmPool<Lab>['stats']>;
  close(): Promise<void>;
}

export interface WarmLabOptions {
  size: number;
  /** What each lab may use of the machine: a request for other resources gets a new lab. */
  resources?: LabResources;
  maxParallel?: number;
  onEvent?: (e: PoolEvent) => void;
}

/** Tears a lab down and removes its directory (the session's destroyLab, which imports this module). */
const destroyWhole = async (lab: Lab) => {
  await lab.destroy();
  await removeLabDir(lab.facts.id);
};

/** Warm base labs of a provider, started filling at once. */
export function warmLabs(provider: Provider, opts: WarmLabOptions): WarmLabs {
  const resources = opts.resources ?? DEFAULT_LAB_RESOURCES;
  const pool = new WarmPool<Lab>({
    create: (id) => provider.create(baseTopology(), { id, scenario: WARM_SCENARIO, seed: 0, resources }),
    destroy: destroyWhole,
  }, { size: opts.size, maxParallel: opts.maxParallel, onEvent: opts.onEvent });
  pool.start();
  return {
    provider: provider.name,
    async take(want) {
      if (!isDeepStrictEqual(want.resources ?? DEFAULT_LAB_RESOURCES, resources)) return undefined;
      const lab = pool.take();
      if (!lab) return undefined;
      try {
        await assignScenario(lab.facts.id, want.scenario, want.seed);
        return await provider.open(lab.facts.id);
      } catch {
        // A warm lab that died while it waited: gone, and the session creates one instead.
        await destroyWhole(lab).catch(() => undefined);
        return undefined;
      }
    },
    stats: () => pool.stats(),
    close: async () => {
      await pool.close();
      await pool.drained();
    },
  };
}

/**
 * Warm labs a server left behind (it ended without closing its pool: a crash, a kill): nobody will
 * take them, so they go. Returns their ids.
 */
export async function removeLeftWarmLabs(provider: Provider): Promise<string[]> {
  const left = (await provider.list()).filter((s) => s.scenario === WARM_SCENARIO && s.state === 'alive');
  for (const s of left) await provider.open(s.id).then(destroyWhole, () => removeLabDir(s.id));
  return left.map((s) => s.id);
}
