import { describe, expect, it } from 'vitest';
import { pickVariant } from '../scenario/render.ts';
import { attemptScore, examPoints, taskScore, timeOnTasks } from './score.ts';
import { seedFor, seedsFor } from './seeds.ts';

describe('exam scoring', () => {
  it('a task\'s points are its mended targets; the other checks earn nothing and, failing, gate it', () => {
    const check = (pass: boolean, target: boolean, weight = 1) => ({ pass, target, weight });
    // Untouched: the targets fail, the guards and what already worked pass: nothing earned.
    expect(examPoints([check(false, true, 2), check(false, true), check(true, false), check(true, false, 3)])).toEqual({ earned: 0, possible: 3 });
    // Half mended, by weight.
    expect(examPoints([check(true, true, 2), check(false, true), check(true, false)])).toEqual({ earned: 2, possible: 3 });
    expect(examPoints([check(true, true, 2), check(true, true), check(true, false)])).toEqual({ earned: 3, possible: 3 });
    // A destructive "fix": the targets pass, a guard fails.
    expect(examPoints([check(true, true, 2), check(true, true), check(false, false)])).toEqual({ earned: 0, possible: 3 });
  });

  it('a task earns its weight times the share of check points it passes', () => {
    expect(taskScore(30, { earned: 9, possible: 9 })).toBe(30);
    expect(taskScore(30, { earned: 3, possible: 9 })).toBe(10);
    expect(taskScore(11, { earned: 2, possible: 3 })).toBe(7.33);
    expect(taskScore(8, { earned: 0, possible: 5 })).toBe(0);
    expect(taskScore(8, null)).toBe(0);
    expect(taskScore(8, { earned: 0, possible: 0 })).toBe(0);
  });

  it('the attempt sums the tasks, gives a percent and passes at the mark', () => {
    const tasks = [{ weight: 30, score: 30 }, { weight: 30, score: 10 }, { weight: 40, score: 26 }];
    expect(attemptScore(tasks, 66)).toEqual({ score: { earned: 66, possible: 100 }, percent: 66, passed: true });
    expect(attemptScore([{ weight: 3, score: 1.99 }], 66.4)).toEqual({ score: { earned: 1.99, possible: 3 }, percent: 66.3, passed: false });
    expect(attemptScore([{ weight: 8, score: 0 }], 0).passed).toBe(true);
  });

  it('time per task runs from each switch to the next, the last until the end', () => {
    const t = timeOnTasks([{ n: 1, at: 100 }, { n: 2, at: 400 }, { n: 1, at: 1_000 }, { n: 3, at: 5_000 }], 2_000);
    expect([...t.entries()].sort()).toEqual([[1, 300 + 1_000], [2, 600]]);
    expect(timeOnTasks([], 5).size).toBe(0);
  });
});

describe('exam seeds', () => {
  const variants = { mode: ['a', 'b', 'c'], node: ['control-plane', 'worker'] };

  it('a pinned variant holds whatever the draw; the other keys still vary', () => {
    let n = 0;
    const draw = () => 1 + 7919 * n++;
    const seeds = Array.from({ length: 40 }, () => seedFor(variants, { node: 'worker' }, draw));
    expect(seeds.every((s) => pickVariant(variants, s).node === 'worker')).toBe(true);
    expect(new Set(seeds.map((s) => pickVariant(variants, s).mode)).size).toBe(3);
  });

  it('an attempt differs from the previous one even when the draw repeats it', () => {
    const tasks = [{ variants }, { variants: { how: ['x', 'y'] } }];
    const repeats = [5, 9, 5, 9, 5, 9, 123, 456];
    let i = 0;
    const draw = () => repeats[i++ % repeats.length];
    const first = seedsFor(tasks, null, draw);
    expect(first).toEqual([5, 9]);
    const second = seedsFor(tasks, first, draw);
    const combination = (s: number[]) => JSON.stringify(s.map((x, k) => pickVariant(tasks[k].variants, x)));
    expect(combination(second)).not.toBe(combination(first));
  });
});
