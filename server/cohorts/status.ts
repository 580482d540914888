import type { ExamAttempts } from '../exam/attempt.ts';
import { examPoints, taskScore } from '../exam/score.ts';
import type { LabManager } from '../manager/manager.ts';
import type { AssignmentItem, CohortRow } from '../store/cohorts.ts';
import type { ProgressStore } from '../store/store.ts';

// Where a learner stands on each item of a cohort's assignment: the one computation behind the
// learner's cohort page and the trainer's dashboard. Scenarios: not started, working (the latest
// Check's score, time spent, hints), solved (the time it took, hints). Exams: not started, an attempt
// under way, or the latest attempt's result. Everything the learner did counts, before joining too:
// a member is their usual browser identity.

export type ItemState = 'not-started' | 'working' | 'solved' | 'finished';

export interface ItemStatus {
  kind: AssignmentItem['kind'];
  ref: string;
  title: string;
  state: ItemState;
  /** Scenarios: the latest Check; exams: the attempt's points (so far, or its result). */
  score: { earned: number; possible: number } | null;
  /** Exams, once an attempt finished. */
  percent: number | null;
  passed: boolean | null;
  /** Time spent (working), to the first pass (solved), in the attempt (exams). */
  timeMs: number | null;
  hints: number;
  /** The learner's running labs for this item (a trainer watches them; the learner goes back to them). */
  labs: { id: string; title: string; phase: string }[];
  /** Exams: the latest attempt. */
  attempt: { id: string; status: string } | null;
  /** One line saying all of the above. */
  summary: string;
}

export interface StatusDeps {
  store: ProgressStore;
  manager: LabManager;
  attempts: ExamAttempts;
  /** Titles of scenarios and exams by id (an item whose scenario left the library keeps its id). */
  titles: Map<string, string>;
  now?: () => number;
}

const minutes = (ms: number) => (ms < 60_000 ? `${Math.max(0, Math.round(ms / 1000))} s` : `${Math.round(ms / 60_000)} min`);
const points = (s: { earned: number; possible: number }) => `${+s.earned.toFixed(1)}/${+s.possible.toFixed(1)}`;
const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

export function learnerStatus(d: StatusDeps, cohort: CohortRow, user: string): ItemStatus[] {
  const now = (d.now ?? Date.now)();
  const progress = new Map(d.store.progress(user).map((p) => [p.scenario, p]));
  const attempts = d.attempts.list(user);
  // Practice labs, as progress counts them: an exam's tasks are scored in their attempt.
  const examLabs = new Set(attempts.flatMap((a) => a.tasks.map((t) => t.lab)));
  const labs = d.store.labsOf(user).filter((l) => !examLabs.has(l.id));
  const running = d.manager.of(user);
  return cohort.items.map((item): ItemStatus => {
    const title = d.titles.get(`${item.kind}:${item.ref}`) ?? item.ref;
    const base = { kind: item.kind, ref: item.ref, title, score: null, percent: null, passed: null, timeMs: null, hints: 0, labs: [], attempt: null };
    if (item.kind === 'scenario') {
      const p = progress.get(item.ref);
      const mine = running.filter((m) => m.scenario === item.ref).map((m) => ({ id: m.id, title, phase: m.phase }));
      if (!p) return { ...base, labs: mine, state: mine.length ? 'working' : 'not-started', summary: mine.length ? 'working: lab starting' : 'not started' };
      if (p.passed) {
        // The time it took: each lab of the scenario up to the first pass.
        const until = p.firstPassAt!;
        const timeMs = labs.filter((l) => l.scenario === item.ref && l.createdAt <= until)
          .reduce((s, l) => s + Math.min(l.endedAt ?? l.lastActive, until) - l.createdAt, 0);
        return { ...base, state: 'solved', score: p.lastScore, timeMs, hints: p.hintsRevealed, labs: mine,
          summary: `solved in ${minutes(timeMs)}, ${plural(p.hintsRevealed, 'hint')}` };
      }
      return { ...base, state: 'working', score: p.lastScore, timeMs: p.timeSpentMs, hints: p.hintsRevealed, labs: mine,
        summary: `working: ${p.lastScore ? points(p.lastScore) : 'not checked yet'}, ${minutes(p.timeSpentMs)}, ${plural(p.hintsRevealed, 'hint')}` };
    }
    const a = attempts.find((x) => x.exam === item.ref);
    if (!a) return { ...base, state: 'not-started', summary: 'not started' };
    const status = d.attempts.status(a);
    if (a.finishedAt !== null) {
      return { ...base, state: 'finished', score: a.score, percent: a.percent, passed: a.passed, timeMs: a.finishedAt - a.startedAt,
        attempt: { id: a.id, status }, summary: `${a.passed ? 'passed' : 'not passed'}: ${a.percent ?? 0} % (${a.score ? points(a.score) : '0'})` };
    }
    const tasks = a.tasks.map((t) => ({ t, m: d.attempts.lab(a, t.n) }));
    const watchable = tasks.filter(({ m }) => m && m.phase !== 'ended')
      .map(({ t, m }) => ({ id: m!.id, title: `${title}, task ${t.n}: ${d.titles.get(`scenario:${t.scenario}`) ?? t.scenario}`, phase: m!.phase }));
    // So far: each task scored by its last Check, as the attempt's page scores it.
    const score = tasks.reduce((s, { t, m }) => {
      const last = m && m.phase === 'ready' ? d.manager.lastGrade(m) : null;
      return { earned: s.earned + (last ? taskScore(t.weight, examPoints(last.checks)) : 0), possible: s.possible + t.weight };
    }, { earned: 0, possible: 0 });
    return { ...base, state: 'working', score, timeMs: now - a.startedAt, attempt: { id: a.id, status }, labs: watchable,
      summary: `exam ${status}: ${points(score)} so far, ${minutes(Math.max(0, a.deadline - now))} left` };
  });
}

/** Whether a lab is one a trainer of this cohort may watch: a member's, for an item of its assignment. */
export function cohortLab(d: Pick<StatusDeps, 'store' | 'attempts'>, cohort: CohortRow, lab: string): { user: string } | null {
  const row = d.store.lab(lab);
  if (!row || !d.store.cohorts.member(cohort.id, row.user)) return null;
  if (cohort.items.some((i) => i.kind === 'scenario' && i.ref === row.scenario)) return { user: row.user };
  const exams = new Set(cohort.items.filter((i) => i.kind === 'exam').map((i) => i.ref));
  const inExam = d.attempts.list(row.user).some((a) => exams.has(a.exam) && a.tasks.some((t) => t.lab === lab));
  return inExam ? { user: row.user } : null;
}
