import { randomBytes } from 'node:crypto';
import type { ExamAttempts } from '../exam/attempt.ts';
import type { CatalogEntry } from '../manager/backend.ts';
import { UserError, type LabManager } from '../manager/manager.ts';
import { NameTaken, type AssignmentItem, type CohortRow } from '../store/cohorts.ts';
import type { ProgressStore } from '../store/store.ts';
import { formatAccessCode, newAccessCode, normalizeAccessCode } from './secrets.ts';
import { cohortLab, learnerStatus, type StatusDeps } from './status.ts';

// Cohorts as the web server runs them: a trainer makes one (its assignment checked against the
// catalog and the exams), learners join it with its code while it is open, and each side sees only
// what is theirs: a trainer their own cohorts and their members' labs, a learner the cohorts they
// are in.

export interface CohortDeps {
  store: ProgressStore;
  manager: LabManager;
  attempts: ExamAttempts;
  catalog: () => Promise<CatalogEntry[]>;
  now?: () => number;
}

export interface NewCohortInput { name: string; opensAt: number; closesAt: number; scenarios: string[]; exams: string[] }

/** A field the caller got wrong: the API makes it a 400 naming the field. */
export class FieldError extends Error {
  constructor(readonly path: string, message: string) { super(message); }
}

export type Window = 'upcoming' | 'open' | 'closed';

/** The same 404 for a cohort that is missing, gone, or another trainer's. */
function notFound(id: string): never {
  throw new UserError(404, 'cohort_not_found', `No cohort ${id} of yours. /trainer/cohorts lists yours.`);
}

export class Cohorts {
  private readonly accessListeners = new Set<() => void>();

  constructor(private readonly d: CohortDeps) {}

  /**
   * Calls `fn` after every change that can take a lab out of a trainer's reach (an item out of the
   * assignment, a member removed, a cohort deleted): watches opened before must be asked again.
   */
  onAccessChange(fn: () => void): () => void {
    this.accessListeners.add(fn);
    return () => { this.accessListeners.delete(fn); };
  }

  private accessChanged() {
    for (const fn of this.accessListeners) {
      try { fn(); } catch { /* a listener's failure is its own */ }
    }
  }

  private get store() { return this.d.store.cohorts; }
  private now() { return (this.d.now ?? Date.now)(); }

  window(c: CohortRow): Window {
    const now = this.now();
    return now < c.opensAt ? 'upcoming' : now >= c.closesAt ? 'closed' : 'open';
  }

  exams() { return this.d.attempts.exams(); }

  /** Scenario and exam titles by `kind:id`, for the status lines. */
  async titles(): Promise<Map<string, string>> {
    const m = new Map<string, string>();
    for (const s of await this.d.catalog()) m.set(`scenario:${s.id}`, s.title);
    for (const e of await this.exams()) m.set(`exam:${e.spec.id}`, e.spec.title);
    return m;
  }

  async statusDeps(): Promise<StatusDeps> {
    return { store: this.d.store, manager: this.d.manager, attempts: this.d.attempts, titles: await this.titles(), now: this.d.now };
  }

  /**
   * The one check of a cohort's fields, for a new cohort and an edited one: each id of the assignment
   * names a scenario or an exam (or an item the cohort already has: one whose scenario left the
   * library does not block editing the rest), the assignment has an item, and it closes after it
   * opens. Gives the assignment as items, without duplicates.
   */
  private async checked(input: NewCohortInput, kept: AssignmentItem[] = []): Promise<AssignmentItem[]> {
    const known = (kind: AssignmentItem['kind'], ids: string[]) => new Set([...ids, ...kept.filter((i) => i.kind === kind).map((i) => i.ref)]);
    const scenarios = known('scenario', (await this.d.catalog()).map((s) => s.id));
    const exams = known('exam', (await this.exams()).map((e) => e.spec.id));
    input.scenarios.forEach((id, i) => {
      if (!scenarios.has(id)) throw new FieldError(`body.scenarios.${i}`, `no scenario "${id}"; one of: ${[...scenarios].join(', ')}`);
    });
    input.exams.forEach((id, i) => {
      if (!exams.has(id)) throw new FieldError(`body.exams.${i}`, `no exam "${id}"; one of: ${[...exams].join(', ') || '(none)'}`);
    });
    if (input.scenarios.length + input.exams.length === 0) throw new FieldError('body.scenarios', 'the assignment needs at least one scenario or exam');
    if (input.closesAt <= input.opensAt) throw new FieldError('body.closesAt', 'must be after opensAt');
    return [
      ...[...new Set(input.scenarios)].map((ref) => ({ kind: 'scenario' as const, ref })),
      ...[...new Set(input.exams)].map((ref) => ({ kind: 'exam' as const, ref })),
    ];
  }

  async create(trainer: string, input: NewCohortInput): Promise<CohortRow> {
    const items = await this.checked(input);
    // 60 random bits: a collision is all but impossible, and would only cost a new draw.
    let code = newAccessCode();
    while (this.store.cohortByCode(code)) code = newAccessCode();
    return this.store.createCohort({ id: 'c' + randomBytes(6).toString('hex'), trainer, name: input.name, code, opensAt: input.opensAt, closesAt: input.closesAt, items }, this.now());
  }

  /**
   * Changes the fields given and keeps the others: scenarios alone keep the exams, and the other way
   * round. The access code never changes (learners already have it). An item taken out of the
   * assignment leaves the dashboard and the members' pages; what they did on it stays theirs.
   */
  async update(c: CohortRow, changes: Partial<NewCohortInput>): Promise<CohortRow> {
    const refs = (kind: AssignmentItem['kind']) => c.items.filter((i) => i.kind === kind).map((i) => i.ref);
    const input: NewCohortInput = { name: c.name, opensAt: c.opensAt, closesAt: c.closesAt, scenarios: refs('scenario'), exams: refs('exam'), ...changes };
    const items = await this.checked(input, c.items);
    const updated = this.store.updateCohort(c.id, { name: input.name, opensAt: input.opensAt, closesAt: input.closesAt, items }) ?? notFound(c.id);
    this.accessChanged();
    return updated;
  }

  /** Deletes the cohort with its assignment and memberships: its code joins nothing any more. */
  delete(c: CohortRow) {
    if (!this.store.deleteCohort(c.id)) notFound(c.id);
    this.accessChanged();
  }

  /** Takes a member out by the name they joined with; they may join again while the cohort is open. */
  removeMember(c: CohortRow, name: string) {
    if (!this.store.removeMember(c.id, name)) throw new UserError(404, 'member_not_found', `No member "${name}" in the cohort "${c.name}": its dashboard lists them by the names they joined with.`);
    this.accessChanged();
  }

  /** A trainer's own cohort, or a 404 that does not say whether another trainer's exists. */
  ofTrainer(trainer: string, id: string): CohortRow {
    const c = this.store.cohort(id);
    return c && c.trainer === trainer ? c : notFound(id);
  }

  /** A cohort the learner is in, or a 404. */
  ofMember(user: string, id: string): CohortRow {
    const c = this.store.cohort(id);
    if (!c || !this.store.member(id, user)) throw new UserError(404, 'cohort_not_found', `You are not in a cohort ${id}. Join one at /join with the code your trainer gave you.`);
    return c;
  }

  join(user: string, typedCode: string, name: string): CohortRow {
    const code = normalizeAccessCode(typedCode);
    const c = code ? this.store.cohortByCode(code) : undefined;
    if (!c) throw new FieldError('body.code', `no cohort has the code "${typedCode}": check it with your trainer (three groups of four letters and digits, like 7KQ2-M9XD-4T1R)`);
    const w = this.window(c);
    const when = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
    if (w === 'upcoming') throw new UserError(409, 'cohort_not_open', `The cohort "${c.name}" opens on ${when(c.opensAt)}: join it then.`);
    if (w === 'closed') throw new UserError(409, 'cohort_closed', `The cohort "${c.name}" closed on ${when(c.closesAt)}: ask your trainer.`);
    try {
      this.store.join({ cohort: c.id, user, name, joinedAt: this.now() });
    } catch (e) {
      if (e instanceof NameTaken) throw new FieldError('body.name', `someone in "${c.name}" already goes by "${name}": choose another name`);
      throw e;
    }
    return c;
  }

  /** The cohorts a learner is in, with their window and their status on each item. */
  async memberships(user: string) {
    const deps = await this.statusDeps();
    return this.store.memberships(user).map(({ cohort, member }) => this.memberView(deps, cohort, member.name, user));
  }

  memberView(deps: StatusDeps, c: CohortRow, name: string, user: string) {
    const items = learnerStatus(deps, c, user);
    return { id: c.id, name: c.name, you: name, window: this.window(c), opensAt: c.opensAt, closesAt: c.closesAt, items,
      done: items.filter((i) => i.state === 'solved' || (i.state === 'finished' && i.passed)).length };
  }

  /** The trainer's dashboard: every member × every item. */
  async dashboard(c: CohortRow) {
    const deps = await this.statusDeps();
    return {
      id: c.id, name: c.name, code: formatAccessCode(c.code), window: this.window(c), opensAt: c.opensAt, closesAt: c.closesAt,
      items: c.items.map((i) => ({ ...i, title: deps.titles.get(`${i.kind}:${i.ref}`) ?? i.ref })),
      members: this.store.members(c.id).map((m) => ({ name: m.name, joinedAt: m.joinedAt, items: learnerStatus(deps, c, m.user) })),
    };
  }

  /** A lab a trainer may watch: a member's, for an item of the cohort. Throws a 404 otherwise. */
  watched(c: CohortRow, lab: string): { user: string; name: string } {
    const who = cohortLab(this.d, c, lab);
    if (!who) throw new UserError(404, 'lab_not_found', `No lab ${lab} of a member of "${c.name}" for its assignment.`);
    return { user: who.user, name: this.store.member(c.id, who.user)!.name };
  }

  /** A lab one of this trainer's cohorts may watch (the terminal relay asks). */
  watchable(trainer: string, lab: string): boolean {
    return this.store.cohortsOf(trainer).some((c) => cohortLab(this.d, c, lab) !== null);
  }
}
