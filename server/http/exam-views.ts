import type { GradeReport } from '../../grader/types.ts';
import type { AttemptStatus, ExamAttempts } from '../exam/attempt.ts';
import type { LoadedExam } from '../exam/load.ts';
import { examPoints, taskScore, type Graded, type TaskResult } from '../exam/score.ts';
import type { LabManager } from '../manager/manager.ts';
import type { AttemptRow } from '../store/exams.ts';
import { renderMarkdown } from './markdown.ts';
import { checkView, labView, solutionView, timelineOf } from './views.ts';

// The JSON shapes of exams and attempts, which the API returns and the exam pages render.

export function examView(e: LoadedExam) {
  return {
    id: e.spec.id, title: e.spec.title, minutes: e.spec.minutes, passMark: e.spec.passMark,
    instructions: { markdown: e.spec.instructions, html: renderMarkdown(e.spec.instructions) },
    points: e.tasks.reduce((s, t) => s + t.weight, 0),
    tasks: e.tasks.map((t, i) => ({ n: i + 1, scenario: t.scenario, title: t.title, difficulty: t.difficulty, weight: t.weight })),
  };
}

export function attemptSummary(status: AttemptStatus, a: AttemptRow) {
  return {
    id: a.id, exam: a.exam, title: a.title, status, startedAt: a.startedAt, deadline: a.deadline, finishedAt: a.finishedAt,
    endReason: a.endReason, score: a.score, percent: a.percent, passed: a.passed, passMark: a.passMark, tasks: a.tasks.length,
  };
}

/** What a page shows of a grade: the checks with their titles and hints as HTML (the results partial's shape). */
function gradeOf(points: { earned: number; possible: number }, checks: TaskResult['checks'], matrix: GradeReport['matrix'] | null, ms: number | null) {
  return {
    verdict: points.possible > 0 && points.earned === points.possible ? 'pass' : 'fail', score: points, ms,
    matrix: matrix ?? { sources: [], targets: [], cells: {} }, checks: checks.map(checkView),
  };
}

function finishedTask(r: TaskResult, difficulty: string | undefined, timeline: ReturnType<typeof timelineOf>) {
  return {
    ...r, difficulty, phase: 'ended' as const, lab: null, checks: r.checks.map(checkView), timeline,
    grade: r.graded === 'none' ? null : gradeOf(r.points, r.checks, r.matrix, r.ms),
    solution: r.solution ? solutionView(r.solution) : null,
  };
}

function runningTask(attempts: ExamAttempts, mgr: LabManager, a: AttemptRow, n: number, exam: LoadedExam | undefined) {
  const t = a.tasks.find((x) => x.n === n)!;
  const info = exam?.tasks[n - 1];
  const m = attempts.lab(a, n);
  const lab = m ? labView(mgr, m, []) : null;
  const last: GradeReport | null = m && m.phase === 'ready' ? mgr.lastGrade(m) : null;
  return {
    n, scenario: t.scenario, title: info?.title ?? t.scenario, difficulty: info?.difficulty, weight: t.weight,
    phase: m?.phase ?? 'ended',
    lab: lab && { id: lab.id, token: lab.token, phase: lab.phase, error: lab.error, steps: lab.steps, targets: lab.targets, brief: lab.brief },
    /** From the last Check, until the attempt ends. */
    score: last ? taskScore(t.weight, examPoints(last.checks)) : null,
    points: last ? examPoints(last.checks) : null,
    checks: last ? last.checks.map(checkView) : [],
    grade: last ? gradeOf(last.score, last.checks, last.matrix, last.ms) : null,
    graded: (last ? 'last-check' : 'none') as Graded,
    note: null,
    /** Known once the attempt ends. */
    timeMs: null,
    solution: null,
  };
}

export function attemptView(attempts: ExamAttempts, mgr: LabManager, a: AttemptRow, exam: LoadedExam | undefined, now = Date.now()) {
  const status = attempts.status(a);
  const r = a.result;
  return {
    ...attemptSummary(status, a),
    runner: a.runner,
    minutes: Math.round((a.deadline - a.startedAt) / 60_000),
    remainingMs: r ? 0 : Math.max(0, a.deadline - now),
    instructions: exam ? { markdown: exam.spec.instructions, html: renderMarkdown(exam.spec.instructions) } : null,
    points: a.tasks.reduce((s, t) => s + t.weight, 0),
    tasks: r
      ? r.tasks.map((t) => finishedTask(t, exam?.tasks[t.n - 1]?.difficulty, timelineOf(mgr, a.user, a.tasks.find((x) => x.n === t.n)?.lab ?? null)))
      : a.tasks.map((t) => runningTask(attempts, mgr, a, t.n, exam)),
  };
}
