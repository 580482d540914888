import { DEFAULT_RETRY_POLICY, gradeLab, planCheck, probeTimeouts, type ProbeTimeouts } from '../grader/index.ts';
import { createLab } from '../server/lab/session.ts';
import { teardown, track, type BenchContext } from './context.ts';
import { summarize, timed } from './stats.ts';
import type { Probes } from './types.ts';

// 4b. Probes as one process per probe versus batched per pod. The same probe commands (the
// grader's own, for every check of a scenario) run on a healthy lab three ways: one `lab.exec` per
// probe one after another, one per probe all at once, and gradeLab (one exec per source pod,
// sources in parallel; on a healthy lab every check passes on the first attempt, so no retries).

export const PROBE_SCENARIO = 'dns-egress-dropped';
export const PROBE_RUNS = { full: 5, quick: 2 };

const TIMEOUTS: ProbeTimeouts = probeTimeouts(DEFAULT_RETRY_POLICY);

export async function benchProbes(ctx: BenchContext): Promise<Probes> {
  const runs = ctx.quick ? PROBE_RUNS.quick : PROBE_RUNS.full;
  const s = await createLab({ scenario: PROBE_SCENARIO, provider: 'netns', seed: 1 });
  const destroy = track(ctx, s.lab);
  const teardownErrors: string[] = [];
  try {
    const checks = s.rendered.checks;
    const probes = checks.flatMap((c) => planCheck(c, TIMEOUTS).commands.map((cmd) => ({ from: c.from, cmd })));
    const one = (p: (typeof probes)[number]) =>
      s.lab.exec(p.from, ['timeout', '-k', '1', String(p.cmd.timeoutS), 'bash', '-c', p.cmd.script], { timeoutMs: (p.cmd.timeoutS + 2) * 1000 });
    const t = { seq: [] as number[], par: [] as number[], batch: [] as number[] };
    for (let i = 0; i < runs; i++) {
      t.seq.push((await timed(async () => { for (const p of probes) await one(p); })).ms);
      t.par.push((await timed(() => Promise.all(probes.map(one)))).ms);
      const g = await timed(() => gradeLab(s.lab, checks, { scenario: PROBE_SCENARIO }));
      if (g.value.verdict !== 'pass') {
        throw new Error(`the healthy ${PROBE_SCENARIO} lab was graded fail: ${g.value.checks.filter((c) => !c.pass).map((c) => `${c.id} ${c.state}`).join(', ')}`);
      }
      t.batch.push(g.ms);
    }
    return {
      scenario: PROBE_SCENARIO, checks: checks.length, probes: probes.length, sources: new Set(checks.map((c) => c.from)).size, runs,
      perProbeSequential: summarize(t.seq), perProbeParallel: summarize(t.par), batched: summarize(t.batch), teardownErrors,
    };
  } finally {
    // Filled before the result is read: the finally runs before the caller sees the return value.
    await teardown(destroy, teardownErrors);
  }
}
