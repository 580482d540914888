import { setTimeout as delay } from 'node:timers/promises';
import { DEFAULT_RETRY_POLICY, gradeLab, type GradeReport, type RetryPolicy } from '../grader/index.ts';
import { hasSettled } from '../grader/settle.ts';
import type { Lab } from '../server/lab/types.ts';
import { breakLab, createLab, solveLab } from '../server/lab/session.ts';
import { loadCatalog } from '../server/scenario/load.ts';
import { teardown, track, type BenchContext } from './context.ts';
import { summarize, timed } from './stats.ts';
import type { CheckLatency, CheckScenario } from './types.ts';

// 9. Check as a learner presses it: gradeLab with the default expectation (PASS), on a lab right
// after its break, on the same broken lab once it has settled (nothing written for a retry window,
// every pod and node Ready: what a learner who read the task first presses Check on), and right
// after its reference solution (fixed), for every scenario of the catalog. Also on the broken lab:
// when the first check was final (what the page shows first), and the same grade under the rule
// before definite failures (every failure retried for the whole window), interleaved on the same
// lab. On the fixed lab, `true` through lab.exec on the first check's source: the floor that exec
// alone puts under any Check.

export const CHECK_RUNS = { full: 2, quick: 1 };
/** The targets (p95); the broken one is judged on labs left alone for a window (see above). */
export const CHECK_TARGETS = { brokenP95Ms: 4000, fixedP95Ms: 500 };
/** How long a broken lab is given to settle before it is graded anyway (a lab with a pod not Ready never does). */
export const SETTLE_WAIT_MS = 20_000;
/** Every failure held for the whole window, at one cadence: the grader before definite failures. */
export const WINDOW_ONLY: Partial<RetryPolicy> = { confirmMs: DEFAULT_RETRY_POLICY.windowMs, confirmIntervalMs: DEFAULT_RETRY_POLICY.intervalMs };

/** Waits until the lab has settled, or SETTLE_WAIT_MS; what is still in motion then, if anything. */
async function untilSettled(lab: Lab): Promise<string[]> {
  const deadline = performance.now() + SETTLE_WAIT_MS;
  for (;;) {
    const s = await lab.settled?.();
    if (hasSettled(s, DEFAULT_RETRY_POLICY.windowMs)) return [];
    if (performance.now() >= deadline) return s?.unsettled.length ? s.unsettled : [s ? `quiet for ${s.quietMs} ms only` : 'the lab cannot tell'];
    await delay(250);
  }
}

export async function benchCheck(ctx: BenchContext): Promise<CheckLatency> {
  const runs = ctx.quick ? CHECK_RUNS.quick : CHECK_RUNS.full;
  const { scenarios: all } = await loadCatalog();
  const teardownErrors: string[] = [];
  const scenarios: CheckScenario[] = [];
  for (const { spec } of all.filter((s) => s.spec.providers.includes('netns'))) {
    scenarios.push(await benchScenario(ctx, spec.id, runs, teardownErrors));
    const last = scenarios.at(-1)!;
    ctx.log(`check: ${spec.id}: broken ${Math.round(last.broken.median)} ms, settled ${Math.round(last.brokenSettled.median)} ms, fixed ${Math.round(last.fixed.median)} ms`);
  }
  const pooled = (pick: (s: CheckScenario) => number[]) => summarize(scenarios.flatMap(pick));
  return {
    runs, targets: CHECK_TARGETS, scenarios, teardownErrors,
    broken: pooled((s) => s.samples.broken), brokenSettled: pooled((s) => s.samples.brokenSettled), brokenWindowOnly: pooled((s) => s.samples.brokenWindowOnly),
    firstShown: pooled((s) => s.samples.firstShown), fixed: pooled((s) => s.samples.fixed), execFloor: pooled((s) => s.samples.execFloor),
  };
}

async function benchScenario(ctx: BenchContext, scenario: string, runs: number, teardownErrors: string[]): Promise<CheckScenario> {
  const samples: CheckScenario['samples'] = { broken: [], brokenSettled: [], brokenWindowOnly: [], firstShown: [], fixed: [], execFloor: [] };
  let unsettled: string[] = [];
  const notes: string[] = [];
  const slowest = new Map<string, number>();
  for (let i = 0; i < runs; i++) {
    const seed = i + 1;
    const s = await createLab({ scenario, provider: 'netns', seed });
    const destroy = track(ctx, s.lab);
    try {
      await breakLab(s);
      let first = Infinity;
      const t0 = performance.now();
      const broken = await timed(() => gradeLab(s.lab, s.rendered.checks, {
        scenario, onProgress: (e) => { if (e.type === 'check') first = Math.min(first, performance.now() - t0); },
      }));
      samples.broken.push(broken.ms);
      samples.firstShown.push(first);
      for (const c of broken.value.checks) if (!c.pass) slowest.set(`${c.id} ${c.state}`, Math.max(slowest.get(`${c.id} ${c.state}`) ?? 0, c.ms));
      if (broken.value.verdict !== 'fail') notes.push(`seed ${seed}: the broken lab was graded pass`);
      if (i === 0) samples.brokenWindowOnly.push((await timed(() => gradeLab(s.lab, s.rendered.checks, { scenario, policy: WINDOW_ONLY, settled: false }))).ms);
      unsettled = await untilSettled(s.lab);
      const settled = await timed(() => gradeLab(s.lab, s.rendered.checks, { scenario }));
      samples.brokenSettled.push(settled.ms);
      if (settled.value.verdict !== 'fail') notes.push(`seed ${seed}: the broken lab, settled, was graded pass`);
      await solveLab(s);
      const fixed = await timed(() => gradeLab(s.lab, s.rendered.checks, { scenario }));
      samples.fixed.push(fixed.ms);
      if (fixed.value.verdict !== 'pass') notes.push(`seed ${seed}: the fixed lab was graded fail (${failed(fixed.value)})`);
      samples.execFloor.push((await timed(() => s.lab.exec(s.rendered.checks[0].from, ['true']))).ms);
    } finally {
      await teardown(destroy, teardownErrors, `${scenario}: `);
    }
  }
  const [last] = [...slowest].sort((a, b) => b[1] - a[1]);
  return {
    scenario, samples,
    broken: summarize(samples.broken), brokenSettled: summarize(samples.brokenSettled), fixed: summarize(samples.fixed), firstShown: summarize(samples.firstShown),
    ...(unsettled.length ? { unsettled } : {}),
    brokenWindowOnly: summarize(samples.brokenWindowOnly),
    ...(last ? { lastFinal: last[0] } : {}),
    ...(notes.length ? { notes } : {}),
  };
}

const failed = (r: GradeReport) => r.checks.filter((c) => !c.pass).map((c) => `${c.id} ${c.state}`).join(', ');
