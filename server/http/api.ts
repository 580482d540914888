import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { CatalogEntry } from '../manager/backend.ts';
import { UserError, type LabManager, type ManagedLab } from '../manager/manager.ts';
import { COMPETENCY_IDS } from '../scenario/tracks.ts';
import type { ProgressStore } from '../store/store.ts';
import { CatalogQuery, filterCatalog } from './catalog-query.ts';
import { answerCheck, type Views } from './check-stream.ts';
import type { CsrfTokens } from './csrf.ts';
import { renderMarkdown } from './markdown.ts';
import type { rateLimiters } from './rates.ts';
import { competencyView, inTrackOrder, trackList } from './tracks-view.ts';
import { gradeView, labView, scenarioView, solutionView, timelineView } from './views.ts';

// The JSON API. Every input is validated with zod; a bad request gets a 400 whose message names the field
// and what was expected. Errors are { error: { code, message, fields? } }.

export interface ApiDeps {
  manager: LabManager;
  store: ProgressStore;
  catalog: () => Promise<CatalogEntry[]>;
  user: (req: Request, res: Response) => string;
  csrf: CsrfTokens;
  rates: ReturnType<typeof rateLimiters>;
  views: Views;
}

const LabId = z.string().regex(/^[a-z][a-z0-9]{5,11}$/, 'a lab id (lower-case letters and digits)');
const CreateLab = z.strictObject({
  scenario: z.string({ error: 'required: the id of a scenario from GET /api/scenarios' }).min(1).max(64),
  seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
});

export class BadRequest extends UserError {
  constructor(message: string, readonly fields: { path: string; message: string }[]) {
    super(400, 'bad_request', message);
  }
}

export function parse<T extends z.ZodType>(schema: T, value: unknown, where: 'body' | 'query' | 'path'): z.infer<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const fields = r.error.issues.map((i) => ({ path: [where, ...i.path.map(String)].join('.'), message: i.message }));
  throw new BadRequest(fields.map((f) => `${f.path}: ${f.message}`).join('; '), fields);
}

export function apiRouter(d: ApiDeps) {
  const r = express.Router();
  const find = async (id: string) => (await d.catalog()).find((s) => s.id === id);
  const view = async (m: ManagedLab) => labView(d.manager, m, await d.catalog());
  const labParam = (req: Request) => parse(LabId, req.params.id, 'path');

  r.get('/health', (_req, res) => { res.json({ ok: true }); });

  r.get('/scenarios', async (req, res) => {
    const q = parse(CatalogQuery, req.query, 'query');
    res.json({
      scenarios: inTrackOrder(filterCatalog(await d.catalog(), q)).map(scenarioView),
      tracks: trackList(),
      competencies: competencyView(COMPETENCY_IDS),
    });
  });

  // Who the caller is, and the token their state-changing requests carry (X-CSRF-Token).
  r.get('/session', (req, res) => {
    const user = d.user(req, res);
    res.set('Cache-Control', 'no-store').json({ user, csrfToken: d.csrf.tokenFor(user) });
  });

  r.get('/progress', (req, res) => {
    const user = d.user(req, res);
    res.json({ user, progress: d.store.progress(user) });
  });

  r.get('/labs', async (req, res) => {
    const user = d.user(req, res);
    res.json({ labs: await Promise.all(d.manager.of(user).map(view)) });
  });

  r.post('/labs', d.rates.starts, async (req, res) => {
    const user = d.user(req, res);
    const body = parse(CreateLab, req.body ?? {}, 'body');
    const sc = await find(body.scenario);
    if (!sc) {
      const ids = (await d.catalog()).map((s) => s.id);
      throw new BadRequest(`body.scenario: no scenario "${body.scenario}"; one of: ${ids.join(', ')}`, [{ path: 'body.scenario', message: `one of: ${ids.join(', ')}` }]);
    }
    const m = d.manager.create(user, sc.id, body.seed);
    res.status(202).location(`/api/labs/${m.id}`).json({ lab: await view(m) });
  });

  r.get('/labs/:id', async (req, res) => {
    const user = d.user(req, res);
    const m = d.manager.get(user, labParam(req));
    res.json({ lab: await view(m) });
  });

  // Provisioning (and reset) progress as server-sent events: every step so far, then live ones, then
  // `phase` events; the stream ends once the lab is ready, failed or ended.
  r.get('/labs/:id/events', (req, res) => {
    const user = d.user(req, res);
    const m = d.manager.get(user, labParam(req));
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    for (const s of m.steps) send('progress', s);
    const onProgress = (s: unknown) => send('progress', s);
    const onPhase = (p: string) => {
      send('phase', { phase: p, error: m.error, endReason: m.endReason });
      if (p !== 'starting' && p !== 'resetting') finish();
    };
    const beat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    const finish = () => {
      clearInterval(beat);
      m.events.off('progress', onProgress);
      m.events.off('phase', onPhase);
      res.end();
    };
    m.events.on('progress', onProgress);
    m.events.on('phase', onPhase);
    req.on('close', finish);
    send('phase', { phase: m.phase, error: m.error, endReason: m.endReason });
    if (m.phase !== 'starting' && m.phase !== 'resetting') finish();
  });

  // The lab on one time axis (commands, Checks, hints), while it runs and after it ended.
  r.get('/labs/:id/timeline', (req, res) => {
    const user = d.user(req, res);
    const id = labParam(req);
    const t = d.manager.timeline(user, id);
    if (!t) throw new UserError(404, 'lab_not_found', `No lab ${id} of yours is on record.`);
    res.json({ timeline: timelineView(t) });
  });

  // Check: each check as it is final, then the report (check-stream.ts).
  r.post('/labs/:id/grade', d.rates.checks, async (req, res) => {
    const user = d.user(req, res);
    const id = labParam(req);
    await answerCheck(req, res, d.views, (onCheck) => d.manager.grade(user, id, onCheck), async (report) => ({ report: gradeView(report) }));
  });

  r.post('/labs/:id/hints', (req, res) => {
    const user = d.user(req, res);
    const { revealed, total } = d.manager.hint(user, labParam(req));
    res.json({ hints: { shown: revealed.map((h) => ({ markdown: h, html: renderMarkdown(h) })), total } });
  });

  r.post('/labs/:id/solution', (req, res) => {
    const user = d.user(req, res);
    res.json({ solution: solutionView(d.manager.reveal(user, labParam(req))) });
  });

  r.post('/labs/:id/reset', d.rates.starts, async (req, res) => {
    const user = d.user(req, res);
    const id = labParam(req);
    await d.manager.reset(user, id);
    res.json({ lab: await view(d.manager.get(user, id)) });
  });

  r.delete('/labs/:id', async (req, res) => {
    const user = d.user(req, res);
    await d.manager.destroy(user, labParam(req));
    res.status(204).end();
  });

  r.use((req, _res, next) => next(new UserError(404, 'not_found', `No API route ${req.method} ${req.baseUrl}${req.path}`)));
  r.use(apiErrors);
  return r;
}


/** Errors as JSON: user errors with their status, body-parser errors as 400/413, the rest as 500. */
export function apiErrors(err: unknown, _req: Request, res: Response, _next: NextFunction) {
  if (res.headersSent) { res.end(); return; }
  if (err instanceof BadRequest) {
    res.status(400).json({ error: { code: err.code, message: err.message, fields: err.fields } });
  } else if (err instanceof UserError) {
    res.status(err.status).json({ error: { code: err.code, message: err.message } });
  } else if (err && typeof err === 'object' && 'type' in err && (err as { type: string }).type === 'entity.parse.failed') {
    res.status(400).json({ error: { code: 'bad_json', message: `body: not valid JSON (${(err as unknown as Error).message})` } });
  } else if (err && typeof err === 'object' && 'type' in err && (err as { type: string }).type === 'entity.too.large') {
    res.status(413).json({ error: { code: 'too_large', message: 'body: larger than the 16 KB this API accepts' } });
  } else {
    console.error('netdojo: request failed:', err);
    res.status(500).json({ error: { code: 'internal', message: `The server failed: ${(err as Error)?.message ?? String(err)}` } });
  }
}
