import { describe, expect, it } from 'vitest';
import { WarmPool, poolSizeFromEnv, type PoolEvent, type PoolFactory } from './pool.ts';

// The pool against a fake cluster factory whose creations we complete (or fail) by hand, so every
// ordering is explicit and nothing waits on wall-clock time.

interface FakeLab { id: string; state: 'base' | 'broken' | 'messy'; restoredTimes: number }

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

class FakeFactory implements PoolFactory<FakeLab> {
  pending: { id: string; d: ReturnType<typeof deferred<FakeLab>> }[] = [];
  destroyed: string[] = [];
  restoreFails = new Set<string>();
  created = 0;
  create(id: string) {
    const d = deferred<FakeLab>();
    this.pending.push({ id, d });
    return d.promise;
  }
  /** Completes the oldest pending creation. */
  finish(ok = true) {
    const p = this.pending.shift();
    if (!p) throw new Error('no creation pending');
    if (ok) {
      this.created++;
      p.d.resolve({ id: p.id, state: 'base', restoredTimes: 0 });
    } else p.d.reject(new Error(`create ${p.id} failed`));
    return p.id;
  }
  async destroy(lab: FakeLab) {
    this.destroyed.push(lab.id);
  }
  async restore(lab: FakeLab) {
    if (this.restoreFails.has(lab.id)) throw new Error(`cannot restore ${lab.id}`);
    return { ...lab, state: 'base' as const, restoredTimes: lab.restoredTimes + 1 };
  }
}

const tick = () => new Promise((r) => setImmediate(r));
let n = 0;
const ids = () => `lab${String(++n).padStart(4, '0')}`;

describe('WarmPool', () => {
  it('fills to its size, at most maxParallel creations at once', async () => {
    const f = new FakeFactory();
    const pool = new WarmPool(f, { size: 3, maxParallel: 2, newId: ids });
    pool.start();
    expect(f.pending.length).toBe(2);
    f.finish();
    await tick();
    expect(f.pending.length).toBe(2); // the third started when a slot freed
    f.finish();
    f.finish();
    await tick();
    expect(pool.stats()).toMatchObject({ warm: 3, creating: 0 });
    expect(f.pending.length).toBe(0);
    await pool.close();
  });

  it('hands out a warm lab at once and refills behind it', async () => {
    const f = new FakeFactory();
    const pool = new WarmPool(f, { size: 1, newId: ids });
    pool.start();
    const first = f.finish();
    await tick();
    const lab = await pool.acquire();
    expect(lab.id).toBe(first);
    expect(f.pending.length).toBe(1); // refilling
    await pool.close();
  });

  it('with an empty pool, acquire waits for a creation it starts', async () => {
    const f = new FakeFactory();
    const pool = new WarmPool(f, { size: 0, newId: ids });
    pool.start();
    expect(f.pending.length).toBe(0);
    const p = pool.acquire();
    expect(f.pending.length).toBe(1);
    const id = f.finish();
    expect((await p).id).toBe(id);
    expect(pool.stats().warm).toBe(0);
    await pool.close();
  });

  it('rejects a waiter when its creation fails, and stops retrying after maxFailures', async () => {
    const f = new FakeFactory();
    const events: PoolEvent[] = [];
    const pool = new WarmPool(f, { size: 2, maxParallel: 1, maxFailures: 2, newId: ids, onEvent: (e) => events.push(e) });
    pool.start();
    f.finish(false);
    await tick();
    f.finish(false);
    await tick();
    expect(f.pending.length).toBe(0); // gave up after 2 failures in a row
    expect(events.filter((e) => e.type === 'create-failed')).toHaveLength(2);
    const p = pool.acquire(); // a request tries again
    expect(f.pending.length).toBe(1);
    f.finish(false);
    await expect(p).rejects.toThrow(/failed/);
    await pool.close();
  });

  it('release destroys a lab when the pool is full, and keeps it (restored) when there is room', async () => {
    const f = new FakeFactory();
    const pool = new WarmPool(f, { size: 1, maxParallel: 1, newId: ids });
    pool.start();
    f.finish();
    await tick();
    expect(pool.stats().warm).toBe(1);
    await pool.release({ id: 'other1', state: 'messy', restoredTimes: 0 });
    expect(f.destroyed).toEqual(['other1']); // full: destroyed
    await pool.close();

    const g = new FakeFactory();
    const pool2 = new WarmPool(g, { size: 1, newId: ids }); // not started: room for one
    await pool2.release({ id: 'other2', state: 'messy', restoredTimes: 0 });
    expect(g.destroyed).toEqual([]);
    expect(pool2.stats().warm).toBe(1);
    expect(await pool2.acquire()).toMatchObject({ id: 'other2', state: 'base', restoredTimes: 1 });
    expect(g.pending.length).toBe(1); // refilling behind it
    await pool2.close();
    const late = g.finish();
    await pool2.drained();
    expect(g.destroyed).toEqual([late]);
  });

  it('close destroys warm labs and those finishing creation, and rejects waiters', async () => {
    const f = new FakeFactory();
    const pool = new WarmPool(f, { size: 2, maxParallel: 2, newId: ids });
    pool.start();
    const a = f.finish();
    await tick();
    await pool.close();
    const b = f.finish(); // finishes after close
    await pool.drained();
    expect(f.destroyed.sort()).toEqual([a, b].sort());
    await expect(pool.acquire()).rejects.toThrow(/closed/);
  });

  it('reads its size from NETDOJO_KIND_POOL', () => {
    expect(poolSizeFromEnv({ NETDOJO_KIND_POOL: '3' })).toBe(3);
    expect(poolSizeFromEnv({})).toBe(0);
    expect(poolSizeFromEnv({ NETDOJO_KIND_POOL: 'x' })).toBe(0);
    expect(() => new WarmPool(new FakeFactory(), { size: -1 })).toThrow(/size/);
  });
});
