import type { Request, Response } from 'express';
import type { CheckResult, GradeReport } from '../../grader/types.ts';
import { UserError } from '../manager/manager.ts';
import type { loadViews } from './pages.ts';
import { checkView } from './views.ts';

// A Check's answer, for the lab page and an exam task alike. Asked for as `text/event-stream`, it is
// server-sent events: `start` (the results frame, once), `check` (each check the moment it is
// final, with its markup), then `result` (the document the JSON answer would be) or `error`.
// Otherwise one JSON document at the end. The stream opens with the first final check, so a Check
// refused at once (not ready, not yours) still gets its status and JSON error.

export type Views = ReturnType<typeof loadViews>;

export async function answerCheck(
  req: Request, res: Response, views: Views,
  grade: (onCheck: (r: CheckResult) => void) => Promise<GradeReport>,
  result: (report: GradeReport) => Promise<unknown>,
): Promise<void> {
  if (req.accepts(['application/json', 'text/event-stream']) !== 'text/event-stream') {
    res.json(await result(await grade(() => {})));
    return;
  }
  const send = (event: string, data: unknown) => {
    if (!res.headersSent) {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
      res.write(`event: start\ndata: ${JSON.stringify({ html: views.partial('checking', {}) })}\n\n`);
    }
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  let doc: unknown;
  try {
    doc = await result(await grade((r) => {
      const check = checkView(r);
      send('check', { check, html: views.partial('check', check) });
    }));
  } catch (e) {
    if (!res.headersSent) throw e;
    const error = e instanceof UserError ? { code: e.code, message: e.message } : { code: 'internal', message: `The server failed: ${(e as Error).message}` };
    if (!(e instanceof UserError)) console.error('netdojo: check failed:', e);
    send('error', { error });
    res.end();
    return;
  }
  send('result', doc);
  res.end();
}
