import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labsUnavailable, tempHome } from '../test/support/env.ts';
import { loadCatalog } from './scenario/load.ts';
import { pickVariant } from './scenario/render.ts';
import { checkRunsOn, isStepList } from './scenario/schema.ts';
import { verifyOne } from './verify.ts';

/** The fewest seeds (from 1 up) under which every value of every variant key shows up. */
function coveringSeeds(variants: Record<string, (string | number)[]>): number[] {
  const missing = new Set(Object.entries(variants).flatMap(([k, vs]) => vs.map((v) => `${k}=${v}`)));
  const seeds: number[] = [];
  for (let seed = 1; missing.size && seed < 1000; seed++) {
    const picked = Object.entries(pickVariant(variants, seed)).map(([k, v]) => `${k}=${v}`);
    if (picked.some((p) => missing.has(p))) { seeds.push(seed); picked.forEach((p) => missing.delete(p)); }
  }
  return seeds.length ? seeds : [1];
}

const why = labsUnavailable();
if (why) console.warn(`skipping verify over the seed scenarios: ${why}`);

describe.skipIf(why)('every scenario proves itself, every variant, every listed fix', async () => {
  const home = tempHome();
  beforeAll(() => { process.env.NETDOJO_HOME = home.dir; });
  afterAll(() => home.remove());
  const { scenarios } = await loadCatalog();

  for (const s of scenarios) {
    for (const seed of coveringSeeds(s.spec.variants)) {
      it(`${s.spec.id}, seed ${seed} (${Object.entries(pickVariant(s.spec.variants, seed)).map(([k, v]) => `${k}=${v}`).join(' ')})`, async () => {
        const r = await verifyOne(s.spec.id, 'netns', seed, true);
        expect(r.problems).toEqual([]);
        expect(r.baseline.pass).toBe(true);
        expect(r.broken.pass).toBe(false);
        expect(r.solved.pass).toBe(true);
        // Every listed fix that applies to netns was tried (some are kind's alone).
        const onNetns = (list: typeof s.spec.accepts) => list.filter((a) => checkRunsOn(a, 'netns') && (isStepList(a.steps) || a.steps.netns)).length;
        expect(r.attempts.length).toBe(onNetns(s.spec.accepts) + onNetns(s.spec.rejects));
        expect(r.attempts.every((a) => a.ok)).toBe(true);
        expect(r.cleanup.leaked).toEqual([]);
        expect(r.ok).toBe(true);
      });
    }
  }
});
