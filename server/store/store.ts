import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { GradeReport } from '../../grader/types.ts';
import { COHORT_TABLES, SqliteCohortStore, type CohortStore } from './cohorts.ts';
import { EXAM_TABLES, SqliteExamStore, type ExamStore } from './exams.ts';

// Durable progress: who started which lab, every grade, every hint and solution reveal, time spent.
// The interface is what the rest of the server uses; SqliteStore is the embedded default. A PostgreSQL
// store for multi-machine installs implements the same interface (the methods are plain rows in/out).

export interface LabRow {
  id: string;
  user: string;
  scenario: string;
  provider: string;
  seed: number;
  createdAt: number;
  readyAt: number | null;
  endedAt: number | null;
  endReason: string | null;
  lastActive: number;
}

export interface GradeRow {
  lab: string;
  at: number;
  verdict: 'pass' | 'fail';
  earned: number;
  possible: number;
  report: GradeReport;
}

/** A command entered in one of a lab's terminals (read off the screen: server/terminal/commands.ts). */
export interface CommandRow { at: number; target: string; command: string }

/** What a learner did in a lab besides grading, with times: the rows of its timeline. */
export interface LabActivity {
  commands: CommandRow[];
  hints: { index: number; at: number }[];
  revealedAt: number | null;
}

/** A lab keeps its first this-many commands: a runaway loop typing into a shell cannot fill the disk. */
export const COMMANDS_KEPT_PER_LAB = 2000;

export interface ScenarioProgress {
  scenario: string;
  /** Labs started for this scenario. */
  attempts: number;
  grades: number;
  passed: boolean;
  firstPassAt: number | null;
  bestScore: { earned: number; possible: number } | null;
  /** The most recent grade's. */
  lastScore: { earned: number; possible: number } | null;
  hintsRevealed: number;
  solutionRevealed: number;
  /** Sum over labs of (end or last activity) − start. */
  timeSpentMs: number;
}

export interface ProgressStore {
  ensureUser(id: string): void;
  labStarted(row: Pick<LabRow, 'id' | 'user' | 'scenario' | 'provider' | 'seed'>, at?: number): void;
  labReady(id: string, at?: number): void;
  labActive(id: string, at?: number): void;
  labEnded(id: string, reason: string, at?: number): void;
  /** Labs not marked ended (after a crash: the ones to reap and close). */
  openLabs(): LabRow[];
  lab(id: string): LabRow | undefined;
  labsOf(user: string): LabRow[];
  recordGrade(lab: string, user: string, report: GradeReport, at?: number): void;
  grades(lab: string): GradeRow[];
  recordHint(lab: string, user: string, index: number, at?: number): void;
  /** Indexes of hints revealed in this lab, in order. */
  hints(lab: string): number[];
  recordReveal(lab: string, user: string, at?: number): void;
  revealed(lab: string): boolean;
  recordCommand(lab: string, user: string, row: CommandRow): void;
  activity(lab: string): LabActivity;
  progress(user: string): ScenarioProgress[];
  /** Exam attempts (server/store/exams.ts). */
  readonly exams: ExamStore;
  /** Trainers and cohorts (server/store/cohorts.ts). */
  readonly cohorts: CohortStore;
  close(): void;
}

/** Applied in order; the database's user_version counts those applied. */
export const MIGRATIONS = [
  `CREATE TABLE users (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL);
   CREATE TABLE labs (id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id), scenario TEXT NOT NULL,
     provider TEXT NOT NULL, seed INTEGER NOT NULL, created_at INTEGER NOT NULL, ready_at INTEGER,
     ended_at INTEGER, end_reason TEXT, last_active INTEGER NOT NULL);
   CREATE INDEX labs_user ON labs(user_id, scenario);
   CREATE TABLE grades (id INTEGER PRIMARY KEY, lab_id TEXT NOT NULL REFERENCES labs(id), user_id TEXT NOT NULL,
     at INTEGER NOT NULL, verdict TEXT NOT NULL, earned REAL NOT NULL, possible REAL NOT NULL, report TEXT NOT NULL);
   CREATE INDEX grades_lab ON grades(lab_id);
   CREATE TABLE hints (lab_id TEXT NOT NULL REFERENCES labs(id), user_id TEXT NOT NULL, idx INTEGER NOT NULL,
     at INTEGER NOT NULL, PRIMARY KEY (lab_id, idx));
   CREATE TABLE reveals (lab_id TEXT PRIMARY KEY REFERENCES labs(id), user_id TEXT NOT NULL, at INTEGER NOT NULL);`,
  EXAM_TABLES,
  `CREATE TABLE commands (id INTEGER PRIMARY KEY, lab_id TEXT NOT NULL REFERENCES labs(id), user_id TEXT NOT NULL,
     at INTEGER NOT NULL, target TEXT NOT NULL, command TEXT NOT NULL);
   CREATE INDEX commands_lab ON commands(lab_id);`,
  COHORT_TABLES,
];

const now = () => Date.now();

interface LabSql { id: string; user_id: string; scenario: string; provider: string; seed: number; created_at: number;
  ready_at: number | null; ended_at: number | null; end_reason: string | null; last_active: number }

const toLab = (r: LabSql): LabRow => ({ id: r.id, user: r.user_id, scenario: r.scenario, provider: r.provider, seed: r.seed,
  createdAt: r.created_at, readyAt: r.ready_at, endedAt: r.ended_at, endReason: r.end_reason, lastActive: r.last_active });

export class SqliteStore implements ProgressStore {
  private readonly db: Database.Database;
  readonly exams: ExamStore;
  readonly cohorts: CohortStore;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
    this.exams = new SqliteExamStore(this.db, (id) => this.ensureUser(id));
    this.cohorts = new SqliteCohortStore(this.db, (id) => this.ensureUser(id));
  }

  ensureUser(id: string) {
    this.db.prepare('INSERT OR IGNORE INTO users (id, created_at) VALUES (?, ?)').run(id, now());
  }

  labStarted(r: Pick<LabRow, 'id' | 'user' | 'scenario' | 'provider' | 'seed'>, at = now()) {
    this.ensureUser(r.user);
    this.db.prepare('INSERT INTO labs (id, user_id, scenario, provider, seed, created_at, last_active) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(r.id, r.user, r.scenario, r.provider, r.seed, at, at);
  }

  labReady(id: string, at = now()) {
    this.db.prepare('UPDATE labs SET ready_at = ?, last_active = MAX(last_active, ?) WHERE id = ?').run(at, at, id);
  }

  labActive(id: string, at = now()) {
    this.db.prepare('UPDATE labs SET last_active = MAX(last_active, ?) WHERE id = ? AND ended_at IS NULL').run(at, id);
  }

  labEnded(id: string, reason: string, at = now()) {
    this.db.prepare('UPDATE labs SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL').run(at, reason, id);
  }

  openLabs(): LabRow[] {
    return (this.db.prepare('SELECT * FROM labs WHERE ended_at IS NULL').all() as LabSql[]).map(toLab);
  }

  lab(id: string) {
    const r = this.db.prepare('SELECT * FROM labs WHERE id = ?').get(id) as LabSql | undefined;
    return r && toLab(r);
  }

  labsOf(user: string) {
    return (this.db.prepare('SELECT * FROM labs WHERE user_id = ? ORDER BY created_at DESC').all(user) as LabSql[]).map(toLab);
  }

  recordGrade(lab: string, user: string, report: GradeReport, at = now()) {
    this.db.prepare('INSERT INTO grades (lab_id, user_id, at, verdict, earned, possible, report) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(lab, user, at, report.verdict, report.score.earned, report.score.possible, JSON.stringify(report));
    this.labActive(lab, at);
  }

  grades(lab: string): GradeRow[] {
    const rows = this.db.prepare('SELECT * FROM grades WHERE lab_id = ? ORDER BY id').all(lab) as
      { lab_id: string; at: number; verdict: 'pass' | 'fail'; earned: number; possible: number; report: string }[];
    return rows.map((r) => ({ lab: r.lab_id, at: r.at, verdict: r.verdict, earned: r.earned, possible: r.possible, report: JSON.parse(r.report) }));
  }

  recordHint(lab: string, user: string, index: number, at = now()) {
    this.db.prepare('INSERT OR IGNORE INTO hints (lab_id, user_id, idx, at) VALUES (?, ?, ?, ?)').run(lab, user, index, at);
  }

  hints(lab: string): number[] {
    return (this.db.prepare('SELECT idx FROM hints WHERE lab_id = ? ORDER BY idx').all(lab) as { idx: number }[]).map((r) => r.idx);
  }

  recordReveal(lab: string, user: string, at = now()) {
    this.db.prepare('INSERT OR IGNORE INTO reveals (lab_id, user_id, at) VALUES (?, ?, ?)').run(lab, user, at);
  }

  revealed(lab: string) {
    return !!this.db.prepare('SELECT 1 FROM reveals WHERE lab_id = ?').get(lab);
  }

  recordCommand(lab: string, user: string, r: CommandRow) {
    this.db.prepare(`INSERT INTO commands (lab_id, user_id, at, target, command)
      SELECT ?, ?, ?, ?, ? WHERE (SELECT COUNT(*) FROM commands WHERE lab_id = ?) < ?`)
      .run(lab, user, r.at, r.target, r.command, lab, COMMANDS_KEPT_PER_LAB);
  }

  activity(lab: string): LabActivity {
    const commands = this.db.prepare('SELECT at, target, command FROM commands WHERE lab_id = ? ORDER BY at, id').all(lab) as CommandRow[];
    const hints = (this.db.prepare('SELECT idx, at FROM hints WHERE lab_id = ? ORDER BY at, idx').all(lab) as { idx: number; at: number }[])
      .map((h) => ({ index: h.idx, at: h.at }));
    const reveal = this.db.prepare('SELECT at FROM reveals WHERE lab_id = ?').get(lab) as { at: number } | undefined;
    return { commands, hints, revealedAt: reveal?.at ?? null };
  }

  progress(user: string): ScenarioProgress[] {
    // Practice only: an exam task's lab is scored in its attempt, and counting it here would mark a
    // scenario solved (and its time spent) in the catalog from under exam conditions.
    const rows = this.db.prepare(`
      WITH practice AS (SELECT * FROM labs WHERE user_id = ? AND id NOT IN (SELECT lab_id FROM exam_tasks WHERE lab_id IS NOT NULL))
      SELECT l.scenario AS scenario,
        COUNT(*) AS attempts,
        SUM(COALESCE(l.ended_at, l.last_active) - l.created_at) AS time_ms,
        (SELECT COUNT(*) FROM grades g JOIN practice x ON x.id = g.lab_id WHERE x.scenario = l.scenario) AS grades,
        (SELECT MIN(g.at) FROM grades g JOIN practice x ON x.id = g.lab_id WHERE x.scenario = l.scenario AND g.verdict = 'pass') AS first_pass,
        (SELECT g.earned || '/' || g.possible FROM grades g JOIN practice x ON x.id = g.lab_id WHERE x.scenario = l.scenario
           ORDER BY g.earned * 1.0 / g.possible DESC, g.at LIMIT 1) AS best,
        (SELECT g.earned || '/' || g.possible FROM grades g JOIN practice x ON x.id = g.lab_id WHERE x.scenario = l.scenario
           ORDER BY g.at DESC, g.id DESC LIMIT 1) AS last,
        (SELECT COUNT(*) FROM hints h JOIN practice x ON x.id = h.lab_id WHERE x.scenario = l.scenario) AS hints,
        (SELECT COUNT(*) FROM reveals r JOIN practice x ON x.id = r.lab_id WHERE x.scenario = l.scenario) AS reveals
      FROM practice l GROUP BY l.scenario ORDER BY l.scenario`).all(user) as
      { scenario: string; attempts: number; time_ms: number; grades: number; first_pass: number | null; best: string | null; last: string | null; hints: number; reveals: number }[];
    const points = (s: string | null) => {
      if (!s) return null;
      const [earned, possible] = s.split('/').map(Number);
      return { earned, possible };
    };
    return rows.map((r) => ({
      scenario: r.scenario, attempts: r.attempts, grades: r.grades, passed: r.first_pass !== null, firstPassAt: r.first_pass,
      bestScore: points(r.best), lastScore: points(r.last), hintsRevealed: r.hints, solutionRevealed: r.reveals, timeSpentMs: r.time_ms ?? 0,
    }));
  }

  close() {
    this.db.close();
  }
}
