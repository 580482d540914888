import { DEFAULT_LAB_RESOURCES } from '../server/lab/resources.ts';
import { memoryCharged } from '../server/providers/netns/cgroups.ts';
import { labHandle } from '../server/providers/netns/handle.ts';
import { describeEnforcement, probeHost } from '../server/providers/netns/limits.ts';
import { alternate } from './alternate.ts';
import type { BenchContext } from './context.ts';
import { summarize } from './stats.ts';
import type { Limits } from './types.ts';

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
  const charged: number[] = [];
  const { sides, teardownErrors } = await alternate(ctx, 'limits', runs,
    { limited: { label: 'with limits', opts: {} }, unlimited: { label: 'without limits', opts: { unlimited: true } } },
    async (lab, way) => {
      const cgroup = way === 'limited' ? labHandle(lab.record).sandbox.limits?.cgroup : undefined;
      const bytes = cgroup && await memoryCharged(cgroup);
      if (bytes !== undefined) charged.push(bytes);
    });
  return {
    runs,
    mode: probe.ok ? `cgroup v${probe.host.version}` : process.getuid?.() === 0 ? 'nothing' : 'rlimits',
    enforcement: describeEnforcement(probe, DEFAULT_LAB_RESOURCES),
    limited: sides.limited,
    unlimited: sides.unlimited,
    charged: charged.length ? summarize(charged) : undefined,
    teardownErrors,
  };
}
