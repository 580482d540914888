import { describe, expect, it } from 'vitest';
import { compare, formatBytes, formatMs, formatTimes, median, percentile, ratio, slope, summarize } from './stats.ts';

describe('percentile (nearest rank)', () => {
  const twenty = Array.from({ length: 20 }, (_, i) => 20 - i); // 20..1, unsorted on purpose

  it('p95 of 20 samples is the 19th smallest, an observed value', () => {
    expect(percentile(twenty, 0.95)).toBe(19);
    expect(percentile(twenty, 0.5)).toBe(10);
    expect(percentile(twenty, 1)).toBe(20);
  });

  it('with fewer than 20 samples p95 is the maximum', () => {
    expect(percentile([5, 1, 3, 2, 4], 0.95)).toBe(5);
    expect(percentile([7], 0.95)).toBe(7);
  });

  it('refuses no samples and quantiles outside (0, 1]', () => {
    expect(() => percentile([], 0.5)).toThrow(/no samples/);
    expect(() => percentile([1], 0)).toThrow(/\(0, 1\]/);
    expect(() => percentile([1], 1.5)).toThrow(/\(0, 1\]/);
  });

  it('does not reorder the caller\'s array', () => {
    const xs = [3, 1, 2];
    percentile(xs, 0.5);
    expect(xs).toEqual([3, 1, 2]);
  });
});

describe('median and summarize', () => {
  it('median of odd and even counts', () => {
    expect(median([9, 1, 5])).toBe(5);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('summarize gives n, median, p95, min, max, mean', () => {
    const s = summarize([10, 20, 30, 40, 1000]);
    expect(s).toEqual({ n: 5, median: 30, p95: 1000, min: 10, max: 1000, mean: 220 });
  });

  it('refuses an empty or non-finite sample set', () => {
    expect(() => summarize([])).toThrow();
    expect(() => summarize([1, Number.NaN])).toThrow(/non-finite/);
  });
});

describe('ratios and wording', () => {
  it('ratio is slow / fast, undefined when a side is missing or zero', () => {
    expect(ratio(10, 370)).toBe(37);
    expect(ratio(undefined, 5)).toBeUndefined();
    expect(ratio(0, 5)).toBeUndefined();
  });

  it('formats times-factors by size', () => {
    expect(formatTimes(37.4)).toBe('37×');
    expect(formatTimes(2.44)).toBe('2.4×');
    expect(formatTimes(1.049)).toBe('1.05×');
    expect(formatTimes(0.52)).toBe('0.52×');
  });

  it('says faster or slower the right way round', () => {
    expect(compare({ name: 'netns up', ms: 10 }, { name: 'docker', ms: 370 })).toBe('netns up is 37× faster than docker');
    expect(compare({ name: 'batched', ms: 400 }, { name: 'parallel', ms: 200 })).toBe('batched is 2.0× slower than parallel');
    expect(compare({ name: 'a', ms: undefined }, { name: 'b', ms: 1 })).toBeUndefined();
  });
});

describe('slope', () => {
  it('is the least-squares slope, ignoring a constant offset', () => {
    // 20 units per lab on top of an offset of 1000 (what the machine did before the first lab).
    expect(slope([1, 5, 10, 25, 50].map((x) => ({ x, y: 1000 + 20 * x })))).toBeCloseTo(20, 10);
    expect(slope([{ x: 1, y: 0 }, { x: 2, y: 10 }, { x: 3, y: 14 }])).toBeCloseTo(7, 10);
  });

  it('is undefined without two distinct x', () => {
    expect(slope([{ x: 1, y: 5 }])).toBeUndefined();
    expect(slope([{ x: 2, y: 5 }, { x: 2, y: 9 }])).toBeUndefined();
  });
});

describe('human units', () => {
  it('milliseconds', () => {
    expect(formatMs(0.844)).toBe('0.84 ms');
    expect(formatMs(12.34)).toBe('12.3 ms');
    expect(formatMs(412.4)).toBe('412 ms');
    expect(formatMs(3412)).toBe('3.41 s');
    expect(formatMs(125_000)).toBe('2 min 5 s');
    expect(formatMs(Number.NaN)).toBe('-');
  });

  it('bytes, binary units, negative kept', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(812 * 1024)).toBe('812 KiB');
    expect(formatBytes(34.2 * 1024 ** 2)).toBe('34.2 MiB');
    expect(formatBytes(1.5 * 1024 ** 3)).toBe('1.50 GiB');
    expect(formatBytes(-124 * 1024)).toBe('-124 KiB');
  });
});
