import { randomInt } from 'node:crypto';
import { pickVariant, type Variant } from '../scenario/render.ts';

// Seeds for an attempt's tasks: fresh for every attempt, within a task's pinned variant values.

export type Draw = () => number;

export const randomDraw: Draw = () => randomInt(1, 1_000_000);

/** A seed whose variant has the pinned values (keys not pinned vary with the draw). */
export function seedFor(variants: Record<string, (string | number)[]>, pinned: Variant | undefined, draw: Draw): number {
  const start = draw();
  const wanted = Object.entries(pinned ?? {});
  for (let s = start; s < start + 100_000; s++) {
    const v = pickVariant(variants, s);
    if (wanted.every(([k, x]) => v[k] === x)) return s;
  }
  throw new Error(`no seed gives the variant ${JSON.stringify(pinned)}`);
}

/**
 * Seeds for every task, so that the tasks' variants together differ from `previous` (the learner's
 * last attempt of the same exam) whenever the exam has more than one combination.
 */
export function seedsFor(tasks: { variants: Record<string, (string | number)[]>; variant?: Variant }[], previous: number[] | null, draw: Draw): number[] {
  const combination = (seeds: number[]) => JSON.stringify(seeds.map((s, i) => pickVariant(tasks[i].variants, s)));
  const before = previous && previous.length === tasks.length ? combination(previous) : null;
  let seeds: number[] = [];
  for (let i = 0; i < 50; i++) {
    seeds = tasks.map((t) => seedFor(t.variants, t.variant, draw));
    if (combination(seeds) !== before) break;
  }
  return seeds;
}
