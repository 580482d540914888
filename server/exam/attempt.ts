import { randomBytes } from 'node:crypto';
import type { CheckResult, GradeReport } from '../../grader/types.ts';
import { UserError, type LabManager, type ManagedLab } from '../manager/manager.ts';
import type { AttemptRow, AttemptTaskRow, Runner } from '../store/exams.ts';
import type { ProgressStore } from '../store/store.ts';
import type { ExamCatalog, LoadedExam } from './load.ts';
import { attemptScore, examPoints, taskScore, timeOnTasks, type AttemptResult, type Graded, type TaskResult } from './score.ts';
import { randomDraw, seedsFor, type Draw } from './seeds.ts';

// An exam attempt: every task's lab brought up at once through the lab manager (the exam's own
// allowance of labs), a deadline that never pauses, and at the end (finished, or the timer firing)
// every task graded as it stands with partial credit, the result stored and the labs stopped.
// Grading a task is grading its lab, exactly as Check does on a practice lab.

/** Calls `fn` at `at` (ms since the epoch); returns what cancels it. */
export type Schedule = (at: number, fn: () => void) => () => void;

export interface AttemptDeps {
  manager: LabManager;
  store: ProgressStore;
  exams: () => Promise<ExamCatalog>;
  /** Who runs the attempts: the web server resumes its own after a restart, the CLI does not. */
  runner: Runner;
  now?: () => number;
  schedule?: Schedule;
  draw?: Draw;
  log?: (line: string) => void;
}

/** Exam labs outlive the deadline by this much, so that grading at the end finds them running. */
export const GRACE_MS = 15 * 60 * 1000;

export type AttemptStatus = 'starting' | 'running' | 'finishing' | 'finished';

const busy = (m: ManagedLab) => m.phase === 'starting' || m.phase === 'resetting';

/** Resolves once the lab is no longer starting (or resetting): ready, failed or ended. */
export function settled(m: ManagedLab): Promise<void> {
  return new Promise((resolve) => {
    if (!busy(m)) return resolve();
    const on = () => {
      if (busy(m)) return;
      m.events.off('phase', on);
      resolve();
    };
    m.events.on('phase', on);
  });
}

const newAttemptId = () => 'a' + randomBytes(8).toString('hex').slice(0, 11);

export class ExamAttempts {
  private readonly timers = new Map<string, () => void>();
  private readonly finishing = new Map<string, Promise<AttemptRow>>();
  private readonly waiting = new Map<string, ((a: AttemptRow) => void)[]>();
  private readonly now: () => number;
  private readonly schedule: Schedule;
  private readonly draw: Draw;

  constructor(private readonly deps: AttemptDeps) {
    this.now = deps.now ?? Date.now;
    this.draw = deps.draw ?? randomDraw;
    this.schedule = deps.schedule ?? ((at, fn) => {
      const t = setTimeout(fn, Math.max(0, at - this.now()));
      t.unref();
      return () => clearTimeout(t);
    });
  }

  private get store() { return this.deps.store.exams; }

  async exams(): Promise<LoadedExam[]> {
    return (await this.deps.exams()).exams;
  }

  async exam(id: string): Promise<LoadedExam> {
    const all = await this.exams();
    const e = all.find((x) => x.spec.id === id);
    if (!e) throw new UserError(404, 'exam_not_found', `No exam "${id}"; one of: ${all.map((x) => x.spec.id).join(', ') || '(none)'}`);
    return e;
  }

  /** Starts an attempt: fresh seeds, every task's lab coming up in the background, the clock running. */
  async start(user: string, examId: string, opts: { minutes?: number } = {}): Promise<AttemptRow> {
    const exam = await this.exam(examId);
    const mine = this.store.attemptsOf(user);
    const open = mine.find((a) => a.finishedAt === null && this.timers.has(a.id));
    if (open) throw new UserError(409, 'attempt_running', `You already have an exam attempt running (${open.id}, ${open.title}). Finish it before starting another.`);
    const previous = mine.find((a) => a.exam === exam.spec.id);
    const seeds = seedsFor(exam.tasks, previous ? previous.tasks.map((t) => t.seed) : null, this.draw);
    const id = newAttemptId();
    const startedAt = this.now();
    const deadline = startedAt + (opts.minutes ?? exam.spec.minutes) * 60_000;
    const labs = this.deps.manager.createExamLabs(user, id, exam.tasks.map((t, i) => ({ scenario: t.scenario, seed: seeds[i] })), deadline + GRACE_MS);
    this.store.attemptStarted({
      id, user, exam: exam.spec.id, title: exam.spec.title, runner: this.deps.runner, passMark: exam.spec.passMark, startedAt, deadline,
      tasks: exam.tasks.map((t, i) => ({ n: i + 1, scenario: t.scenario, weight: t.weight, seed: seeds[i], lab: labs[i].id })),
    });
    this.arm(id, deadline);
    return this.store.attempt(id)!;
  }

  /** An attempt of this user's, or a 404 that does not say whether someone else's exists. */
  get(user: string, id: string): AttemptRow {
    const a = this.store.attempt(id);
    if (!a || a.user !== user) throw new UserError(404, 'attempt_not_found', `No exam attempt ${id} of yours. GET /api/attempts lists yours.`);
    return a;
  }

  list(user: string): AttemptRow[] {
    return this.store.attemptsOf(user);
  }

  /** The lab of task n while this process runs it. */
  lab(a: AttemptRow, n: number): ManagedLab | undefined {
    const t = a.tasks.find((x) => x.n === n);
    return t?.lab ? this.deps.manager.find(t.lab) : undefined;
  }

  status(a: AttemptRow): AttemptStatus {
    if (a.finishedAt !== null) return 'finished';
    if (this.finishing.has(a.id)) return 'finishing';
    return a.tasks.some((t) => { const m = this.lab(a, t.n); return m && busy(m); }) ? 'starting' : 'running';
  }

  /** Resolves once every task's lab has started (or failed to). */
  async started(a: AttemptRow): Promise<void> {
    await Promise.all(a.tasks.map((t) => { const m = this.lab(a, t.n); return m && settled(m); }));
  }

  private running(user: string, id: string): AttemptRow {
    const a = this.get(user, id);
    if (a.finishedAt !== null) throw new UserError(409, 'attempt_finished', `Exam attempt ${id} has ended (${a.endReason}); its result is at /attempts/${id}/result.`);
    if (this.finishing.has(id)) throw new UserError(409, 'attempt_finishing', `Exam attempt ${id} is being graded; its result is at /attempts/${id}/result in a moment.`);
    if (this.now() >= a.deadline) {
      void this.end(id, 'time is up');
      throw new UserError(409, 'time_up', `Time is up for exam attempt ${id}: every task is being graded as it stands.`);
    }
    return a;
  }

  private task(a: AttemptRow, n: number): AttemptTaskRow {
    const t = a.tasks.find((x) => x.n === n);
    if (!t) throw new UserError(404, 'task_not_found', `Exam attempt ${a.id} has tasks 1 to ${a.tasks.length}, not ${n}.`);
    return t;
  }

  /** Time per task counts from the moments a task became the current one. */
  private switchTo(a: AttemptRow, n: number) {
    if (this.store.switches(a.id).at(-1)?.n !== n) this.store.taskSwitched(a.id, n, this.now());
  }

  /** The learner works on task n now (the page's task list; time per task). */
  focus(user: string, id: string, n: number): void {
    const a = this.running(user, id);
    this.task(a, n);
    this.switchTo(a, n);
  }

  /** Grades task n now, as Check does on a lab; the grade is recorded with the lab's grades. */
  async check(user: string, id: string, n: number, onCheck?: (result: CheckResult) => void): Promise<GradeReport> {
    const a = this.running(user, id);
    this.task(a, n);
    this.switchTo(a, n);
    const m = this.lab(a, n);
    if (!m) throw new UserError(409, 'task_lab_gone', `Task ${n} of exam attempt ${id} has no running lab.`);
    return this.deps.manager.grade(user, m.id, onCheck);
  }

  /** Ends the learner's attempt now (an ended one is returned as it is). */
  async finish(user: string, id: string): Promise<AttemptRow> {
    const a = this.get(user, id);
    if (a.finishedAt !== null) return a;
    return this.end(id, 'finished by the learner');
  }

  /** Grades every task as it stands, stores the result and stops the labs; once per attempt. */
  end(id: string, reason: string): Promise<AttemptRow> {
    let p = this.finishing.get(id);
    if (!p) {
      p = this.grade(id, reason).finally(() => this.finishing.delete(id));
      this.finishing.set(id, p);
    }
    return p;
  }

  /** Resolves with the result once the attempt has ended, however it ends (timer, finish). */
  ended(id: string): Promise<AttemptRow> {
    const a = this.store.attempt(id);
    if (a && a.finishedAt !== null) return Promise.resolve(a);
    return new Promise((resolve) => this.waiting.set(id, [...(this.waiting.get(id) ?? []), resolve]));
  }

  private arm(id: string, deadline: number) {
    this.timers.get(id)?.();
    this.timers.set(id, this.schedule(deadline, () => {
      this.timers.delete(id);
      this.end(id, 'time is up').catch((e) => this.deps.log?.(`netdojo: grading exam attempt ${id} failed: ${(e as Error).message}`));
    }));
  }

  private disarm(id: string) {
    this.timers.get(id)?.();
    this.timers.delete(id);
  }

  private async grade(id: string, reason: string): Promise<AttemptRow> {
    const a = this.store.attempt(id)!;
    if (a.finishedAt !== null) return a;
    this.disarm(id);
    const labs = a.tasks.map((t) => this.lab(a, t.n));
    await Promise.all(labs.map((m) => m && settled(m)));
    const switches = this.store.switches(id);
    const times = timeOnTasks(switches, Math.min(this.now(), a.deadline));
    const titles = new Map((await this.exams().catch(() => [])).find((e) => e.spec.id === a.exam)?.tasks.map((t, i) => [i + 1, t.title]) ?? []);
    const tasks = await Promise.all(a.tasks.map((t, i) => this.gradeTask(a, t, labs[i], {
      title: titles.get(t.n) ?? t.scenario, timeMs: switches.length ? (times.get(t.n) ?? 0) : null,
    })));
    const result: AttemptResult = { ...attemptScore(tasks, a.passMark), passMark: a.passMark, reason, finishedAt: this.now(), tasks };
    this.store.attemptFinished(id, result);
    await Promise.all(labs.map((m) => m && this.deps.manager.end(m, `the exam ended: ${reason}`)));
    const done = this.store.attempt(id)!;
    for (const w of this.waiting.get(id) ?? []) w(done);
    this.waiting.delete(id);
    return done;
  }

  private async gradeTask(a: AttemptRow, t: AttemptTaskRow, m: ManagedLab | undefined, extra: { title: string; timeMs: number | null }): Promise<TaskResult> {
    let report: GradeReport | null = null;
    let graded: Graded = 'none';
    const notes: string[] = [];
    if (m?.phase === 'ready') {
      try {
        report = await this.deps.manager.grade(a.user, m.id);
        graded = 'final';
      } catch (e) {
        notes.push(`grading it at the end failed: ${(e as Error).message}`);
      }
    }
    const last = !report && t.lab ? this.deps.store.grades(t.lab).at(-1) : undefined;
    if (last) {
      report = last.report;
      graded = 'last-check';
      notes.push('its lab was not running at the end, so its last Check counts');
    }
    if (!report) notes.push(m?.phase === 'failed' ? `its lab failed to start: ${m.error}` : 'its lab was not running at the end and it was never checked');
    return {
      n: t.n, scenario: t.scenario, title: extra.title, weight: t.weight, score: taskScore(t.weight, report ? examPoints(report.checks) : null),
      points: report ? examPoints(report.checks) : { earned: 0, possible: 0 }, graded, note: notes.length ? notes.join('; ') : null, checks: report?.checks ?? [],
      matrix: report?.matrix ?? null, ms: report?.ms ?? null,
      timeMs: extra.timeMs, lab: t.lab, seed: t.seed, variant: m?.rendered?.variant ?? {}, solution: m?.rendered?.solution ?? null,
    };
  }

  /**
   * After a restart, this runner's attempts carry on: the clock kept running while the server was
   * down. Labs do not outlive the server, so each task comes up again (same seed, freshly broken);
   * an attempt whose time ran out meanwhile is graded from each task's last Check.
   */
  async startup(): Promise<{ resumed: string[]; finished: string[] }> {
    const resumed: string[] = [], finished: string[] = [];
    for (const a of this.store.openAttempts(this.deps.runner)) {
      if (this.now() < a.deadline) {
        try {
          const labs = this.deps.manager.createExamLabs(a.user, a.id, a.tasks.map((t) => ({ scenario: t.scenario, seed: t.seed })), a.deadline + GRACE_MS);
          labs.forEach((m, i) => this.store.taskLab(a.id, a.tasks[i].n, m.id));
          this.arm(a.id, a.deadline);
          resumed.push(a.id);
          continue;
        } catch (e) {
          this.deps.log?.(`netdojo: exam attempt ${a.id} cannot resume: ${(e as Error).message}`);
        }
      }
      await this.end(a.id, this.now() < a.deadline ? 'its labs could not be brought back after a server restart' : 'time ran out while the server was down');
      finished.push(a.id);
    }
    return { resumed, finished };
  }

  /** Stops the timers; open attempts stay open (a web server resumes them when it starts again). */
  close(): void {
    for (const id of [...this.timers.keys()]) this.disarm(id);
  }
}
