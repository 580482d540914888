import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../server/scenario/load.ts';
import { pickVariant } from '../../server/scenario/render.ts';
import { checkRunsOn, isStepList } from '../../server/scenario/schema.ts';
import { verifyOne } from '../../server/verify.ts';
import { labsUnavailable, tempHome } from './env.ts';
import { firstSeed, ROTATION } from './rotation.ts';

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

/**
 * The proof of every scenario (every variant value, every listed fix) as a test suite, for the
 * scenarios at the catalog positions `part` picks: the library is split over test files so that
 * both of the test runner's workers share it. Every run proves every variant value of every
 * scenario, under seeds that move with the rotation: the combinations of values, and the seeds,
 * differ from run to run.
 */
export function proveScenarios(part: { of: number; index: number }): void {
  const why = labsUnavailable();
  if (why) console.warn(`skipping verify over the scenarios: ${why}`);
  describe.skipIf(why)(`scenarios ${part.index + 1} of every ${part.of} prove themselves, every variant, every listed fix (rotation ${ROTATION}: seeds from ${firstSeed()})`, async () => {
    const home = tempHome();
    beforeAll(() => { process.env.NETDOJO_HOME = home.dir; });
    afterAll(() => home.remove());
    const scenarios = (await loadCatalog()).scenarios.filter((_, i) => i % part.of === part.index);
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
}
