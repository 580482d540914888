import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { FieldError, type Cohorts } from '../cohorts/service.ts';
import { linkSignIn, passwordSignIn } from '../cohorts/trainers.ts';
import { UserError, type LabManager } from '../manager/manager.ts';
import type { CohortRow, TrainerRow } from '../store/cohorts.ts';
import { formatAccessCode } from '../cohorts/secrets.ts';
import type { ProgressStore } from '../store/store.ts';
import type { CatalogEntry } from '../manager/backend.ts';
import { BadRequest, parse } from './api.ts';
import type { CsrfTokens } from './csrf.ts';
import type { rateLimiters } from './rates.ts';
import { csrfSubject, type TrainerSessions } from './trainer-session.ts';
import { gradeView, labView, timelineOf } from './views.ts';

// Cohorts' JSON API: learners join and see their cohorts (/api/cohorts), trainers sign in and run
// theirs (/api/trainer). Trainer routes answer 401 without a trainer session, and a trainer reaches
// only their own cohorts and, in them, their members' labs for the assignment.

export interface CohortApiDeps {
  cohorts: Cohorts;
  manager: LabManager;
  store: ProgressStore;
  catalog: () => Promise<CatalogEntry[]>;
  user: (req: Request, res: Response) => string;
  sessions: TrainerSessions;
  csrf: CsrfTokens;
  rates: ReturnType<typeof rateLimiters>;
}

export const CohortId = z.string().regex(/^c[0-9a-f]{12}$/, 'a cohort id (c and 12 hex digits)');
export const LabPath = z.object({ id: CohortId, lab: z.string().regex(/^[a-z][a-z0-9]{5,11}$/, 'a lab id (lower-case letters and digits)') });
/** Printable text: a name another person reads on a dashboard. */
const Text = (what: string, max: number) => z.string({ error: `required: ${what}` }).trim()
  .min(1, `required: ${what}`).max(max, `at most ${max} characters`).regex(/^[^\p{Cc}\p{Cf}]*$/u, 'letters, digits, spaces and punctuation only');
const Join = z.strictObject({
  code: z.string({ error: 'required: the access code your trainer gave you' }).min(1, 'required: the access code your trainer gave you').max(40),
  name: Text('the name your trainer will see', 40),
});
const SignIn = z.strictObject({ name: z.string({ error: 'required' }).min(1, 'required').max(64), password: z.string({ error: 'required' }).min(1, 'required').max(1024) });
const LinkSignIn = z.strictObject({ token: z.string({ error: 'required' }).regex(/^[A-Za-z0-9_-]{43}$/, 'the token of a login link') });
/** A time with its zone, as the instant the store keeps. */
const When = z.iso.datetime({ offset: true, error: 'a date and time with its zone, e.g. 2026-12-01T09:00:00Z' }).transform((s) => Date.parse(s));
const CohortFields = z.strictObject({
  name: Text('a name for the cohort', 80),
  opensAt: When,
  closesAt: When,
  scenarios: z.array(z.string().max(64)).max(100),
  exams: z.array(z.string().max(64)).max(20),
});
const CreateCohort = CohortFields.extend({ scenarios: CohortFields.shape.scenarios.default([]), exams: CohortFields.shape.exams.default([]) });
/** An edit names only what changes. */
const EditCohort = CohortFields.partial();

/** A FieldError as the API's 400 naming the field. */
export async function fieldErrors<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof FieldError) throw new BadRequest(`${e.path}: ${e.message}`, [{ path: e.path, message: e.message }]);
    throw e;
  }
}

export function cohortApiRouter(d: CohortApiDeps) {
  const r = express.Router();

  // ---- learners ----------------------------------------------------------------------------------

  r.get('/cohorts', async (req, res) => {
    const user = d.user(req, res);
    res.set('Cache-Control', 'no-store').json({ cohorts: await d.cohorts.memberships(user) });
  });

  r.post('/cohorts/join', d.rates.joins, async (req, res) => {
    const user = d.user(req, res);
    const body = parse(Join, req.body ?? {}, 'body');
    const c = await fieldErrors(() => d.cohorts.join(user, body.code, body.name));
    res.json({ cohort: { id: c.id, name: c.name, url: `/cohorts/${c.id}` } });
  });

  r.get('/cohorts/:id', async (req, res) => {
    const user = d.user(req, res);
    const c = d.cohorts.ofMember(user, parse(CohortId, req.params.id, 'path'));
    res.set('Cache-Control', 'no-store').json({ cohort: d.cohorts.memberView(await d.cohorts.statusDeps(), c, d.store.cohorts.member(c.id, user)!.name, user) });
  });

  // ---- trainers ----------------------------------------------------------------------------------

  r.post('/trainer/login', d.rates.signIns, async (req, res) => {
    const body = parse(SignIn, req.body ?? {}, 'body');
    const t = await passwordSignIn(d.store.cohorts, body.name, body.password);
    if (!t) throw new UserError(401, 'bad_credentials', 'Wrong trainer name or password.');
    d.sessions.signIn(res, t);
    res.json({ trainer: trainerView(t) });
  });

  r.post('/trainer/login/link', d.rates.signIns, (req, res) => {
    const body = parse(LinkSignIn, req.body ?? {}, 'body');
    const t = linkSignIn(d.store.cohorts, body.token);
    if (!t) throw new UserError(401, 'link_invalid', 'This login link is unknown, already used or expired: ask for a new one (netdojo trainer link <name>).');
    d.sessions.signIn(res, t);
    res.json({ trainer: trainerView(t) });
  });

  r.post('/trainer/logout', (_req, res) => {
    d.sessions.signOut(res);
    res.status(204).end();
  });

  const trainer = trainerOnly(d.sessions);

  r.get('/trainer/session', trainer, (req, res) => {
    const t = signedIn(req);
    res.set('Cache-Control', 'no-store').json({ trainer: trainerView(t), csrfToken: d.csrf.tokenFor(csrfSubject(t.id)) });
  });

  r.get('/trainer/cohorts', trainer, (req, res) => {
    const t = signedIn(req);
    res.set('Cache-Control', 'no-store').json({ cohorts: d.store.cohorts.cohortsOf(t.id).map((c) => ({ ...c, ...cohortSummary(d.cohorts, c) })) });
  });

  r.post('/trainer/cohorts', trainer, async (req, res) => {
    const t = signedIn(req);
    const body = parse(CreateCohort, req.body ?? {}, 'body');
    const c = await fieldErrors(() => d.cohorts.create(t.id, body));
    res.status(201).location(`/api/trainer/cohorts/${c.id}`).json({ cohort: { ...c, ...cohortSummary(d.cohorts, c) } });
  });

  const own = (req: Request) => ownCohort(d.cohorts, req);

  r.patch('/trainer/cohorts/:id', trainer, async (req, res) => {
    const c = own(req);
    const body = parse(EditCohort, req.body ?? {}, 'body');
    const edited = await fieldErrors(() => d.cohorts.update(c, body));
    res.json({ cohort: { ...edited, ...cohortSummary(d.cohorts, edited) } });
  });

  r.delete('/trainer/cohorts/:id', trainer, (req, res) => {
    d.cohorts.delete(own(req));
    res.status(204).end();
  });

  r.delete('/trainer/cohorts/:id/members/:name', trainer, (req, res) => {
    // Express has URL-decoded the name.
    d.cohorts.removeMember(own(req), String(req.params.name));
    res.status(204).end();
  });

  r.get('/trainer/cohorts/:id', trainer, async (req, res) => {
    res.set('Cache-Control', 'no-store').json({ cohort: await d.cohorts.dashboard(own(req)) });
  });

  r.get('/trainer/cohorts/:id/labs/:lab', trainer, async (req, res) => {
    const { id, lab } = parse(LabPath, req.params, 'path');
    res.set('Cache-Control', 'no-store').json({ lab: await watchView(d, signedIn(req), id, lab) });
  });

  return r;
}

/** What a trainer's browser may know of them. */
const trainerView = (t: TrainerRow) => ({ id: t.id, name: t.name });

function cohortSummary(cohorts: Cohorts, c: CohortRow) {
  return { code: formatAccessCode(c.code), window: cohorts.window(c), url: `/trainer/cohorts/${c.id}` };
}

const TRAINER = Symbol('trainer');
type WithTrainer = Request & { [TRAINER]?: TrainerRow };

/** Trainer routes: a 401 without a trainer session; the trainer is then `signedIn(req)`. */
export function trainerOnly(sessions: TrainerSessions) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const t = sessions.trainerOf(req);
    if (!t) return next(new UserError(401, 'trainer_only', 'Sign in as a trainer first (/trainer).'));
    (req as WithTrainer)[TRAINER] = t;
    next();
  };
}

export const signedIn = (req: Request): TrainerRow => (req as WithTrainer)[TRAINER]!;

/** The signed-in trainer's cohort of the path's `:id` (another trainer's is the same 404 as none). */
export const ownCohort = (cohorts: Cohorts, req: Request) => cohorts.ofTrainer(signedIn(req).id, parse(CohortId, req.params.id, 'path'));

/**
 * A member's lab as their trainer sees it: who, which scenario, its phase and terminals (no token:
 * the trainer's own session opens them, read-only), the last Check and the timeline.
 */
export async function watchView(d: Pick<CohortApiDeps, 'cohorts' | 'manager' | 'store' | 'catalog'>, t: TrainerRow, cohort: string, lab: string) {
  const c = d.cohorts.ofTrainer(t.id, cohort);
  const who = d.cohorts.watched(c, lab);
  const row = d.store.lab(lab)!;
  const m = d.manager.find(lab);
  const grades = d.store.grades(lab);
  const last = grades.length ? grades[grades.length - 1].report : null;
  const open = m && m.phase === 'ready' ? new Set(d.manager.terminals(m)) : new Set<string>();
  return {
    id: lab, cohort: { id: c.id, name: c.name }, learner: who.name,
    scenario: { id: row.scenario, title: (await d.catalog()).find((s) => s.id === row.scenario)?.title ?? row.scenario },
    phase: m?.phase ?? 'ended', endReason: m?.endReason ?? row.endReason,
    /** The terminals the learner has open (only those can be watched). */
    targets: m ? labView(d.manager, m, []).targets.filter((t) => open.has(t.target)) : [],
    lastGrade: last ? gradeView(last) : null,
    timeline: timelineOf(d.manager, who.user, lab),
  };
}
