import { describe, expect, it } from 'vitest';
import { parseMeminfo, parseSmapsRollup, pidNamespace, processesByNamespace, processesIn, processMemory } from './memory.ts';

const MEMINFO = `MemTotal:       24681244 kB
MemFree:        21960344 kB
MemAvailable:   23044572 kB
Slab:             212340 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
`;

const SMAPS_ROLLUP = `55d0c0a00000-7ffc8d7fe000 ---p 00000000 00:00 0                          [rollup]
Rss:               10240 kB
Pss:                4133 kB
Pss_Anon:           2048 kB
Shared_Clean:       6144 kB
`;

describe('parsing /proc', () => {
  it('meminfo: kB fields in bytes, counts as they are', () => {
    const m = parseMeminfo(MEMINFO);
    expect(m.MemAvailable).toBe(23044572 * 1024);
    expect(m.Slab).toBe(212340 * 1024);
    expect(m.HugePages_Total).toBe(0);
    expect(m.Hugepagesize).toBe(2048 * 1024);
  });

  it('smaps_rollup: Rss and Pss in bytes, not Pss_Anon', () => {
    expect(parseSmapsRollup(SMAPS_ROLLUP)).toEqual({ rss: 10240 * 1024, pss: 4133 * 1024 });
  });

  it('smaps_rollup without a Pss line is an error, not zero', () => {
    expect(() => parseSmapsRollup('Rss: 1 kB\n')).toThrow(/Pss/);
  });
});

describe('processes of a PID namespace (this host)', () => {
  it('finds this process in its own PID namespace and reads its memory', async () => {
    const ns = await pidNamespace(process.pid);
    expect(ns).toMatch(/^pid:\[\d+\]$/);
    expect(await processesIn(ns)).toContain(process.pid);
    expect((await processesByNamespace()).get(ns)).toContain(process.pid);
    const m = await processMemory([process.pid]);
    expect(m.processes).toBe(1);
    expect(m.rss).toBeGreaterThan(0);
    expect(m.pss).toBeGreaterThan(0);
    expect(m.pss).toBeLessThanOrEqual(m.rss);
  });

  it('skips processes that are gone', async () => {
    // PID max is at most 2^22; this one cannot exist.
    expect(await processMemory([2 ** 22 + 1])).toEqual({ processes: 0, rss: 0, pss: 0 });
  });
});
