import express, { type Request, type Response } from 'express';
import type { ExamAttempts } from '../exam/attempt.ts';
import type { LabManager } from '../manager/manager.ts';
import type { AttemptRow } from '../store/exams.ts';
import { parse } from './api.ts';
import { AttemptId, TaskPath } from './exam-api.ts';
import { attemptSummary, attemptView, examView } from './exam-views.ts';
import type { loadViews } from './pages.ts';

// The exam pages: the list of exams with the learner's attempts, an attempt in progress (tasks,
// timer, notepad, the current task's terminals) and its result. Task results are the lab page's
// results partial, so a check reads the same in a lab and in an exam.

export interface ExamPageDeps {
  attempts: ExamAttempts;
  manager: LabManager;
  views: ReturnType<typeof loadViews>;
  user: (req: Request, res: Response) => string;
}

export function examPageRouter(d: ExamPageDeps) {
  const r = express.Router();
  const attemptOf = (req: Request, res: Response) => d.attempts.get(d.user(req, res), parse(AttemptId, req.params.id, 'path'));
  const view = async (a: AttemptRow) => attemptView(d.attempts, d.manager, a, (await d.attempts.exams()).find((e) => e.spec.id === a.exam));
  /** The results partial for one task's grade (the lab page's `grade`). */
  const results = (grade: unknown) => d.views.partial('results', { grade });

  r.get('/exams', async (req, res) => {
    const user = d.user(req, res);
    const attempts = d.attempts.list(user).map((a) => ({ ...attemptSummary(d.attempts.status(a), a), started: `${new Date(a.startedAt).toISOString().slice(0, 16).replace('T', ' ')} UTC` }));
    const running = attempts.find((a) => a.status !== 'finished') ?? null;
    res.type('html').send(d.views.view('exams', {
      title: 'Practice exams', page: 'exams', exams: (await d.attempts.exams()).map(examView), attempts, running,
    }));
  });

  r.get('/attempts/:id', async (req, res) => {
    const a = attemptOf(req, res);
    if (a.finishedAt !== null) { res.redirect(303, `/attempts/${a.id}/result`); return; }
    const v = await view(a);
    const tasks = v.tasks.map((t) => ({ ...t, resultsHtml: results(t.grade) }));
    res.type('html').send(d.views.view('exam-attempt', {
      title: v.title, page: 'exam-attempt', attempt: v, tasks,
      client: { id: v.id, deadline: v.deadline, status: v.status, tasks: v.tasks.map((t) => ({ n: t.n, title: t.title, lab: t.lab && { id: t.lab.id, token: t.lab.token, phase: t.lab.phase, targets: t.lab.targets } })) },
    }));
  });

  /** The parts of the attempt page that change after a Check, rendered by the same partials. */
  r.get('/attempts/:id/tasks/:n/parts', async (req, res) => {
    const { n } = parse(TaskPath, req.params, 'path');
    const v = await view(attemptOf(req, res));
    const t = v.tasks.find((x) => x.n === n);
    res.set('Cache-Control', 'no-store').json(t ? { results: results(t.grade), score: t.score, points: t.points } : {});
  });

  r.get('/attempts/:id/result', async (req, res) => {
    const a = attemptOf(req, res);
    if (a.finishedAt === null) { res.redirect(303, `/attempts/${a.id}`); return; }
    const v = await view(a);
    const tasks = v.tasks.map((t) => ({
      ...t, resultsHtml: t.grade ? results(t.grade) : '', hasTime: t.timeMs !== null,
      solutionHtml: t.solution ? d.views.partial('solution', { lab: { solution: t.solution } }) : '',
    }));
    res.type('html').send(d.views.view('exam-result', { title: `${v.title}: result`, page: 'exam-result', attempt: v, tasks }));
  });

  return r;
}
