import { gradeLab } from '../grader/index.ts';
import { createLab, type LabSession } from '../server/lab/session.ts';
import { NetnsLab } from '../server/providers/netns/index.ts';
import { labHandle } from '../server/providers/netns/handle.ts';
import type { SandboxHandle } from '../server/providers/netns/sandbox.ts';
import { clusterHostMemory } from './clusterhost.ts';
import { track, type BenchContext } from './context.ts';
import { labMemory, meminfo, processesByNamespace } from './memory.ts';
import { runPool } from './pool.ts';
import { formatBytes, slope, summarize, timed } from './stats.ts';
import type { Scale, ScaleLevel } from './types.ts';

// 2. Many labs alive at once. Labs are added level by level (1, 5, 10, 25, 50), created with bounded
// concurrency; at each level one lab is graded while all are alive, and memory is read per lab.
// The curve stops at the first failure (a create that fails, a healthy lab graded fail), before a
// level that would leave less than MEM_FLOOR available, or when the time cap would be passed.
// A lab's memory is its sandbox's processes plus its share of the cluster host (the one process
// serving every lab's API and controllers): that process's PSS is read at each level, and its
// growth per lab is the slope over the levels (its fixed cost, Node.js itself, is no lab's).

export const LEVELS = [1, 5, 10, 25, 50];
export const CONCURRENCY = 4;
export const SCALE_SCENARIO = 'dns-egress-dropped';
/** Never leave less than this much memory available (the machine has 24 GiB; labs need far less). */
export const MEM_FLOOR = 2 * 1024 ** 3;
export const TIME_CAP_MS = { full: 420_000, quick: 45_000 };
/** The target: PSS per lab with 50 labs alive, API and controllers included. */
export const PSS_TARGET = 30 * 1024 ** 2;

interface Alive { s: LabSession; destroy: () => Promise<void> }

const handleOf = (s: LabSession): SandboxHandle => {
  if (!(s.lab instanceof NetnsLab)) throw new Error('scale runs on the netns provider');
  return labHandle(s.lab.record).sandbox;
};

export async function benchScale(ctx: BenchContext): Promise<Scale> {
  const cap = ctx.quick ? TIME_CAP_MS.quick : TIME_CAP_MS.full;
  const t0 = performance.now();
  const base = await meminfo();
  const alive: Alive[] = [];
  const levels: ScaleLevel[] = [];
  let stop: Scale['stop'] = { reason: 'all levels reached' };
  let seed = 0;
  let down: { ms: number; errors: string[] } | undefined;
  try {
    for (const level of LEVELS) {
      const toAdd = level - alive.length;
      const last = levels.at(-1);
      if (last) {
        const elapsed = performance.now() - t0;
        // What the next level would take at the last level's pace (wall time per added lab).
        const projected = (last.wallMs / last.added) * toAdd + last.gradeMs;
        if (elapsed + projected > cap) { stop = { reason: `time cap: ${Math.round(cap / 1000)} s would be passed (${Math.round(elapsed / 1000)} s used, next level ~${Math.round(projected / 1000)} s)`, atLabs: level }; break; }
        const need = last.perLab.memAvailableDrop * toAdd;
        if (last.memAvailable - need < MEM_FLOOR) { stop = { reason: `memory: ${level} labs would leave less than ${formatBytes(MEM_FLOOR)} available`, atLabs: level }; break; }
      }
      const created: number[] = [];
      const tasks = Array.from({ length: toAdd }, () => {
        const labSeed = ++seed;
        return async () => {
          const c = await timed(() => createLab({ scenario: SCALE_SCENARIO, provider: 'netns', seed: labSeed }));
          alive.push({ s: c.value, destroy: track(ctx, c.value.lab) });
          created.push(c.ms);
        };
      });
      const wall = await timed(() => runPool(tasks, CONCURRENCY));
      if (wall.value.firstError) {
        stop = { reason: `creating lab ${alive.length + 1} failed: ${message(wall.value.firstError)}`, atLabs: level };
        break;
      }
      const first = alive[0].s;
      const grade = await timed(() => gradeLab(first.lab, first.rendered.checks, { scenario: SCALE_SCENARIO }));
      const byNs = await processesByNamespace();
      const mems = await Promise.all(alive.map((a) => labMemory(handleOf(a.s), byNs)));
      const host = await clusterHostMemory(ctx.home);
      const mi = await meminfo();
      const avg = (f: (m: (typeof mems)[number]) => number) => mems.reduce((a, m) => a + f(m), 0) / mems.length;
      levels.push({
        labs: level, added: toAdd, wallMs: wall.ms, createEach: summarize(created),
        gradeMs: grade.ms, gradeVerdict: grade.value.verdict,
        perLab: {
          processes: avg((m) => m.processes), rss: avg((m) => m.rss), pss: avg((m) => m.pss),
          memAvailableDrop: (base.MemAvailable - mi.MemAvailable) / level,
          slabGrowth: (mi.Slab - base.Slab) / level,
        },
        clusterHost: { rss: host.rss, pss: host.pss },
        memAvailable: mi.MemAvailable,
        slab: mi.Slab,
      });
      ctx.log(`scale: ${level} labs alive (added ${toAdd} in ${Math.round(wall.ms)} ms), grade ${Math.round(grade.ms)} ms ${grade.value.verdict}, cluster host PSS ${formatBytes(host.pss)}`);
      if (grade.value.verdict !== 'pass') {
        const bad = grade.value.checks.filter((c) => !c.pass).map((c) => `${c.id} ${c.state}`).join(', ');
        stop = { reason: `a healthy lab was graded fail with ${level} labs alive: ${bad}`, atLabs: level };
        break;
      }
    }
  } finally {
    // Torn down here in any case, every lab tried (the cleanup path would too, but this is measured).
    const errors: string[] = [];
    const t = await timed(() => runPool(alive.map((a) => () => a.destroy().catch((e) => { errors.push(message(e)); })), CONCURRENCY));
    down = { ms: t.ms, errors };
  }
  const mem = slope(levels.map((l) => ({ x: l.labs, y: l.memAvailable })));
  const slab = slope(levels.map((l) => ({ x: l.labs, y: l.slab })));
  const hostPss = slope(levels.map((l) => ({ x: l.labs, y: l.clusterHost.pss })));
  return {
    concurrency: CONCURRENCY, levels, planned: LEVELS, stop, teardownMs: down.ms, teardownErrors: down.errors, pssTargetBytes: PSS_TARGET,
    ...(mem !== undefined && slab !== undefined && hostPss !== undefined ? { perLabSlope: { memAvailableDrop: -mem, slabGrowth: slab, clusterHostPss: hostPss } } : {}),
  };
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
