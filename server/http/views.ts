import type { CheckResult, GradeReport } from '../../grader/types.ts';
import type { CatalogEntry } from '../manager/backend.ts';
import type { LabManager, ManagedLab } from '../manager/manager.ts';
import type { Timeline, TimelineEntry } from '../manager/timeline.ts';
import { renderInline, renderMarkdown } from './markdown.ts';
import { competencyView, nextView } from './tracks-view.ts';

// The JSON shapes the API returns and the page renders. One function per resource, so the HTML page and
// the JSON API never disagree.

/** A scenario as the API lists it: its "what you learned" waits for the learner's pass (labView's `learned`). */
export function scenarioView({ learned: _, ...entry }: CatalogEntry) {
  return entry;
}

/** The "What you learned" panel of a solved lab: the concept, the competencies, where to go next. */
function learnedView(entry: CatalogEntry, catalog: readonly CatalogEntry[]) {
  return { html: renderMarkdown(entry.learned), competencies: competencyView(entry.competencies), next: nextView(catalog, entry.id) };
}

export function labView(mgr: LabManager, m: ManagedLab, catalog: readonly CatalogEntry[]) {
  const entry = catalog.find((s) => s.id === m.scenario);
  const ready = m.phase === 'ready' && m.lab && m.rendered;
  const facts = m.lab?.facts;
  const nodes = new Set(facts?.nodes.map((n) => n.name) ?? []);
  const targets = ready ? m.lab!.targets().map((t) => {
    const pod = facts?.pods.find((p) => p.target === t);
    return { target: t, kind: nodes.has(t) ? 'node' : 'pod', node: pod?.node ?? t, ip: pod?.ip ?? facts?.nodes.find((n) => n.name === t)?.ip ?? '' };
  }) : [];
  const hints = ready ? mgr.hintsShown(m) : [];
  const revealed = ready ? mgr.revealed(m) : false;
  const last = ready ? mgr.lastGrade(m) : null;
  return {
    id: m.id,
    scenario: entry ? scenarioView(entry) : { id: m.scenario, title: m.scenario },
    provider: m.provider,
    seed: m.seed,
    phase: m.phase,
    error: m.error,
    endReason: m.endReason,
    createdAt: m.createdAt,
    expiresAt: mgr.expiresAt(m),
    limits: { ttlMs: mgr.limits.ttlMs, idleMs: mgr.limits.idleMs },
    steps: m.steps,
    /** Proves to the terminal relay that a WebSocket comes from this lab's page. */
    token: m.token,
    targets,
    facts: facts ?? null,
    brief: ready ? { markdown: m.rendered!.brief, html: renderMarkdown(m.rendered!.brief) } : null,
    tasks: ready ? tasks(m.rendered!.checks, last) : [],
    hints: { shown: hints.map((h) => ({ markdown: h, html: renderMarkdown(h) })), total: m.rendered?.hints.length ?? 0 },
    solution: ready && revealed ? solutionView(m.rendered!.solution) : null,
    lastGrade: last ? gradeView(last) : null,
    /** Once this lab's last grade passed. */
    learned: entry && last?.verdict === 'pass' ? { ...learnedView(entry, catalog), timeline: timelineOf(mgr, m.user, m.id) } : null,
  };
}

/** `m:ss` (or `h:mm:ss`) since the lab started. */
function clock(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const [h, m, sec] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const pad = (n: number) => String(n).padStart(2, '0');
  return h ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
}

function entryText(e: TimelineEntry): string {
  switch (e.kind) {
    case 'started': return 'Lab started';
    case 'ready': return 'Lab ready';
    case 'command': return e.command;
    case 'grade': return e.verdict === 'pass' ? `Check: passed, ${e.earned}/${e.possible}` : `Check: ${e.earned}/${e.possible}; still failing: ${e.failing.join('; ')}`;
    case 'hint': return `Hint ${e.number} shown`;
    case 'solution': return 'Solution shown';
    case 'ended': return `Lab ended (${e.reason})`;
  }
}

/** A lab's timeline, as the pages list it (null when the lab is not the user's). */
export function timelineOf(mgr: LabManager, user: string, lab: string | null) {
  const t = lab ? mgr.timeline(user, lab) : null;
  return t && timelineView(t);
}

/**
 * The timeline as the API returns it and the page lists it: each entry with its clock and a line of
 * text (check titles are markdown: `html` has them rendered; a command is shown as typed).
 */
export function timelineView(t: Timeline) {
  return {
    ...t,
    entries: t.entries.map((e) => {
      const text = entryText(e);
      return { ...e, clock: clock(e.offsetMs), text, html: e.kind === 'command' ? null : renderInline(text) };
    }),
  };
}

/** The learner's task list: one line per check title (checks expanded per source share a title). */
function tasks(checks: { id: string; title: string }[], last: GradeReport | null) {
  const seen = new Map<string, { title: string; ids: string[] }>();
  for (const c of checks) {
    const t = seen.get(c.title) ?? { title: c.title, ids: [] };
    t.ids.push(c.id);
    seen.set(c.title, t);
  }
  return [...seen.values()].map((t) => {
    const results = last?.checks.filter((r) => t.ids.includes(r.id) || r.title === t.title) ?? [];
    return { title: t.title, html: renderInline(t.title), state: results.length === 0 ? 'unchecked' : results.every((r) => r.pass) ? 'pass' : 'fail' };
  });
}

export function solutionView(s: { steps: { on: string; run: string; name?: string }[]; markdown: string }) {
  return { html: renderMarkdown(s.markdown), steps: s.steps };
}

export function gradeView(r: GradeReport) {
  return { ...r, checks: r.checks.map(checkView) };
}

export function checkView(c: CheckResult) {
  return { ...c, titleHtml: renderInline(c.title), hintHtml: c.hint ? renderInline(c.hint) : null };
}
