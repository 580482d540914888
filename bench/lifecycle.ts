import { expectBroken, gradeLab } from '../grader/index.ts';
import { newLabId } from '../server/lab/naming.ts';
import { breakLab, createLab } from '../server/lab/session.ts';
import { baseTopology } from '../server/lab/topology.ts';
import type { Provider } from '../server/lab/types.ts';
import { getProvider } from '../server/providers/index.ts';
import { loadCatalog } from '../server/scenario/load.ts';
import { teardown, track, type BenchContext } from './context.ts';
import { settle } from './settle.ts';
import { summarize, timed } from './stats.ts';
import type { Lifecycle, ScenarioTiming } from './types.ts';

// 1. A lab's life on the netns provider: up (create resolves once every workload answers) and down,
// then per scenario: create + setup, break, and the grade of a healthy and of a broken lab.

export const LIFECYCLE_RUNS = { full: 20, quick: 5 };
/** Per scenario; the default-expectation grade of a broken lab waits out the retry window, so fewer. */
export const SCENARIO_RUNS = { full: 4, quick: 1 };
/** --quick leaves it out: it is the retry window (8 s) plus the last attempt's probe timeouts. */
export const BROKEN_DEFAULT_RUNS = { full: 2, quick: 0 };

/** Up and down of one bare lab (the base topology, no scenario steps); down is undefined when the teardown failed (noted in `errors`). */
export async function upDown(ctx: BenchContext, provider: Provider, errors: string[]): Promise<{ up: number; down?: number }> {
  const up = await timed(() => provider.create(baseTopology(), { id: newLabId(), scenario: 'bench', seed: 1 }));
  return { up: up.ms, down: await teardown(track(ctx, up.value), errors) };
}

export async function benchLifecycle(ctx: BenchContext): Promise<Lifecycle> {
  const provider = await getProvider('netns');
  const problems = await provider.doctor();
  if (problems.length) throw new Error(`the netns provider cannot run here: ${problems.join('; ')}`);

  const runs = ctx.quick ? LIFECYCLE_RUNS.quick : LIFECYCLE_RUNS.full;
  const teardownErrors: string[] = [];
  const cold = await upDown(ctx, provider, teardownErrors);
  ctx.log(`lifecycle: cold up ${cold.up.toFixed(0)} ms`);
  const ups: number[] = [];
  const downs: number[] = [];
  for (let i = 0; i < runs; i++) {
    await settle();
    const r = await upDown(ctx, provider, teardownErrors);
    ups.push(r.up);
    if (r.down !== undefined) downs.push(r.down);
  }
  ctx.log(`lifecycle: ${runs} up/down runs done`);

  const scenarios: ScenarioTiming[] = [];
  const { scenarios: all } = await loadCatalog();
  for (const { spec } of all.filter((s) => s.spec.providers.includes('netns'))) {
    scenarios.push(await benchScenario(ctx, spec.id, teardownErrors));
    ctx.log(`lifecycle: ${spec.id} done`);
  }
  if (!downs.length) throw new Error(`no lab teardown succeeded: ${teardownErrors[0]}`);
  return { runs, up: summarize(ups), down: summarize(downs), coldUpMs: cold.up, scenarios, teardownErrors };
}

async function benchScenario(ctx: BenchContext, scenario: string, teardownErrors: string[]): Promise<ScenarioTiming> {
  const runs = ctx.quick ? SCENARIO_RUNS.quick : SCENARIO_RUNS.full;
  const defaultRuns = ctx.quick ? BROKEN_DEFAULT_RUNS.quick : BROKEN_DEFAULT_RUNS.full;
  const t = { create: [] as number[], break: [] as number[], healthy: [] as number[], broken: [] as number[], brokenDefault: [] as number[] };
  const notes: string[] = [];
  const retried = new Set<string>();
  let checks = 0;
  for (let i = 0; i < runs; i++) {
    // Seeds 1..runs: the scenario's variants rotate (which node, which MTU, ...).
    const seed = i + 1;
    const c = await timed(() => createLab({ scenario, provider: 'netns', seed }));
    const s = c.value;
    const destroy = track(ctx, s.lab);
    try {
      t.create.push(c.ms);
      checks = s.rendered.checks.length;
      const healthy = await timed(() => gradeLab(s.lab, s.rendered.checks, { scenario }));
      t.healthy.push(healthy.ms);
      if (healthy.value.verdict !== 'pass') notes.push(`seed ${seed}: healthy lab graded fail (${failed(healthy.value.checks)})`);
      t.break.push((await timed(() => breakLab(s))).ms);
      const broken = await timed(() => gradeLab(s.lab, s.rendered.checks, { scenario, expect: expectBroken }));
      t.broken.push(broken.ms);
      if (broken.value.verdict !== 'fail') notes.push(`seed ${seed}: broken lab graded pass`);
      for (const c of broken.value.checks) if (c.attempts > 1) retried.add(c.id);
      if (i < defaultRuns) {
        t.brokenDefault.push((await timed(() => gradeLab(s.lab, s.rendered.checks, { scenario }))).ms);
      }
    } finally {
      await teardown(destroy, teardownErrors, `${scenario}: `);
    }
  }
  return {
    scenario, runs, checks,
    create: summarize(t.create), break: summarize(t.break), gradeHealthy: summarize(t.healthy),
    gradeBroken: summarize(t.broken), gradeBrokenDefault: t.brokenDefault.length ? summarize(t.brokenDefault) : undefined, retriedWhenBroken: [...retried].sort(),
    ...(notes.length ? { notes } : {}),
  };
}

const failed = (checks: { id: string; pass: boolean; state: string }[]) =>
  checks.filter((c) => !c.pass).map((c) => `${c.id} ${c.state}`).join(', ');
