import { newLabId } from '../server/lab/naming.ts';
import type { CreateOptions } from '../server/lab/types.ts';
import { baseTopology } from '../server/lab/topology.ts';
import { labHandle } from '../server/providers/netns/handle.ts';
import { netnsProvider, type NetnsLab } from '../server/providers/netns/index.ts';
import { teardown, track, type BenchContext } from './context.ts';
import { labMemory } from './memory.ts';
import { settle } from './settle.ts';
import { summarize, timed } from './stats.ts';
import type { LimitsSide } from './types.ts';

// What one way of making labs costs against another: bare labs (the base topology) made each way in
// turn, `runs` rounds, settled apart, so every way sees the same machine. Up and down times, and the
// PSS of each lab's processes.

export type Way = Pick<CreateOptions, 'unlimited' | 'hostRoot'>;

export async function alternate<K extends string>(ctx: BenchContext, what: string, runs: number, ways: Record<K, { label: string; opts: Way }>,
  onUp?: (lab: NetnsLab, way: K) => Promise<void>): Promise<{ sides: Record<K, LimitsSide>; teardownErrors: string[] }> {
  const teardownErrors: string[] = [];
  const keys = Object.keys(ways) as K[];
  const samples = Object.fromEntries(keys.map((k) => [k, { up: [] as number[], down: [] as number[], pss: [] as number[] }])) as Record<K, { up: number[]; down: number[]; pss: number[] }>;
  for (let i = 0; i < runs; i++) {
    for (const k of keys) {
      await settle();
      const up = await timed(() => netnsProvider.create(baseTopology(), { id: newLabId(), scenario: 'bench', seed: 1, ...ways[k].opts }));
      const lab = up.value;
      const destroy = track(ctx, lab);
      samples[k].up.push(up.ms);
      samples[k].pss.push((await labMemory(labHandle(lab.record).sandbox)).pss);
      await onUp?.(lab, k);
      const down = await teardown(destroy, teardownErrors, `${ways[k].label}: `);
      if (down !== undefined) samples[k].down.push(down);
    }
    ctx.log(`${what}: ${i + 1}/${runs} rounds`);
  }
  const sides = Object.fromEntries(keys.map((k) => [k, { up: summarize(samples[k].up), down: summarize(samples[k].down), pss: summarize(samples[k].pss) }])) as Record<K, LimitsSide>;
  return { sides, teardownErrors };
}
