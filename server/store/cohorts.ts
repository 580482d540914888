import type Database from 'better-sqlite3';

// Trainers and their cohorts in the progress database. A trainer signs in with a password (an scrypt
// hash, never the password) or a one-time link (only the token's SHA-256 is kept, with its expiry).
// A cohort has an access code learners join with, a window when it is open, and an assignment of
// scenarios and exams; its members are the learners' existing anonymous ids, so whatever a learner
// did before joining counts as theirs in the cohort.

/** Migration 4 of the progress store. */
export const COHORT_TABLES = `
  CREATE TABLE trainers (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, password TEXT, created_at INTEGER NOT NULL);
  CREATE TABLE trainer_links (token_hash TEXT PRIMARY KEY, trainer_id TEXT NOT NULL REFERENCES trainers(id),
    created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER);
  CREATE INDEX trainer_links_trainer ON trainer_links(trainer_id);
  CREATE TABLE cohorts (id TEXT PRIMARY KEY, trainer_id TEXT NOT NULL REFERENCES trainers(id), name TEXT NOT NULL,
    code TEXT NOT NULL UNIQUE, opens_at INTEGER NOT NULL, closes_at INTEGER NOT NULL, created_at INTEGER NOT NULL);
  CREATE INDEX cohorts_trainer ON cohorts(trainer_id, created_at);
  CREATE TABLE cohort_items (cohort_id TEXT NOT NULL REFERENCES cohorts(id), idx INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('scenario', 'exam')), ref TEXT NOT NULL, PRIMARY KEY (cohort_id, idx));
  CREATE TABLE cohort_members (cohort_id TEXT NOT NULL REFERENCES cohorts(id), user_id TEXT NOT NULL REFERENCES users(id),
    display_name TEXT NOT NULL, joined_at INTEGER NOT NULL, PRIMARY KEY (cohort_id, user_id));
  CREATE UNIQUE INDEX cohort_members_name ON cohort_members(cohort_id, display_name COLLATE NOCASE);
  CREATE INDEX cohort_members_user ON cohort_members(user_id);`;

export interface TrainerRow { id: string; name: string; password: string | null; createdAt: number }

export interface AssignmentItem { kind: 'scenario' | 'exam'; ref: string }

export interface CohortRow {
  id: string;
  trainer: string;
  name: string;
  /** Normalized: 12 characters of Crockford's base32, no dashes (server/cohorts/secrets.ts). */
  code: string;
  opensAt: number;
  closesAt: number;
  createdAt: number;
  items: AssignmentItem[];
}

export interface MemberRow { cohort: string; user: string; name: string; joinedAt: number }

export type NewCohort = Omit<CohortRow, 'createdAt'>;

/** What a trainer may change of a cohort: not its code (learners already have it), trainer or creation time. */
export type CohortEdit = Pick<CohortRow, 'name' | 'opensAt' | 'closesAt' | 'items'>;

export interface CohortStore {
  addTrainer(t: Omit<TrainerRow, 'createdAt'>, at?: number): void;
  trainer(id: string): TrainerRow | undefined;
  trainerByName(name: string): TrainerRow | undefined;
  /** A new one-time link for the trainer; their earlier unused links stop working. */
  issueLink(trainer: string, tokenHash: string, expiresAt: number, at?: number): void;
  /** Uses a link once: the trainer it signs in, or null (unknown, used or expired). */
  useLink(tokenHash: string, at?: number): string | null;
  createCohort(c: NewCohort, at?: number): CohortRow;
  cohort(id: string): CohortRow | undefined;
  cohortByCode(code: string): CohortRow | undefined;
  /** Newest first. */
  cohortsOf(trainer: string): CohortRow[];
  /** Replaces the cohort's name, window and assignment; undefined when there is no such cohort. */
  updateCohort(id: string, edit: CohortEdit): CohortRow | undefined;
  /**
   * Removes the cohort, its assignment and its memberships; false when there was none. What its
   * members did (labs, grades, attempts, progress) is theirs and stays.
   */
  deleteCohort(id: string): boolean;
  /** Joins, or renames a member who joins again. Throws NameTaken when another member has the name. */
  join(m: MemberRow): void;
  members(cohort: string): MemberRow[];
  member(cohort: string, user: string): MemberRow | undefined;
  /**
   * Takes the member of that display name (case-insensitive, as names are unique) out of the
   * cohort: the member removed, or undefined. Their own progress stays; they may join again.
   */
  removeMember(cohort: string, name: string): MemberRow | undefined;
  /** The cohorts a learner is in, newest joined first. */
  memberships(user: string): { cohort: CohortRow; member: MemberRow }[];
}

export class NameTaken extends Error {}

interface CohortSql { id: string; trainer_id: string; name: string; code: string; opens_at: number; closes_at: number; created_at: number }
interface MemberSql { cohort_id: string; user_id: string; display_name: string; joined_at: number }

const toMember = (r: MemberSql): MemberRow => ({ cohort: r.cohort_id, user: r.user_id, name: r.display_name, joinedAt: r.joined_at });

export class SqliteCohortStore implements CohortStore {
  constructor(private readonly db: Database.Database, private readonly ensureUser: (id: string) => void) {}

  addTrainer(t: Omit<TrainerRow, 'createdAt'>, at = Date.now()) {
    this.db.prepare('INSERT INTO trainers (id, name, password, created_at) VALUES (?, ?, ?, ?)').run(t.id, t.name, t.password, at);
  }

  private toTrainer(r: { id: string; name: string; password: string | null; created_at: number } | undefined): TrainerRow | undefined {
    return r && { id: r.id, name: r.name, password: r.password, createdAt: r.created_at };
  }

  trainer(id: string) {
    return this.toTrainer(this.db.prepare('SELECT * FROM trainers WHERE id = ?').get(id) as never);
  }

  trainerByName(name: string) {
    return this.toTrainer(this.db.prepare('SELECT * FROM trainers WHERE name = ?').get(name) as never);
  }

  issueLink(trainer: string, tokenHash: string, expiresAt: number, at = Date.now()) {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM trainer_links WHERE trainer_id = ? AND used_at IS NULL').run(trainer);
      this.db.prepare('INSERT INTO trainer_links (token_hash, trainer_id, created_at, expires_at) VALUES (?, ?, ?, ?)').run(tokenHash, trainer, at, expiresAt);
    })();
  }

  useLink(tokenHash: string, at = Date.now()) {
    const row = this.db.prepare('UPDATE trainer_links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING trainer_id')
      .get(at, tokenHash, at) as { trainer_id: string } | undefined;
    return row?.trainer_id ?? null;
  }

  private toCohort(r: CohortSql): CohortRow {
    const items = (this.db.prepare('SELECT kind, ref FROM cohort_items WHERE cohort_id = ? ORDER BY idx').all(r.id) as AssignmentItem[]);
    return { id: r.id, trainer: r.trainer_id, name: r.name, code: r.code, opensAt: r.opens_at, closesAt: r.closes_at, createdAt: r.created_at, items };
  }

  private putItems(cohort: string, items: AssignmentItem[]) {
    const item = this.db.prepare('INSERT INTO cohort_items (cohort_id, idx, kind, ref) VALUES (?, ?, ?, ?)');
    items.forEach((x, i) => item.run(cohort, i, x.kind, x.ref));
  }

  createCohort(c: NewCohort, at = Date.now()) {
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO cohorts (id, trainer_id, name, code, opens_at, closes_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(c.id, c.trainer, c.name, c.code, c.opensAt, c.closesAt, at);
      this.putItems(c.id, c.items);
    })();
    return this.cohort(c.id)!;
  }

  updateCohort(id: string, e: CohortEdit) {
    return this.db.transaction(() => {
      const changed = this.db.prepare('UPDATE cohorts SET name = ?, opens_at = ?, closes_at = ? WHERE id = ?').run(e.name, e.opensAt, e.closesAt, id).changes;
      if (!changed) return undefined;
      // The assignment is a list in order: written anew rather than diffed.
      this.db.prepare('DELETE FROM cohort_items WHERE cohort_id = ?').run(id);
      this.putItems(id, e.items);
      return this.cohort(id);
    })();
  }

  deleteCohort(id: string) {
    return this.db.transaction(() => {
      // The rows that reference the cohort first: foreign keys are on.
      this.db.prepare('DELETE FROM cohort_items WHERE cohort_id = ?').run(id);
      this.db.prepare('DELETE FROM cohort_members WHERE cohort_id = ?').run(id);
      return this.db.prepare('DELETE FROM cohorts WHERE id = ?').run(id).changes > 0;
    })();
  }

  cohort(id: string) {
    const r = this.db.prepare('SELECT * FROM cohorts WHERE id = ?').get(id) as CohortSql | undefined;
    return r && this.toCohort(r);
  }

  cohortByCode(code: string) {
    const r = this.db.prepare('SELECT * FROM cohorts WHERE code = ?').get(code) as CohortSql | undefined;
    return r && this.toCohort(r);
  }

  cohortsOf(trainer: string) {
    return (this.db.prepare('SELECT * FROM cohorts WHERE trainer_id = ? ORDER BY created_at DESC, rowid DESC').all(trainer) as CohortSql[]).map((r) => this.toCohort(r));
  }

  join(m: MemberRow) {
    this.ensureUser(m.user);
    try {
      this.db.prepare(`INSERT INTO cohort_members (cohort_id, user_id, display_name, joined_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (cohort_id, user_id) DO UPDATE SET display_name = excluded.display_name`).run(m.cohort, m.user, m.name, m.joinedAt);
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new NameTaken(m.name);
      throw e;
    }
  }

  members(cohort: string) {
    return (this.db.prepare('SELECT * FROM cohort_members WHERE cohort_id = ? ORDER BY joined_at, rowid').all(cohort) as MemberSql[]).map(toMember);
  }

  member(cohort: string, user: string) {
    const r = this.db.prepare('SELECT * FROM cohort_members WHERE cohort_id = ? AND user_id = ?').get(cohort, user) as MemberSql | undefined;
    return r && toMember(r);
  }

  removeMember(cohort: string, name: string) {
    // NOCASE, as the unique index on names compares them. One statement, so its own transaction.
    const r = this.db.prepare('DELETE FROM cohort_members WHERE cohort_id = ? AND display_name = ? COLLATE NOCASE RETURNING *')
      .get(cohort, name) as MemberSql | undefined;
    return r && toMember(r);
  }

  memberships(user: string) {
    return (this.db.prepare('SELECT * FROM cohort_members WHERE user_id = ? ORDER BY joined_at DESC, rowid DESC').all(user) as MemberSql[])
      .map((r) => ({ cohort: this.cohort(r.cohort_id)!, member: toMember(r) }));
  }
}
