import type { CheckResult, Matrix } from '../../grader/types.ts';

// An exam's points. A task is worth its weight and earns it for what the learner mended: its target
// checks (those the break makes fail), each by its own weight, so a half-fixed task earns half. The
// other checks (guards, what must stay blocked, what already worked) pass in an untouched lab and
// earn nothing; they are gates instead: a task with one of them failing earns nothing, as a
// destructive "fix" grades fail in practice.

export interface Points { earned: number; possible: number }

/** How a task's final grade was obtained. */
export type Graded =
  /** graded when the attempt ended */
  | 'final'
  /** its lab was gone at the end: its last Check counts */
  | 'last-check'
  /** nothing to grade: no lab, no Check */
  | 'none';

export interface TaskResult {
  /** 1-based, as the exam lists it. */
  n: number;
  scenario: string;
  title: string;
  weight: number;
  /** Points earned of `weight`. */
  score: number;
  /** Its target checks' points (earned / possible), gated by the others (examPoints). */
  points: Points;
  graded: Graded;
  note: string | null;
  checks: CheckResult[];
  /** The reachability matrix of that grade, and how long grading took. */
  matrix: Matrix | null;
  ms: number | null;
  /** Time this task was the current one; null when nothing said which task was current (CLI). */
  timeMs: number | null;
  lab: string | null;
  seed: number;
  variant: Record<string, string | number>;
  solution: { markdown: string; steps: { on: string; run: string; name?: string }[] } | null;
}

export interface AttemptResult {
  score: Points;
  percent: number;
  passed: boolean;
  passMark: number;
  reason: string;
  finishedAt: number;
  tasks: TaskResult[];
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

/** A task's exam points from its grade: the target checks' weights earned of possible, gated by the others. */
export function examPoints(checks: Pick<CheckResult, 'pass' | 'weight' | 'target'>[]): Points {
  const targets = checks.filter((c) => c.target);
  const possible = targets.reduce((s, c) => s + c.weight, 0);
  const gated = checks.some((c) => !c.target && !c.pass);
  return { earned: gated ? 0 : targets.filter((c) => c.pass).reduce((s, c) => s + c.weight, 0), possible };
}

/** weight × earned/possible; a grade with no points possible, or none at all, earns nothing. */
export function taskScore(weight: number, points: Points | null): number {
  if (!points || points.possible <= 0) return 0;
  return round((weight * points.earned) / points.possible, 2);
}

/** The attempt's total, percent (one decimal) and whether it reaches the pass mark. */
export function attemptScore(tasks: { weight: number; score: number }[], passMark: number): { score: Points; percent: number; passed: boolean } {
  const earned = tasks.reduce((s, t) => s + t.score, 0);
  const possible = tasks.reduce((s, t) => s + t.weight, 0);
  const exact = possible > 0 ? (100 * earned) / possible : 0;
  return { score: { earned: round(earned, 2), possible: round(possible, 2) }, percent: round(exact, 1), passed: exact >= passMark - 1e-9 };
}

/**
 * Time per task from the moments the learner made a task the current one (1-based task numbers):
 * each stretch runs until the next switch, the last until `end`.
 */
export function timeOnTasks(switches: { n: number; at: number }[], end: number): Map<number, number> {
  const out = new Map<number, number>();
  const sorted = [...switches].sort((a, b) => a.at - b.at);
  sorted.forEach((s, i) => {
    const until = Math.min(end, i + 1 < sorted.length ? sorted[i + 1].at : end);
    if (until > s.at) out.set(s.n, (out.get(s.n) ?? 0) + until - s.at);
  });
  return out;
}
