import { newLabId } from '../server/lab/naming.ts';
import { DEFAULT_LAB_RESOURCES } from '../server/lab/resources.ts';
import { baseTopology } from '../server/lab/topology.ts';
import { memoryCharged } from '../server/providers/netns/cgroups.ts';
import { labHandle } from '../server/providers/netns/handle.ts';
import { netnsProvider } from '../server/providers/netns/index.ts';
import { describeEnforcement, probeHost } from '../server/providers/netns/limits.ts';
import { teardown, track, type BenchContext } from './context.ts';
import { labMemory } from './memory.ts';
import { settle } from './settle.ts';
import { summarize, timed } from './stats.ts';
import type { Limits, LimitsSide } from './types.ts';

// 8. What a lab's limits cost: bare labs (the base topology) created with the default limits (a
// cgroup made for the lab, its holder started in it, every entry into the lab joining it, a child
// cgroup per container) and without any, alternately so both see the same machine. Up and down
// times; memory per lab as its processes' PSS either way, and, with limits, as the kernel charges
// the lab's cgroup (what the memory limit is held to: processes, page cache, the kernel's memory
// for the lab's sockets, namespaces and tables).

export const LIMITS_LABS = { full: 10, quick: 3 };

export async function benchLimits(ctx: BenchContext): Promise<Limits> {
  const probe = await probeHost();
  const runs = ctx.quick ? LIMITS_LABS.quick : LIMITS_LABS.full;
  const teardownErrors: string[] = [];
  const sides = { limited: { up: [] as number[], down: [] as number[], pss: [] as number[] }, unlimited: { up: [] as number[], down: [] as number[], pss: [] as number[] } };
  const charged: number[] = [];
  for (let i = 0; i < runs; i++) {
    for (const unlimited of [false, true]) {
      await settle();
      const up = await timed(() => netnsProvider.create(baseTopology(), { id: newLabId(), scenario: 'bench', seed: 1, unlimited }));
      const lab = up.value;
      const destroy = track(ctx, lab);
      const side = unlimited ? sides.unlimited : sides.limited;
      side.up.push(up.ms);
      const sandbox = labHandle(lab.record).sandbox;
      side.pss.push((await labMemory(sandbox)).pss);
      const cgroup = sandbox.limits?.cgroup;
      if (cgroup) {
        const bytes = await memoryCharged(cgroup);
        if (bytes !== undefined) charged.push(bytes);
      }
      const down = await teardown(destroy, teardownErrors, unlimited ? 'without limits: ' : 'with limits: ');
      if (down !== undefined) side.down.push(down);
    }
    ctx.log(`limits: ${i + 1}/${runs} pairs`);
  }
  const summary = (s: typeof sides.limited): LimitsSide => ({ up: summarize(s.up), down: summarize(s.down), pss: summarize(s.pss) });
  return {
    runs,
    mode: probe.ok ? `cgroup v${probe.host.version}` : process.getuid?.() === 0 ? 'nothing' : 'rlimits',
    enforcement: describeEnforcement(probe, DEFAULT_LAB_RESOURCES),
    limited: summary(sides.limited),
    unlimited: summary(sides.unlimited),
    charged: charged.length ? summarize(charged) : undefined,
    teardownErrors,
  };
}
