import express, { type NextFunction, type Request, type Response } from 'express';
import type { Cohorts } from '../cohorts/service.ts';
import type { CatalogEntry } from '../manager/backend.ts';
import type { LabManager } from '../manager/manager.ts';
import type { AssignmentItem, CohortRow } from '../store/cohorts.ts';
import type { ProgressStore } from '../store/store.ts';
import { parse } from './api.ts';
import { CohortId, LabPath, ownCohort, signedIn, trainerOnly, watchView } from './cohort-api.ts';
import type { loadViews } from './pages.ts';
import type { TrainerSessions } from './trainer-session.ts';
import { inTrackOrder } from './tracks-view.ts';

// The cohort pages. Learners: /join, and each cohort they are in (its assignment, their status, a
// start button per item). Trainers: sign-in (password, or the one-time link's page), their cohorts
// and the form for a new one, a cohort's dashboard and a member's lab (read-only terminal, last
// Check, timeline). The dashboard and the lab view poll their parts, rendered by the same partials.
// The dashboard also edits the cohort (the new-cohort form's partial, filled in), deletes it and
// removes members; the API does the changing.

export interface CohortPageDeps {
  cohorts: Cohorts;
  manager: LabManager;
  store: ProgressStore;
  catalog: () => Promise<CatalogEntry[]>;
  views: ReturnType<typeof loadViews>;
  user: (req: Request, res: Response) => string;
  sessions: TrainerSessions;
}

/** How often the trainer's pages ask for their parts again. */
export const POLL_MS = 2000;

const when = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

export function cohortPageRouter(d: CohortPageDeps) {
  const r = express.Router();
  const apiOnly = trainerOnly(d.sessions);
  /** Trainer pages send a browser without a trainer session to the sign-in page. */
  const trainer = (req: Request, res: Response, next: NextFunction) => {
    if (!d.sessions.trainerOf(req)) { res.redirect(303, '/trainer'); return; }
    apiOnly(req, res, next);
  };
  const page = (res: Response, name: string, ctx: Record<string, unknown>) => res.type('html').send(d.views.view(name, ctx));
  const trainerCtx = (req: Request) => ({ trainer: { name: signedIn(req).name } });

  // ---- learners ----------------------------------------------------------------------------------

  r.get('/join', (req, res) => {
    d.user(req, res);
    page(res, 'join', { title: 'Join a cohort', page: 'join', code: typeof req.query.code === 'string' ? req.query.code.slice(0, 40) : '' });
  });

  r.get('/cohorts/:id', async (req, res) => {
    const user = d.user(req, res);
    const c = d.cohorts.ofMember(user, parse(CohortId, req.params.id, 'path'));
    const view = d.cohorts.memberView(await d.cohorts.statusDeps(), c, d.store.cohorts.member(c.id, user)!.name, user);
    page(res, 'cohort', { title: c.name, page: 'cohort', cohort: { ...view, opens: when(c.opensAt), closes: when(c.closesAt) } });
  });

  // ---- trainers ----------------------------------------------------------------------------------

  r.get('/trainer', (req, res) => {
    if (d.sessions.trainerOf(req)) { res.redirect(303, '/trainer/cohorts'); return; }
    d.user(req, res); // the sign-in form's request carries this browser's token
    page(res, 'trainer-login', { title: 'Trainer sign-in', page: 'trainer-login' });
  });

  r.get('/trainer/login/:token', (req, res) => {
    d.user(req, res);
    // Following the link only shows a button: link previews and scanners that fetch it use nothing up.
    page(res, 'trainer-link', { title: 'Trainer sign-in', page: 'trainer-link', token: String(req.params.token).slice(0, 64) });
  });

  r.get('/trainer/cohorts', trainer, async (req, res) => {
    const t = signedIn(req);
    const cohorts = d.store.cohorts.cohortsOf(t.id).map((c) => ({
      id: c.id, name: c.name, window: d.cohorts.window(c), opens: when(c.opensAt), closes: when(c.closesAt),
      items: c.items.length, members: d.store.cohorts.members(c.id).length,
    }));
    page(res, 'trainer-cohorts', { title: 'Your cohorts', page: 'trainer-cohorts', ...trainerCtx(req), cohorts, form: await cohortForm() });
  });

  /**
   * What partials/cohort-form shows: the catalog's scenarios and the exams to choose from, and for an
   * edited cohort its values, its items ticked. An item whose scenario or exam left the server is
   * still offered by its id, so saving the form keeps it unless it is unticked.
   */
  const cohortForm = async (c?: CohortRow) => {
    const choices = (kind: AssignmentItem['kind'], all: { id: string; title: string; difficulty?: string }[]) => {
      const mine = new Set(c?.items.filter((i) => i.kind === kind).map((i) => i.ref));
      const gone = [...mine].filter((id) => !all.some((x) => x.id === id)).map((id) => ({ id, title: id }));
      return [...all, ...gone].map((x) => ({ ...x, checked: mine.has(x.id) }));
    };
    return {
      name: c?.name, opensAt: c?.opensAt, closesAt: c?.closesAt,
      scenarios: choices('scenario', inTrackOrder(await d.catalog()).map((s) => ({ id: s.id, title: s.title, difficulty: s.difficulty }))),
      exams: choices('exam', (await d.cohorts.exams()).map((e) => ({ id: e.spec.id, title: e.spec.title }))),
    };
  };

  const own = (req: Request) => ownCohort(d.cohorts, req);

  r.get('/trainer/cohorts/:id', trainer, async (req, res) => {
    const c = own(req);
    const b = await d.cohorts.dashboard(c);
    page(res, 'trainer-cohort', { title: b.name, page: 'trainer-cohort', ...trainerCtx(req), cohort: { ...b, opens: when(b.opensAt), closes: when(b.closesAt) },
      form: await cohortForm(c), pollMs: POLL_MS });
  });

  r.get('/trainer/cohorts/:id/parts', apiOnly, async (req, res) => {
    res.set('Cache-Control', 'no-store').json({ board: d.views.partial('board', { cohort: await d.cohorts.dashboard(own(req)) }) });
  });

  const watched = (req: Request) => {
    const { id, lab } = parse(LabPath, req.params, 'path');
    return watchView(d, signedIn(req), id, lab);
  };
  const watchParts = (v: Awaited<ReturnType<typeof watched>>) => ({
    results: v.lastGrade ? d.views.partial('results', { grade: v.lastGrade }) : '<p class="muted">No Check yet.</p>',
    timeline: v.timeline ? d.views.partial('timeline', { timeline: v.timeline, timelineOwner: v.learner }) : '',
  });

  r.get('/trainer/cohorts/:id/labs/:lab', trainer, async (req, res) => {
    const v = await watched(req);
    page(res, 'trainer-lab', { title: `${v.learner}: ${v.scenario.title}`, page: 'trainer-lab', ...trainerCtx(req), lab: v, parts: watchParts(v), pollMs: POLL_MS });
  });

  r.get('/trainer/cohorts/:id/labs/:lab/parts', apiOnly, async (req, res) => {
    const v = await watched(req);
    res.set('Cache-Control', 'no-store').json({ ...watchParts(v), phase: v.phase, targets: v.targets });
  });

  return r;
}
