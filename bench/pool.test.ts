import { describe, expect, it } from 'vitest';
import { runPool } from './pool.ts';

/** A task that finishes when the test says so, recording how many ran at once. */
function gate() {
  let inFlight = 0;
  let maxInFlight = 0;
  const started: number[] = [];
  const release: (() => void)[] = [];
  const task = (i: number, fail = false) => () => new Promise<number>((resolve, reject) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    started.push(i);
    release[i] = () => { inFlight--; if (fail) reject(new Error(`task ${i} failed`)); else resolve(i * 10); };
  });
  return { task, started, release, max: () => maxInFlight };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('runPool', () => {
  it('never runs more than the limit at once, and keeps results in task order', async () => {
    const g = gate();
    const done = runPool([0, 1, 2, 3, 4, 5].map((i) => g.task(i)), 2);
    await tick();
    expect(g.started).toEqual([0, 1]);
    g.release[1]();
    await tick();
    expect(g.started).toEqual([0, 1, 2]);
    g.release[0]();
    await tick();
    expect(g.started).toEqual([0, 1, 2, 3]);
    g.release[3]();
    g.release[2]();
    await tick();
    expect(g.started).toEqual([0, 1, 2, 3, 4, 5]);
    g.release[5]();
    g.release[4]();
    const { results, firstError } = await done;
    expect(firstError).toBeUndefined();
    expect(results.map((r) => (r.ok ? r.value : -1))).toEqual([0, 10, 20, 30, 40, 50]);
    expect(g.max()).toBe(2);
  });

  it('starts nothing new after a failure and reports the first error', async () => {
    const g = gate();
    const tasks = [g.task(0), g.task(1, true), g.task(2), g.task(3)];
    const done = runPool(tasks, 2);
    await tick();
    g.release[1]();
    await tick();
    g.release[0]();
    const { results, firstError } = await done;
    expect((firstError as Error).message).toBe('task 1 failed');
    expect(g.started).toEqual([0, 1]);
    expect(results).toHaveLength(2);
    expect(results[0]).toEqual({ ok: true, value: 0 });
    expect(results[1].ok).toBe(false);
  });

  it('refuses a limit below 1', async () => {
    await expect(runPool([], 0)).rejects.toThrow(/≥ 1/);
  });
});
