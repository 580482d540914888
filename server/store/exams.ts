import type Database from 'better-sqlite3';
import type { AttemptResult, Points } from '../exam/score.ts';

// Exam attempts in the progress database: the attempt (its exam, deadline, result), its tasks (the
// seed each drew and the lab that runs it) and the moments the learner switched tasks (time per
// task). The result is kept whole, as JSON, beside the columns a listing needs.

/** Migration 2 of the progress store. */
export const EXAM_TABLES = `
  CREATE TABLE exam_attempts (id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id), exam TEXT NOT NULL,
    title TEXT NOT NULL, runner TEXT NOT NULL, pass_mark REAL NOT NULL, started_at INTEGER NOT NULL, deadline INTEGER NOT NULL,
    finish_requested_at INTEGER, finished_at INTEGER, end_reason TEXT, earned REAL, possible REAL, percent REAL,
    passed INTEGER, result TEXT);
  CREATE INDEX exam_attempts_user ON exam_attempts(user_id, started_at);
  CREATE TABLE exam_tasks (attempt_id TEXT NOT NULL REFERENCES exam_attempts(id), idx INTEGER NOT NULL,
    scenario TEXT NOT NULL, weight REAL NOT NULL, seed INTEGER NOT NULL, lab_id TEXT, PRIMARY KEY (attempt_id, idx));
  CREATE TABLE exam_switches (attempt_id TEXT NOT NULL REFERENCES exam_attempts(id), n INTEGER NOT NULL, at INTEGER NOT NULL);
  CREATE INDEX exam_switches_attempt ON exam_switches(attempt_id, at);`;

/** Which process runs the attempt: the web server (which resumes it after a restart) or the CLI. */
export type Runner = 'web' | 'cli';

export interface AttemptTaskRow {
  /** 1-based. */
  n: number;
  scenario: string;
  weight: number;
  seed: number;
  lab: string | null;
}

export interface AttemptRow {
  id: string;
  user: string;
  exam: string;
  title: string;
  runner: Runner;
  passMark: number;
  startedAt: number;
  deadline: number;
  finishRequestedAt: number | null;
  finishedAt: number | null;
  endReason: string | null;
  score: Points | null;
  percent: number | null;
  passed: boolean | null;
  result: AttemptResult | null;
  tasks: AttemptTaskRow[];
}

export type NewAttempt = Pick<AttemptRow, 'id' | 'user' | 'exam' | 'title' | 'runner' | 'passMark' | 'startedAt' | 'deadline' | 'tasks'>;

export interface ExamStore {
  attemptStarted(a: NewAttempt): void;
  /** A task got a new lab (the server restarted and brought the task up again). */
  taskLab(attempt: string, n: number, lab: string): void;
  /** The learner made task n the current one. */
  taskSwitched(attempt: string, n: number, at?: number): void;
  switches(attempt: string): { n: number; at: number }[];
  /** Someone asked for the attempt to end (`netdojo exam finish`); false when it already ended. */
  finishRequested(attempt: string, at?: number): boolean;
  attemptFinished(attempt: string, result: AttemptResult): void;
  attempt(id: string): AttemptRow | undefined;
  /** Newest first. */
  attemptsOf(user: string): AttemptRow[];
  /** Attempts that have not ended, of one runner. */
  openAttempts(runner: Runner): AttemptRow[];
}

interface AttemptSql {
  id: string; user_id: string; exam: string; title: string; runner: Runner; pass_mark: number; started_at: number; deadline: number;
  finish_requested_at: number | null; finished_at: number | null; end_reason: string | null; earned: number | null; possible: number | null;
  percent: number | null; passed: number | null; result: string | null;
}

export class SqliteExamStore implements ExamStore {
  constructor(private readonly db: Database.Database, private readonly ensureUser: (id: string) => void) {}

  private row(r: AttemptSql): AttemptRow {
    const tasks = (this.db.prepare('SELECT * FROM exam_tasks WHERE attempt_id = ? ORDER BY idx').all(r.id) as
      { idx: number; scenario: string; weight: number; seed: number; lab_id: string | null }[])
      .map((t) => ({ n: t.idx, scenario: t.scenario, weight: t.weight, seed: t.seed, lab: t.lab_id }));
    return {
      id: r.id, user: r.user_id, exam: r.exam, title: r.title, runner: r.runner, passMark: r.pass_mark, startedAt: r.started_at,
      deadline: r.deadline, finishRequestedAt: r.finish_requested_at, finishedAt: r.finished_at, endReason: r.end_reason,
      score: r.earned === null || r.possible === null ? null : { earned: r.earned, possible: r.possible }, percent: r.percent,
      passed: r.passed === null ? null : r.passed === 1, result: r.result ? JSON.parse(r.result) : null, tasks,
    };
  }

  attemptStarted(a: NewAttempt) {
    this.ensureUser(a.user);
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO exam_attempts (id, user_id, exam, title, runner, pass_mark, started_at, deadline) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(a.id, a.user, a.exam, a.title, a.runner, a.passMark, a.startedAt, a.deadline);
      const task = this.db.prepare('INSERT INTO exam_tasks (attempt_id, idx, scenario, weight, seed, lab_id) VALUES (?, ?, ?, ?, ?, ?)');
      for (const t of a.tasks) task.run(a.id, t.n, t.scenario, t.weight, t.seed, t.lab);
    })();
  }

  taskLab(attempt: string, n: number, lab: string) {
    this.db.prepare('UPDATE exam_tasks SET lab_id = ? WHERE attempt_id = ? AND idx = ?').run(lab, attempt, n);
  }

  taskSwitched(attempt: string, n: number, at = Date.now()) {
    this.db.prepare('INSERT INTO exam_switches (attempt_id, n, at) VALUES (?, ?, ?)').run(attempt, n, at);
  }

  switches(attempt: string) {
    return this.db.prepare('SELECT n, at FROM exam_switches WHERE attempt_id = ? ORDER BY at, rowid').all(attempt) as { n: number; at: number }[];
  }

  finishRequested(attempt: string, at = Date.now()) {
    return this.db.prepare('UPDATE exam_attempts SET finish_requested_at = COALESCE(finish_requested_at, ?) WHERE id = ? AND finished_at IS NULL')
      .run(at, attempt).changes > 0;
  }

  attemptFinished(attempt: string, r: AttemptResult) {
    this.db.prepare(`UPDATE exam_attempts SET finished_at = ?, end_reason = ?, earned = ?, possible = ?, percent = ?, passed = ?, result = ?
      WHERE id = ? AND finished_at IS NULL`)
      .run(r.finishedAt, r.reason, r.score.earned, r.score.possible, r.percent, r.passed ? 1 : 0, JSON.stringify(r), attempt);
  }

  attempt(id: string) {
    const r = this.db.prepare('SELECT * FROM exam_attempts WHERE id = ?').get(id) as AttemptSql | undefined;
    return r && this.row(r);
  }

  attemptsOf(user: string) {
    return (this.db.prepare('SELECT * FROM exam_attempts WHERE user_id = ? ORDER BY started_at DESC, rowid DESC').all(user) as AttemptSql[]).map((r) => this.row(r));
  }

  openAttempts(runner: Runner) {
    return (this.db.prepare('SELECT * FROM exam_attempts WHERE finished_at IS NULL AND runner = ? ORDER BY started_at').all(runner) as AttemptSql[]).map((r) => this.row(r));
  }
}
