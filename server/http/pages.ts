import express, { type Request, type Response } from 'express';
import Handlebars from 'handlebars';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cohorts } from '../cohorts/service.ts';
import type { CatalogEntry } from '../manager/backend.ts';
import { UserError, type LabManager } from '../manager/manager.ts';
import type { ProgressStore, ScenarioProgress } from '../store/store.ts';
import { Difficulty } from '../scenario/schema.ts';
import { TRACKS } from '../scenario/tracks.ts';
import { filterCatalog, filterGroup, isFiltered, lenientCatalogQuery } from './catalog-query.ts';
import { escapeHtml } from './markdown.ts';
import { competencyView, trackSections } from './tracks-view.ts';
import { labView } from './views.ts';

// Server-rendered pages (handlebars, web/views). The lab page's dynamic parts are partials too: the
// client asks for them again (GET /labs/:id/parts) after an action, so markup is written once.

const WEB = fileURLToPath(new URL('../../web/', import.meta.url));
const VIEWS = join(WEB, 'views');

export function loadViews() {
  const hb = Handlebars.create();
  const fmtMs = (ms: number) => {
    const m = Math.round(ms / 60000);
    if (ms < 60000) return `${Math.round(ms / 1000)} s`;
    return m < 60 ? `${m} min` : `${Math.floor(m / 60)} h ${m % 60} min`;
  };
  // The bundle's URLs carry its build time: browsers cache /static for an hour, and a rebuilt client
  // must not run against a cached stylesheet or script of the one before.
  const bundle = join(WEB, 'dist', 'main.js');
  const version = existsSync(bundle) ? Math.round(statSync(bundle).mtimeMs).toString(36) : '0';
  hb.registerHelper('asset', (name: string) => new hb.SafeString(`/static/${encodeURIComponent(name)}?v=${version}`));
  hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  hb.registerHelper('lower', (s: string) => String(s ?? '').toLowerCase());
  hb.registerHelper('duration', (ms: number) => fmtMs(ms));
  hb.registerHelper('stateLabel', (s: string) => String(s ?? '').replace(/_/g, ' '));
  hb.registerHelper('short', (s: string) => ({ PASS: 'ok', TIMEOUT: 'timeout', REFUSED: 'refused', UNREACHABLE: 'unreach', DNS_NOREPLY: 'no reply',
    DNS_NXDOMAIN: 'nxdomain', DNS_SERVFAIL: 'servfail', WRONG_ANSWER: 'wrong', PARTIAL: 'partial', UNEXPECTED_ALLOW: 'allowed', ERROR: 'error' } as Record<string, string>)[s] ?? s);
  hb.registerHelper('cell', (cells: Record<string, Record<string, unknown>>, src: string, dst: string) => cells?.[src]?.[dst]);
  hb.registerHelper('json', (v: unknown) => new hb.SafeString(escapeHtml(JSON.stringify(v))));
  hb.registerHelper('plus1', (n: number) => n + 1);
  hb.registerHelper('lastEntry', <T>(list: T[]) => list?.[list.length - 1]);
  for (const f of readdirSync(join(VIEWS, 'partials'))) {
    hb.registerPartial(f.replace(/\.hbs$/, ''), readFileSync(join(VIEWS, 'partials', f), 'utf8'));
  }
  const compile = (name: string) => hb.compile(readFileSync(join(VIEWS, `${name}.hbs`), 'utf8'), { strict: false });
  const layout = compile('layout');
  const more = new Map<string, HandlebarsTemplateDelegate>();
  const pages = { catalog: compile('catalog'), lab: compile('lab'), error: compile('error'), progress: compile('progress') };
  const parts = {
    brief: hb.compile('{{> brief}}'), tasks: hb.compile('{{> tasks}}'), hints: hb.compile('{{> hints}}'),
    solution: hb.compile('{{> solution}}'), results: hb.compile('{{> results}}'), learned: hb.compile('{{> learned}}'),
  };
  return {
    page(name: keyof typeof pages, ctx: Record<string, unknown>) {
      return layout({ ...ctx, body: new hb.SafeString(pages[name](ctx)) });
    },
    parts(ctx: Record<string, unknown>) {
      return Object.fromEntries(Object.entries(parts).map(([k, t]) => [k, t(ctx)]));
    },
    /** A page of web/views beyond the ones above (pages of other routers), with the same helpers and partials. */
    view(name: string, ctx: Record<string, unknown>) {
      const t = more.get(name) ?? compile(name);
      more.set(name, t);
      return layout({ ...ctx, body: new hb.SafeString(t(ctx)) });
    },
    /** One partial on its own, with `ctx` as its root. */
    partial(name: string, ctx: Record<string, unknown>) {
      return hb.compile(`{{> ${name}}}`)(ctx);
    },
  };
}

export interface PageDeps {
  manager: LabManager;
  store: ProgressStore;
  catalog: () => Promise<CatalogEntry[]>;
  user: (req: Request, res: Response) => string;
  cohorts: Cohorts;
}

export function pageRouter(d: PageDeps) {
  const views = loadViews();
  const r = express.Router();

  r.get('/', async (req, res) => {
    const user = d.user(req, res);
    const all = await d.catalog();
    const q = lenientCatalogQuery(req.query);
    const progress = new Map<string, ScenarioProgress>(d.store.progress(user).map((p) => [p.scenario, p]));
    const running = d.manager.of(user).map((m) => ({ id: m.id, phase: m.phase, title: all.find((s) => s.id === m.scenario)?.title ?? m.scenario }));
    const shown = new Set(filterCatalog(all, q).map((s) => s.id));
    const cards = all.map((s) => ({ ...s, progress: progress.get(s.id) ?? null, trains: competencyView(s.competencies) }));
    const tracks = trackSections(cards, (s) => shown.has(s.id), (s) => !!s.progress?.passed);
    const filters = [
      filterGroup(q, 'track', 'Track', TRACKS.filter((t) => all.some((s) => s.track === t.id)).map((t) => ({ value: t.id, label: t.title }))),
      filterGroup(q, 'difficulty', 'Difficulty', Difficulty.options.map((x) => ({ value: x, label: x }))),
      filterGroup(q, 'tag', 'Topic', [...new Set(all.flatMap((s) => s.tags))].sort().map((t) => ({ value: t, label: t }))),
    ];
    const solved = [...progress.values()].filter((p) => p.passed).length;
    res.type('html').send(views.page('catalog', {
      title: 'Scenarios', page: 'catalog', tracks, filters, running, total: all.length,
      solved, filtered: isFiltered(q), shown: shown.size, cohorts: await d.cohorts.memberships(user),
    }));
  });

  r.get('/progress', async (req, res) => {
    const user = d.user(req, res);
    const all = await d.catalog();
    const rows = d.store.progress(user).map((p) => ({ ...p, title: all.find((s) => s.id === p.scenario)?.title ?? p.scenario }));
    res.type('html').send(views.page('progress', { title: 'Your progress', page: 'progress', rows }));
  });

  const labCtx = async (req: Request, res: Response) => {
    const user = d.user(req, res);
    const id = String(req.params.id);
    const m = d.manager.get(user, id);
    d.manager.touch(m);
    const view = labView(d.manager, m, await d.catalog());
    return { lab: view, grade: view.lastGrade };
  };

  r.get('/labs/:id', async (req, res) => {
    let ctx;
    try {
      ctx = await labCtx(req, res);
    } catch (e) {
      if (e instanceof UserError && (e.status === 404 || e.status === 410)) {
        const row = d.store.lab(String(req.params.id));
        const user = d.user(req, res);
        res.status(e.status).type('html').send(views.page('error', {
          title: 'Lab not found', page: 'error', heading: row && row.user === user ? 'This lab has ended' : 'Lab not found',
          message: row && row.user === user ? `It ended: ${row.endReason ?? 'unknown reason'}. Your progress is saved.` : e.message,
        }));
        return;
      }
      throw e;
    }
    res.type('html').send(views.page('lab', { title: ctx.lab.scenario.title, page: 'lab', ...ctx }));
  });

  /** The lab page's dynamic parts, rendered by the same partials as the page. */
  r.get('/labs/:id/parts', async (req, res) => {
    const ctx = await labCtx(req, res);
    res.set('Cache-Control', 'no-store').json(views.parts(ctx));
  });

  return { router: r, views };
}
