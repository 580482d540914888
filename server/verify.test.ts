import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labsUnavailable, tempHome } from '../test/support/env.ts';
import { firstSeed, ROTATION } from '../test/support/rotation.ts';
import { loadCatalog } from './scenario/load.ts';
import { pickVariant } from './scenario/render.ts';
import { checkRunsOn, isStepList } from './scenario/schema.ts';
import { verifyOne } from './verify.ts';

/** The fewest seeds (from `first` up) under which every value of every variant key shows up. */
function coveringSeeds(variants: Record<string, (string | number)[]>, first: number): number[] {
  const missing = new Set(Object.entries(variants).flatMap(([k, vs]) => vs.map((v) => `${k}=${v}`)));
  const seeds: number[] = [];
  for (let seed = first; missing.size && seed < first + 1000; seed++) {
    const picked = Object.entries(pickVariant(variants, seed)).map(([k, v]) => `${k}=${v}`);
    if (picked.some((p) => missing.has(p))) { seeds.push(seed); picked.forEach((p) => missing.delete(p)); }
  }
  return seeds.length ? seeds : [first];
}

const why = labsUnavailable();
if (why) console.warn(`skipping verify over the seed scenarios: ${why}`);

// Every run proves every variant value of every scenario, under seeds that move with the rotation:
// the combinations of values, and the seeds, differ from run to run.
describe.skipIf(why)(`every scenario proves itself, every variant, every listed fix (rotation ${ROTATION}: seeds from ${firstSeed()})`, async () => {
  const home = tempHome();
  beforeAll(() => { process.env.NETDOJO_HOME = home.dir; });
  afterAll(() => home.remove());
  const { scenarios } = await loadCatalog();

  for (const s of scenarios) {
    for (const seed of coveringSeeds(s.spec.variants, firstSeed())) {
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
        // A minute for the proof itself and one for each listed fix (each is a lab of its own).
      }, 60_000 * (1 + s.spec.accepts.length + s.spec.rejects.length));
    }
  }
});
