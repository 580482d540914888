import { newLabId } from '../../lab/naming.ts';
import { baseTopology } from '../../lab/topology.ts';
import type { Topology } from '../../lab/types.ts';
import { KindLab } from './lab.ts';
import { createKindProvider } from './provider.ts';
import { assignScenario, restoreBaseline } from './restore.ts';

// A warm pool: N labs created ahead so a learner gets one in seconds, restored into the pool when
// released. (Reset to broken, restoring in place, is the lab session's one path: lab/session.ts.) The pool logic knows nothing about kind: it
// drives a PoolFactory (kindPoolFactory below; tests use a fake).

export interface PoolFactory<L> {
  /** A fresh lab in the base state. */
  create(id: string): Promise<L>;
  destroy(lab: L): Promise<void>;
  /** Back to the base state without recreating; throws when it cannot. May return a new handle. */
  restore(lab: L): Promise<L>;
}

export type PoolEvent =
  | { type: 'created' | 'destroyed'; id: string }
  | { type: 'create-failed' | 'restore-failed'; id: string; error: string };

export interface PoolOptions {
  /** Labs kept ready ahead of demand (NETDOJO_KIND_POOL). */
  size: number;
  /** Creations at once: kind clusters are heavy, and inotify limits bite beyond ~3. */
  maxParallel?: number;
  /** Stop refilling after this many failed creations in a row (until the next acquire). */
  maxFailures?: number;
  newId?: () => string;
  onEvent?: (e: PoolEvent) => void;
}

interface Waiter<L> { resolve: (l: L) => void; reject: (e: Error) => void }

export class WarmPool<L> {
  private warm: L[] = [];
  private creating = new Set<Promise<void>>();
  private waiters: Waiter<L>[] = [];
  private failures = 0;
  private closed = false;
  private readonly maxParallel: number;
  private readonly maxFailures: number;
  private readonly newId: () => string;

  constructor(private factory: PoolFactory<L>, private opts: PoolOptions) {
    if (!Number.isInteger(opts.size) || opts.size < 0) throw new Error(`pool size must be a whole number ≥ 0, got ${opts.size}`);
    this.maxParallel = Math.max(1, opts.maxParallel ?? 2);
    this.maxFailures = Math.max(1, opts.maxFailures ?? 3);
    this.newId = opts.newId ?? newLabId;
  }

  stats() {
    return { warm: this.warm.length, creating: this.creating.size, waiting: this.waiters.length, size: this.opts.size };
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
    while (
      this.creating.size < this.maxParallel &&
      this.failures < this.maxFailures &&
      this.warm.length + this.creating.size < this.opts.size + this.waiters.length
    ) {
      const id = this.newId();
      const job: Promise<void> = this.factory.create(id).then(
        (lab) => {
          this.creating.delete(job);
          this.failures = 0;
          this.emit({ type: 'created', id });
          if (this.closed) {
            const gone = this.destroy(lab, id);
            this.creating.add(gone);
            void gone.then(() => this.creating.delete(gone));
          } else {
            const w = this.waiters.shift();
            if (w) w.resolve(lab);
            else this.warm.push(lab);
          }
          this.refill();
        },
        (e: Error) => {
          this.creating.delete(job);
          this.failures++;
          this.emit({ type: 'create-failed', id, error: e.message });
          // A learner waiting gets the error rather than waiting forever.
          this.waiters.shift()?.reject(e);
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

  /** A lab in the base state: a warm one at once when there is one, else the next one created. */
  acquire(): Promise<L> {
    if (this.closed) return Promise.reject(new Error('pool is closed'));
    const lab = this.warm.shift();
    if (lab) {
      this.refill();
      return Promise.resolve(lab);
    }
    this.failures = 0; // someone asks: try again even after failures
    return new Promise<L>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.refill();
    });
  }

  /** A lab no longer needed: restored into the pool while it has room, destroyed otherwise. */
  async release(lab: L, id = '?'): Promise<void> {
    if (this.closed || this.warm.length + this.creating.size >= this.opts.size) return this.destroy(lab, id);
    try {
      const clean = await this.factory.restore(lab);
      if (this.closed) return this.destroy(clean, id);
      const w = this.waiters.shift();
      if (w) w.resolve(clean);
      else this.warm.push(clean);
    } catch (e) {
      this.emit({ type: 'restore-failed', id, error: (e as Error).message });
      await this.destroy(lab, id);
      this.refill();
    }
  }

  /**
   * Destroys every warm lab and rejects waiters. Labs still being created are destroyed as their
   * creation ends; `drained()` waits for that.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.reject(new Error('pool is closed'));
    await Promise.all(this.warm.splice(0).map((l) => this.destroy(l)));
  }

  /** Resolves when no creation is in flight (after close: when every lab is destroyed). */
  async drained(): Promise<void> {
    while (this.creating.size) await Promise.allSettled([...this.creating]);
  }
}

export const WARM_SCENARIO = '(warm)';

/** Pool factory over real kind clusters: base topology, restore in place. */
export function kindPoolFactory(provider = createKindProvider(), topology: Topology = baseTopology()): PoolFactory<KindLab> & {
  assign(lab: KindLab, scenario: string, seed: number): Promise<KindLab>;
} {
  return {
    async create(id) {
      return (await provider.create(topology, { id, scenario: WARM_SCENARIO, seed: 0 })) as KindLab;
    },
    destroy: (lab) => lab.destroy(),
    restore: (lab) => restoreBaseline(lab, provider),
    assign: (lab, scenario, seed) => assignScenario(lab, scenario, seed, (rec) => new KindLab(rec, { destroy: provider.destroyLab })),
  };
}

/** NETDOJO_KIND_POOL=N: how many kind labs to keep warm (0 when unset). */
export const poolSizeFromEnv = (env = process.env) => Math.max(0, Number.parseInt(env.NETDOJO_KIND_POOL ?? '0', 10) || 0);
