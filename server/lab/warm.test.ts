import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { tempHome } from '../../test/support/env.ts';
import { labDir } from './naming.ts';
import { readRecord, writeRecord } from './records.ts';
import { DEFAULT_LAB_RESOURCES } from './resources.ts';
import { baseTopology } from './topology.ts';
import type { CreateOptions, Lab, LabStatus, Provider } from './types.ts';
import { removeLeftWarmLabs, WARM_SCENARIO, WarmPool, warmLabs, type PoolEvent, type PoolFactory } from './warm.ts';

// The pool against a fake factory whose creations we complete (or fail) by hand, so every ordering
// is explicit and nothing waits on wall-clock time; then warm labs over a provider whose labs are
// records only (the real netns provider's warm labs are in session.test.ts).

interface FakeLab { id: string }

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

class FakeFactory implements PoolFactory<FakeLab> {
  pending: { id: string; d: ReturnType<typeof deferred<FakeLab>> }[] = [];
  destroyed: string[] = [];
  create(id: string) {
    const d = deferred<FakeLab>();
    this.pending.push({ id, d });
    return d.promise;
  }
  /** Completes the oldest pending creation. */
  finish(ok = true) {
    const p = this.pending.shift();
    if (!p) throw new Error('no creation pending');
    if (ok) p.d.resolve({ id: p.id });
    else p.d.reject(new Error(`create ${p.id} failed`));
    return p.id;
  }
  async destroy(lab: FakeLab) {
    this.destroyed.push(lab.id);
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
    expect(pool.take()?.id).toBe(first);
    expect(f.pending.length).toBe(1); // refilling
    await pool.close();
  });

  it('with none warm, take gives nothing rather than making the caller wait', async () => {
    const f = new FakeFactory();
    const pool = new WarmPool(f, { size: 1, newId: ids });
    pool.start();
    expect(pool.take()).toBeUndefined();
    expect(f.pending.length).toBe(1); // the one being made goes on
    await pool.close();
    f.finish();
    await pool.drained();
  });

  it('stops refilling after maxFailures in a row, and a take tries again', async () => {
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
    expect(pool.take()).toBeUndefined();
    expect(f.pending.length).toBe(1);
    await pool.close();
    f.finish();
    await pool.drained();
  });

  it('close destroys warm labs and those finishing creation; nothing is taken after', async () => {
    const f = new FakeFactory();
    const pool = new WarmPool(f, { size: 2, maxParallel: 2, newId: ids });
    pool.start();
    const a = f.finish();
    await tick();
    await pool.close();
    const b = f.finish(); // finishes after close
    await pool.drained();
    expect(f.destroyed.sort()).toEqual([a, b].sort());
    expect(pool.take()).toBeUndefined();
    expect(() => new WarmPool(new FakeFactory(), { size: -1 })).toThrow(/size/);
  });
});

/** A provider whose labs are records; `dead` ones fail to open, as a lab whose sandbox died does. */
function recordProvider() {
  const dead = new Set<string>();
  const destroyed: string[] = [];
  const created: CreateOptions[] = [];
  const topology = baseTopology();
  const lab = (id: string, scenario: string, seed: number): Lab => ({
    facts: { id, scenario, seed, provider: 'netns', nodes: [], pods: [], services: [], dns: topology.dns },
    exec: async () => ({ code: 0, stdout: '', stderr: '', timedOut: false, ms: 0 }),
    shell: () => { throw new Error('no shell'); },
    targets: () => [],
    destroy: async () => { destroyed.push(id); },
  });
  const provider: Provider = {
    name: 'netns',
    async create(_topo, opts) {
      created.push(opts);
      await writeRecord({ id: opts.id, provider: 'netns', scenario: opts.scenario, seed: opts.seed, createdAt: '', topology, facts: lab(opts.id, opts.scenario, opts.seed).facts, handle: {} });
      return lab(opts.id, opts.scenario, opts.seed);
    },
    async open(id) {
      if (dead.has(id)) throw new Error(`lab ${id} is gone`);
      const r = await readRecord(id);
      return lab(id, r.scenario, r.seed);
    },
    async list(): Promise<LabStatus[]> {
      return Promise.all(created.filter((o) => existsSync(labDir(o.id))).map(async (o) => ({
        id: o.id, provider: 'netns' as const, scenario: (await readRecord(o.id)).scenario, state: 'alive' as const, createdAt: '',
      })));
    },
    reap: async () => [],
    doctor: async () => [],
    kubeconfig: async () => '',
  };
  return { provider, dead, destroyed, created };
}

const until = async (cond: () => boolean) => { while (!cond()) await tick(); };

describe('warm labs of a provider', () => {
  const home = tempHome();
  beforeAll(() => { process.env.NETDOJO_HOME = home.dir; });
  afterAll(() => home.remove());

  it('takes a warm lab with the scenario and seed written into its record, and refills', async () => {
    const p = recordProvider();
    const warm = warmLabs(p.provider, { size: 1 });
    await until(() => warm.stats().warm === 1);
    expect(p.created[0]).toMatchObject({ scenario: WARM_SCENARIO, seed: 0, resources: DEFAULT_LAB_RESOURCES });
    const lab = await warm.take({ scenario: 'coredns-down', seed: 42 });
    expect(lab?.facts).toMatchObject({ id: p.created[0].id, scenario: 'coredns-down', seed: 42 });
    expect(await readRecord(lab!.facts.id)).toMatchObject({ scenario: 'coredns-down', seed: 42, facts: { scenario: 'coredns-down', seed: 42 } });
    await until(() => warm.stats().warm === 1);
    await warm.close();
    expect(p.destroyed).toEqual([p.created[1].id]); // the one still warm; the taken one is the learner's
    expect(existsSync(labDir(p.created[1].id))).toBe(false);
  });

  it('gives nothing for other resources than its labs have, or for a lab that died while warm', async () => {
    const p = recordProvider();
    const warm = warmLabs(p.provider, { size: 1 });
    await until(() => warm.stats().warm === 1);
    expect(await warm.take({ scenario: 's', seed: 1, resources: { ...DEFAULT_LAB_RESOURCES, cpuMillis: 500 } })).toBeUndefined();
    expect(warm.stats().warm).toBe(1); // still there for a request it fits
    p.dead.add(p.created[0].id);
    expect(await warm.take({ scenario: 's', seed: 1 })).toBeUndefined();
    expect(p.destroyed).toEqual([p.created[0].id]);
    expect(existsSync(labDir(p.created[0].id))).toBe(false);
    await warm.close();
  });

  it('removes the warm labs an earlier run left, and no other lab', async () => {
    const p = recordProvider();
    await p.provider.create(baseTopology(), { id: 'lleft001', scenario: WARM_SCENARIO, seed: 0 });
    await p.provider.create(baseTopology(), { id: 'lmine001', scenario: 'coredns-down', seed: 3 });
    expect(await removeLeftWarmLabs(p.provider)).toEqual(['lleft001']);
    expect(p.destroyed).toEqual(['lleft001']);
    expect(existsSync(labDir('lleft001'))).toBe(false);
    expect(existsSync(labDir('lmine001'))).toBe(true);
  });
});
