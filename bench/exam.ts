import { join } from 'node:path';
import { ExamAttempts } from '../server/exam/attempt.ts';
import { libraryScenarios, loadExams } from '../server/exam/load.ts';
import { realBackend } from '../server/manager/backend.ts';
import { LabManager } from '../server/manager/manager.ts';
import { SqliteStore } from '../server/store/store.ts';
import { PtyHost } from '../server/terminal/host.ts';
import type { BenchContext } from './context.ts';
import { summarize } from './stats.ts';
import type { ExamStart } from './types.ts';

// 11. An exam's start: an attempt of the 2-hour exam started as a learner's Start does (the same
// attempt engine and lab manager as the web server, with a store of its own), timed until every
// task's lab is ready or has failed. Its labs are then stopped without grading; each run is a new
// user's attempt, so each draws fresh seeds.

export const EXAM_BENCHED = 'full';
export const EXAM_RUNS = { full: 3, quick: 1 };

export async function benchExam(ctx: BenchContext): Promise<ExamStart> {
  const catalog = await loadExams(await libraryScenarios());
  const exam = catalog.exams.find((e) => e.spec.id === EXAM_BENCHED);
  if (!exam) throw new Error(`no exam "${EXAM_BENCHED}" in exams/`);
  const store = new SqliteStore(join(ctx.home, 'exam-bench.db'));
  const ptyHost = new PtyHost();
  const manager = new LabManager({ backend: realBackend(), store, ptyHost, provider: 'netns', limits: { examLabs: exam.tasks.length } });
  const attempts = new ExamAttempts({ manager, store, runner: 'cli', exams: async () => catalog, log: ctx.log });
  const ready: number[] = [];
  const failed: string[] = [];
  const teardownErrors: string[] = [];
  try {
    const runs = ctx.quick ? EXAM_RUNS.quick : EXAM_RUNS.full;
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const a = await attempts.start(`bench-${ctx.runId}-${i}`, exam.spec.id);
      await attempts.started(a);
      ready.push(performance.now() - t0);
      const labs = a.tasks.map((t) => attempts.lab(a, t.n));
      for (const [k, m] of labs.entries()) if (m?.phase === 'failed') failed.push(`run ${i + 1}, task ${k + 1} (${a.tasks[k].scenario}): ${m.error}`);
      ctx.log(`exam: run ${i + 1}/${runs}: ${a.tasks.length} task labs ready in ${Math.round(ready.at(-1)!)} ms${failed.length ? ` (${failed.length} failed so far)` : ''}`);
      for (const m of labs) if (m) await manager.end(m, 'the bench is done with it').catch((e) => teardownErrors.push((e as Error).message));
    }
    return { exam: exam.spec.id, tasks: exam.tasks.length, runs, ready: summarize(ready), failed, teardownErrors };
  } finally {
    attempts.close();
    await manager.close();
    await ptyHost.dispose();
    store.close();
  }
}
