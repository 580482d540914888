import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import type { ExamAttempts } from '../exam/attempt.ts';
import type { LabManager } from '../manager/manager.ts';
import type { AttemptRow } from '../store/exams.ts';
import { parse } from './api.ts';
import { answerCheck, type Views } from './check-stream.ts';
import type { rateLimiters } from './rates.ts';
import { attemptSummary, attemptView, examView } from './exam-views.ts';
import { gradeView } from './views.ts';

// The exams' JSON API, mounted beside the labs' (same error shape, inputs validated with zod). An
// attempt is its learner's only: anyone else gets 404.

export interface ExamApiDeps {
  attempts: ExamAttempts;
  manager: LabManager;
  user: (req: Request, res: Response) => string;
  rates: ReturnType<typeof rateLimiters>;
  views: Views;
}

const ExamId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'an exam id (lower-case letters, digits and dashes)');
export const AttemptId = z.string().regex(/^a[0-9a-f]{11}$/, 'an attempt id (a and 11 hex digits)');
export const TaskPath = z.object({ id: AttemptId, n: z.coerce.number().int().min(1).max(100) });
const StartAttempt = z.strictObject({
  /** Time allowed, when not the exam's own (a shorter drill, a longer practice). */
  minutes: z.number({ error: 'a whole number of minutes, 1 to 1440' }).int().min(1).max(24 * 60).optional(),
});

export function examApiRouter(d: ExamApiDeps) {
  const r = express.Router();
  const view = async (a: AttemptRow) => attemptView(d.attempts, d.manager, a, (await d.attempts.exams()).find((e) => e.spec.id === a.exam));
  const attemptParam = (req: Request) => parse(AttemptId, req.params.id, 'path');

  r.get('/exams', async (_req, res) => {
    res.json({ exams: (await d.attempts.exams()).map(examView) });
  });

  r.post('/exams/:id/attempts', d.rates.starts, async (req, res) => {
    const user = d.user(req, res);
    const exam = parse(ExamId, req.params.id, 'path');
    const body = parse(StartAttempt, req.body ?? {}, 'body');
    const a = await d.attempts.start(user, exam, body);
    res.status(202).location(`/api/attempts/${a.id}`).json({ attempt: await view(a) });
  });

  r.get('/attempts', (req, res) => {
    const user = d.user(req, res);
    res.json({ attempts: d.attempts.list(user).map((a) => attemptSummary(d.attempts.status(a), a)) });
  });

  r.get('/attempts/:id', async (req, res) => {
    const user = d.user(req, res);
    res.set('Cache-Control', 'no-store').json({ attempt: await view(d.attempts.get(user, attemptParam(req))) });
  });

  r.post('/attempts/:id/tasks/:n/check', d.rates.checks, async (req, res) => {
    const user = d.user(req, res);
    const { id, n } = parse(TaskPath, req.params, 'path');
    await answerCheck(req, res, d.views, (onCheck) => d.attempts.check(user, id, n, onCheck), async (report) => {
      const task = (await view(d.attempts.get(user, id))).tasks[n - 1];
      return { task, report: gradeView(report) };
    });
  });

  r.post('/attempts/:id/tasks/:n/focus', (req, res) => {
    const user = d.user(req, res);
    const { id, n } = parse(TaskPath, req.params, 'path');
    d.attempts.focus(user, id, n);
    res.status(204).end();
  });

  r.post('/attempts/:id/finish', async (req, res) => {
    const user = d.user(req, res);
    res.json({ attempt: await view(await d.attempts.finish(user, attemptParam(req))) });
  });

  return r;
}
