import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/store.ts';
import { startServer, type RunningServer } from './server.ts';
import { Learner } from './test/client.ts';
import { TRACKS } from '../scenario/tracks.ts';
import { standInBackend, type LocalLab, type StandIn } from './test/stand-in.ts';
import { untilPrints } from '../../test/support/until.ts';

// The HTTP API, the terminal relay and the pages through a real server on 127.0.0.1, port 0. The lab behind it is
// the stand-in (a temp directory and local shells): these tests are about the server, not the network.

let dir: string;
let srv: RunningServer | null = null;
let backend: StandIn;

const start = async (limits = {}) => {
  srv = await startServer({ host: '127.0.0.1', port: 0, stateDir: dir, backend, limits, log: () => {} });
  return srv;
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'netdojo-api-'));
  backend = standInBackend();
});
afterEach(async () => {
  await srv?.close();
  srv = null;
  rmSync(dir, { recursive: true, force: true });
});

async function readyLab(me: Learner, scenario = 'stand-in') {
  const c = await me.call('POST', '/api/labs', { scenario });
  expect(c.status).toBe(202);
  const id = c.body.lab.id as string;
  const { phase } = await me.waitReady(id);
  expect(phase).toBe('ready');
  return (await me.call('GET', `/api/labs/${id}`)).body.lab;
}

describe('JSON API', () => {
  it('lists scenarios in catalog order with the tracks and competencies, and filters them by track, tag and difficulty', async () => {
    const s = await start();
    const me = new Learner(s.url);
    const ids = async (q: string) => (await me.call('GET', `/api/scenarios${q}`)).body.scenarios.map((x: { id: string }) => x.id);
    const all = await me.call('GET', '/api/scenarios');
    // Tracks in TRACKS order (linux, services, dns here), easier first within one.
    expect(all.body.scenarios.map((x: { id: string }) => x.id)).toEqual(['stand-in-kernel', 'stand-in-svc', 'stand-in', 'stand-in-2']);
    expect(all.body.tracks).toEqual(TRACKS.map(({ id, title, about }) => ({ id, title, about })));
    expect(all.body.competencies).toContainEqual({ id: 'coredns', title: 'Understand and use CoreDNS' });
    expect(all.body.scenarios[0]).toMatchObject({ track: 'linux', competencies: ['troubleshoot-nodes'] });
    // "What you learned" waits for the learner's pass.
    expect(all.body.scenarios.some((x: object) => 'learned' in x)).toBe(false);
    expect(await ids('?difficulty=advanced')).toEqual(['stand-in-2']);
    expect(await ids('?tag=dns')).toEqual(['stand-in']);
    expect(await ids('?track=dns')).toEqual(['stand-in', 'stand-in-2']);
    expect(await ids('?track=dns&difficulty=beginner')).toEqual(['stand-in']);
    expect(await ids('?track=exam')).toEqual([]);
    const bad = await me.call('GET', '/api/scenarios?difficulty=expert');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^query\.difficulty: /);
  });

  it('refuses an unknown track with a 400 naming the parameter and the tracks there are', async () => {
    const s = await start();
    const me = new Learner(s.url);
    const bad = await me.call('GET', '/api/scenarios?track=kernel');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe(`query.track: unknown track "kernel"; one of: ${TRACKS.map((t) => t.id).join(', ')}`);
    expect(bad.body.error.fields).toEqual([{ path: 'query.track', message: expect.stringContaining('one of: linux, pod-networking') }]);
    const twice = await me.call('GET', '/api/scenarios?track=dns&track=linux');
    expect(twice.status).toBe(400);
    expect(twice.body.error.message).toMatch(/^query\.track: one track, not \["dns","linux"\]/);
  });

  it('answers bad input with a 4xx naming the field, and keeps serving', async () => {
    const s = await start();
    const me = new Learner(s.url);
    const missing = await me.call('POST', '/api/labs', {});
    expect(missing.status).toBe(400);
    expect(missing.body.error.fields[0].path).toBe('body.scenario');
    const wrongType = await me.call('POST', '/api/labs', { scenario: 'stand-in', seed: 'x' });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.error.message).toMatch(/body\.seed/);
    const extra = await me.call('POST', '/api/labs', { scenario: 'stand-in', command: 'rm -rf /' });
    expect(extra.status).toBe(400);
    expect(extra.body.error.message).toMatch(/command/);
    const unknown = await me.call('POST', '/api/labs', { scenario: 'nope' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toMatch(/no scenario "nope".*stand-in/);
    const json = await me.call('POST', '/api/labs', undefined, '{"scenario":');
    expect(json.status).toBe(400);
    expect(json.body.error.code).toBe('bad_json');
    const big = await me.call('POST', '/api/labs', undefined, JSON.stringify({ scenario: 'x'.repeat(40_000) }));
    expect(big.status).toBe(413);
    const badId = await me.call('GET', '/api/labs/NOT-AN-ID');
    expect(badId.status).toBe(400);
    expect(badId.body.error.message).toMatch(/^path: /);
    const noRoute = await me.call('GET', '/api/nothing');
    expect(noRoute.status).toBe(404);
    expect((await me.call('GET', '/api/health')).body).toEqual({ ok: true });
  });

  it('creates a lab with progress events, serves a sanitized briefing, and hides it from other learners', async () => {
    const s = await start();
    const me = new Learner(s.url);
    let release!: () => void;
    backend.startGate = new Promise<void>((r) => { release = r; });
    const c = await me.call('POST', '/api/labs', { scenario: 'stand-in', seed: 7 });
    expect(c.status).toBe(202);
    expect(c.body.lab.phase).toBe('starting');
    expect((await me.call('POST', `/api/labs/${c.body.lab.id}/grade`)).body.error.code).toBe('lab_not_ready');
    const following = me.waitReady(c.body.lab.id);
    release();
    const { events, phase } = await following;
    expect(phase).toBe('ready');
    expect(events.some((e) => e.startsWith('progress:') && e.includes('Building nodes'))).toBe(true);
    const lab = (await me.call('GET', `/api/labs/${c.body.lab.id}`)).body.lab;
    expect(lab.seed).toBe(7);
    expect(lab.targets.map((t: { target: string }) => t.target)).toEqual(['control-plane', 'worker', 'default/client-worker']);
    expect(lab.brief.html).toContain('&lt;script&gt;');
    expect(lab.brief.html).not.toContain('<script>');
    expect(lab.token).toMatch(/^[\w-]{20,}$/);

    const other = new Learner(s.url);
    const peek = await other.call('GET', `/api/labs/${lab.id}`);
    expect(peek.status).toBe(404);
    expect((await other.call('POST', `/api/labs/${lab.id}/grade`)).status).toBe(404);
    expect((await other.call('DELETE', `/api/labs/${lab.id}`)).status).toBe(404);
  });

  it('reports a lab that fails to start, with the reason, and frees its slot', async () => {
    const s = await start({ perUser: 1 });
    const me = new Learner(s.url);
    backend.failNext = 'namespaces are not available';
    const c = await me.call('POST', '/api/labs', { scenario: 'stand-in' });
    const { events, phase } = await me.waitReady(c.body.lab.id);
    expect(phase).toBe('failed');
    expect(events.join('\n')).toContain('namespaces are not available');
    expect((await me.call('POST', '/api/labs', { scenario: 'stand-in' })).status).toBe(202);
  });

  it('enforces limits per learner and in total with errors that say what to do', async () => {
    const s = await start({ perUser: 1, total: 2 });
    const a = new Learner(s.url), b = new Learner(s.url), c = new Learner(s.url);
    await readyLab(a);
    const again = await a.call('POST', '/api/labs', { scenario: 'stand-in' });
    expect(again.status).toBe(429);
    expect(again.body.error.code).toBe('limit_per_user');
    expect(again.body.error.message).toMatch(/Stop one/);
    await readyLab(b);
    const full = await c.call('POST', '/api/labs', { scenario: 'stand-in' });
    expect(full.status).toBe(503);
    expect(full.body.error.code).toBe('limit_total');
    // Stopping a lab frees the slot.
    const mine = (await a.call('GET', '/api/labs')).body.labs[0].id;
    expect((await a.call('DELETE', `/api/labs/${mine}`)).status).toBe(204);
    expect((await c.call('POST', '/api/labs', { scenario: 'stand-in' })).status).toBe(202);
  });

  it('grades, reveals hints one at a time and the solution, records all of it, and keeps it across a restart', async () => {
    await start();
    let me = new Learner(srv!.url);
    const lab = await readyLab(me);
    const g1 = await me.call('POST', `/api/labs/${lab.id}/grade`);
    expect(g1.body.report.verdict).toBe('fail');
    expect(g1.body.report.checks[0].hintHtml).toContain('<code>touch fixed</code>');

    const h1 = await me.call('POST', `/api/labs/${lab.id}/hints`);
    expect(h1.body.hints.shown).toHaveLength(1);
    const h2 = await me.call('POST', `/api/labs/${lab.id}/hints`);
    expect(h2.body.hints.shown.map((h: { markdown: string }) => h.markdown)).toEqual(['Look at the files.', 'Run `touch fixed`.']);
    const h3 = await me.call('POST', `/api/labs/${lab.id}/hints`);
    expect(h3.status).toBe(409);
    expect(h3.body.error.code).toBe('no_more_hints');

    // Fix it from the terminal, as a learner would.
    const t = me.terminal(lab.id, 'control-plane', lab.token);
    await t.opened();
    await t.untilText(/root@control-plane:~# $/m);
    const typing = Date.now();
    t.type('cd "$LAB_DIR" && touch fixed && echo done-$((40+2))\r');
    await t.untilText(/^done-42$/m);
    await t.close();
    const timeline = async () => (await me.call('GET', `/api/labs/${lab.id}/timeline`)).body.timeline;
    await untilPrints(async () => JSON.stringify(await timeline()), /touch fixed/, 'the timeline');
    const g2 = await me.call('POST', `/api/labs/${lab.id}/grade`);
    expect(g2.body.report.verdict).toBe('pass');
    // The grader hears when the learner last typed (a lab typed into just now has not settled).
    expect(backend.typedAt[0]).toBeUndefined();
    expect(backend.typedAt.at(-1)).toBeGreaterThanOrEqual(typing);
    const sol = await me.call('POST', `/api/labs/${lab.id}/solution`);
    expect(sol.body.solution.steps[0].run).toBe('touch fixed');

    const before = (await me.call('GET', '/api/progress')).body.progress[0];
    expect(before).toMatchObject({ scenario: 'stand-in', attempts: 1, grades: 2, passed: true, hintsRevealed: 2, solutionRevealed: 1, bestScore: { earned: 1, possible: 1 } });

    // A new server on the same state directory knows this learner's progress.
    const cookie = me.cookie;
    await srv!.close();
    backend = standInBackend();
    await start();
    me = new Learner(srv!.url);
    me.cookie = cookie;
    const after = (await me.call('GET', '/api/progress')).body.progress[0];
    expect(after).toMatchObject({ scenario: 'stand-in', attempts: 1, grades: 2, passed: true, hintsRevealed: 2, solutionRevealed: 1 });
    expect(after.timeSpentMs).toBeGreaterThanOrEqual(0);
    // The lab on one time axis, after it ended: what was tried between the Checks, with where it ran.
    const tl = (await me.call('GET', `/api/labs/${lab.id}/timeline`)).body.timeline;
    expect(tl.entries.map((e: { kind: string; text: string; target?: string }) => [e.kind, e.target ?? '', e.text])).toEqual([
      ['started', '', 'Lab started'],
      ['ready', '', 'Lab ready'],
      ['grade', '', 'Check: 0/1; still failing: The file `fixed` exists'],
      ['hint', '', 'Hint 1 shown'],
      ['hint', '', 'Hint 2 shown'],
      ['command', 'control-plane', 'cd "$LAB_DIR" && touch fixed && echo done-$((40+2))'],
      ['grade', '', 'Check: passed, 1/1'],
      ['solution', '', 'Solution shown'],
      ['ended', '', 'Lab ended (server stopped)'],
    ]);
    expect(tl.entries[0]).toMatchObject({ offsetMs: 0, clock: '0:00' });
    expect(tl.entries.map((e: { offsetMs: number }) => e.offsetMs)).toEqual([...tl.entries.map((e: { offsetMs: number }) => e.offsetMs)].sort((a, b) => a - b));
    // Someone else's lab, or none, is not theirs to read.
    expect((await new Learner(srv!.url).call('GET', `/api/labs/${lab.id}/timeline`)).status).toBe(404);
    expect((await me.call('GET', '/api/labs/nosuchlab1/timeline')).status).toBe(404);
    // The lab itself did not survive the restart: a clear 404 for the API, and the page says it ended.
    expect((await me.call('GET', `/api/labs/${lab.id}`)).status).toBe(404);
    const page = await me.call('GET', `/labs/${lab.id}`);
    expect(page.status).toBe(404);
    expect(page.body).toContain('This lab has ended');
  });

  it('streams a Check: each check as it is final, before the report, to every page asking meanwhile', async () => {
    await start();
    const me = new Learner(srv!.url);
    const lab = await readyLab(me, 'stand-in-2');
    let open!: () => void;
    backend.checkGate = new Promise<void>((r) => { open = r; });
    const s = await me.events('POST', `/api/labs/${lab.id}/grade`);
    expect(s.status).toBe(200);
    expect((await s.next())).toMatchObject({ event: 'start', data: { html: expect.stringContaining('data-live-checks') } });
    const first = await s.next();
    expect(first).toMatchObject({ event: 'check', data: { check: { id: 'fixed', pass: false, hintHtml: expect.stringContaining('<code>touch fixed</code>') } } });
    expect(first!.data.html).toMatch(/^<li class="check fail" data-check-id="fixed">/);
    // A second page pressing Check meanwhile joins this grade and gets what is final so far.
    const joined = await me.events('POST', `/api/labs/${lab.id}/grade`);
    expect((await joined.next())?.event).toBe('start');
    expect((await joined.next())?.data.check.id).toBe('fixed');
    // The grade is held after its first check: nothing else has been sent yet.
    open();
    for (const stream of [s, joined]) {
      expect((await stream.next())?.data.check.id).toBe('tidy');
      const end = await stream.next();
      expect(end).toMatchObject({ event: 'result', data: { report: { verdict: 'fail', score: { earned: 0, possible: 3 } } } });
      expect(await stream.next()).toBeNull();
    }
    // One grade was run and recorded for both.
    expect((await me.call('GET', '/api/progress')).body.progress[0]).toMatchObject({ grades: 1 });
    // Refused before any check: the status and the JSON error, not a stream.
    const other = new Learner(srv!.url);
    const refused = await other.events('POST', `/api/labs/${lab.id}/grade`);
    expect(refused).toMatchObject({ status: 404, json: { error: { code: 'lab_not_found' } } });
  });

  it('resets a lab to broken and ends its shells', async () => {
    const s = await start();
    const me = new Learner(s.url);
    const lab = await readyLab(me);
    const t = me.terminal(lab.id, 'worker', lab.token);
    await t.opened();
    await t.untilText(/# $/m);
    t.type('cd "$LAB_DIR" && touch fixed && echo ok\r');
    await t.untilText(/^ok$/m);
    expect((await me.call('POST', `/api/labs/${lab.id}/grade`)).body.report.verdict).toBe('pass');
    expect((await me.call('GET', `/api/labs/${lab.id}`)).body.lab.lastGrade.verdict).toBe('pass');
    const r = await me.call('POST', `/api/labs/${lab.id}/reset`);
    expect(r.status).toBe(200);
    expect(r.body.lab.phase).toBe('ready');
    // The passing grade described the lab before the reset: the page starts over.
    expect(r.body.lab.lastGrade).toBeNull();
    expect(r.body.lab.tasks.every((t: { state: string }) => t.state === 'unchecked')).toBe(true);
    await t.until(() => t.closed !== null, 'the shell to end on reset');
    expect(t.exit?.reason).toMatch(/reset/);
    expect((await me.call('POST', `/api/labs/${lab.id}/grade`)).body.report.verdict).toBe('fail');
  });

  it('ends idle labs and labs past their time limit, and closes records left open by a crash', async () => {
    // A crashed run left an open lab record behind.
    const crashed = new SqliteStore(join(dir, 'progress.db'));
    crashed.labStarted({ id: 'lcrashed1', user: 'u' + 'a'.repeat(22), scenario: 'stand-in', provider: 'netns', seed: 1 });
    crashed.close();
    const s = await startServer({ host: '127.0.0.1', port: 0, stateDir: dir, backend, log: () => {}, limits: { idleMs: 60_000, ttlMs: 120_000 } });
    srv = s;
    const check = new SqliteStore(join(dir, 'progress.db'));
    expect(check.lab('lcrashed1')?.endReason).toBe('server restarted');
    check.close();

    const me = new Learner(s.url);
    const lab = await readyLab(me);
    const m = s.manager.find(lab.id)!;
    expect(await s.manager.sweep()).toEqual([]);
    m.lastActive = Date.now() - 61_000;
    expect(await s.manager.sweep()).toEqual([lab.id]);
    const gone = await me.call('GET', `/api/labs/${lab.id}`);
    expect(gone.status).toBe(410);
    expect(gone.body.error.message).toMatch(/idle too long/);
    // Destroyed through the one teardown path: the stand-in lab's directory is gone.
    expect([...backend.labs.values()].filter((l) => existsSync(l.dir))).toHaveLength(0);

    const lab2 = await readyLab(me);
    const m2 = s.manager.find(lab2.id)!;
    (m2 as { createdAt: number }).createdAt = Date.now() - 121_000;
    m2.lastActive = Date.now();
    expect(await s.manager.sweep()).toEqual([lab2.id]);
    expect(m2.endReason).toBe('time limit reached');
  });

  it('says clearly when the port is taken, and releases what it opened', async () => {
    const s = await start();
    const me = new Learner(s.url);
    const lab = await readyLab(me);
    await expect(startServer({ host: '127.0.0.1', port: s.port, stateDir: dir, backend, log: () => {} }))
      .rejects.toThrow(`cannot listen on 127.0.0.1:${s.port}: the port is in use`);
    // The running server and its lab are untouched, records included.
    expect((await me.call('GET', `/api/labs/${lab.id}`)).body.lab.phase).toBe('ready');
    const check = new SqliteStore(join(dir, 'progress.db'));
    expect(check.lab(lab.id)?.endedAt).toBeNull();
    check.close();
  });

  it('refuses cross-site state changes and foreign Host headers', async () => {
    const s = await start();
    const me = new Learner(s.url);
    const res = await fetch(`${s.url}/api/labs`, { method: 'POST', headers: { origin: 'http://evil.example', 'content-type': 'application/json' }, body: '{"scenario":"stand-in"}' });
    expect(res.status).toBe(403);
    const rebound = await new Promise<number>((resolve, reject) => {
      request({ host: '127.0.0.1', port: s.port, path: '/', headers: { host: `attacker.example:${s.port}` } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject).end();
    });
    expect(rebound).toBe(421);
    expect((await me.call('GET', '/')).status).toBe(200);
  });

  it('refuses a state change without the learner\'s CSRF token, with another learner\'s, and keeps tokens across a restart', async () => {
    await start();
    const me = new Learner(srv!.url);
    const session = await me.call('GET', '/api/session');
    expect(session.body.csrfToken).toMatch(/^[\w-]{43}$/);
    expect(session.headers.get('set-cookie')).toMatch(/netdojo_csrf=[\w-]{43}; Path=\/; SameSite=Lax/);
    me.withoutToken = true;
    const forged = await me.call('POST', '/api/labs', { scenario: 'stand-in' });
    expect(forged.status).toBe(403);
    expect(forged.body.error).toMatchObject({ code: 'csrf', message: expect.stringMatching(/needs the x-csrf-token header/) });
    const other = new Learner(srv!.url);
    const theirs = (await other.call('GET', '/api/session')).body.csrfToken;
    const borrowed = await fetch(`${srv!.url}/api/labs`, { method: 'POST', headers: { origin: srv!.url, cookie: me.cookie, 'x-csrf-token': theirs, 'content-type': 'application/json' }, body: '{"scenario":"stand-in"}' });
    expect(borrowed.status).toBe(403);
    expect(backend.labs.size).toBe(0);
    // The key lives in the state directory, readable by the server's user only: a restart keeps tokens.
    expect(statSync(join(dir, 'csrf.key')).mode & 0o777).toBe(0o600);
    await srv!.close();
    await start();
    const again = new Learner(srv!.url);
    again.cookie = me.cookie;
    expect((await again.call('GET', '/api/session')).body.csrfToken).toBe(session.body.csrfToken);
    expect((await again.call('POST', '/api/labs', { scenario: 'stand-in' })).status).toBe(202);
  });

  it('limits lab starts and checks per learner per minute, with Retry-After and a message that says so', async () => {
    srv = await startServer({ host: '127.0.0.1', port: 0, stateDir: dir, backend, rates: { startsPerMinute: 2, checksPerMinute: 3 }, log: () => {} });
    const me = new Learner(srv.url), other = new Learner(srv.url);
    const lab = await readyLab(me);
    expect((await me.call('POST', `/api/labs/${lab.id}/reset`)).status).toBe(200);
    const third = await me.call('POST', '/api/labs', { scenario: 'stand-in-2' });
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(third.body.error).toMatchObject({ code: 'rate_limited', message: expect.stringMatching(/^Too many lab starts and resets: at most 2 a minute\. Try again in \d+ s\.$/) });
    expect((await other.call('POST', '/api/labs', { scenario: 'stand-in' })).status).toBe(202);
    await me.waitReady(lab.id);
    const checks = [];
    for (let i = 0; i < 4; i++) checks.push((await me.call('POST', `/api/labs/${lab.id}/grade`)).status);
    expect(checks).toEqual([200, 200, 200, 429]);
  });

  it('refuses terminal upgrades without the cookie, the token, or from another Origin', async () => {
    const s = await start();
    const me = new Learner(s.url);
    const lab = await readyLab(me);
    const other = new Learner(s.url);
    await other.call('GET', '/');
    const attempts = [
      me.terminal(lab.id, 'worker', lab.token, { cookie: '' }),
      me.terminal(lab.id, 'worker', 'not-the-token'),
      me.terminal(lab.id, 'worker', lab.token, { origin: 'http://evil.example' }),
      me.terminal(lab.id, 'worker', lab.token, { origin: undefined }),
      other.terminal(lab.id, 'worker', lab.token),
      me.terminal(lab.id, 'no-such-node', lab.token),
    ];
    const statuses = [];
    for (const t of attempts) statuses.push(await t.opened().then(() => 101, (e: { status?: number }) => e.status));
    expect(statuses).toEqual([401, 403, 403, 403, 404, 404]);
    const ok = me.terminal(lab.id, 'worker', lab.token);
    await ok.opened();
    await ok.untilText(/root@worker:~# $/m);
    await ok.close();
  });
});

/** The catalog page as tracks: each section's track, "n of m solved" and cards (scenario and mark, if any). */
function tracksOf(html: string) {
  return [...html.matchAll(/<section class="track"[^>]*data-track="([^"]+)"[\s\S]*?<\/section>/g)].map(([section, track]) => ({
    track,
    solved: /class="track-solved[^"]*">([^<]*)</.exec(section)?.[1],
    cards: [...section.matchAll(/<article class="card[^>]*>/g)].map(([tag]) => {
      const mark = /data-mark="(\w+)"/.exec(tag)?.[1];
      return `${/data-scenario="([^"]+)"/.exec(tag)![1]}${mark ? `:${mark}` : ''}`;
    }),
  }));
}

describe('catalog and lab pages', () => {
  /** Every check of the stand-ins passes (stand-in-2 has a second one, `tidy`). */
  const fix = (s: RunningServer, labId: string) => { for (const f of ['fixed', 'tidy']) writeFileSync(join((s.manager.find(labId)!.lab as LocalLab).dir, f), ''); };

  it('groups the catalog by track in order, easier first, and marks where to start', async () => {
    const s = await start();
    const me = new Learner(s.url);
    const page = await me.call('GET', '/');
    expect(tracksOf(page.body)).toEqual([
      { track: 'linux', solved: '0 of 1 solved', cards: ['stand-in-kernel:start'] },
      { track: 'services', solved: '0 of 1 solved', cards: ['stand-in-svc:start'] },
      { track: 'dns', solved: '0 of 2 solved', cards: ['stand-in:start', 'stand-in-2'] },
    ]);
    expect(page.body).toContain('<span class="badge next">Start here</span>');
    // The client's URLs name its build, and what they serve is built from the current sources.
    const css = /<link rel="stylesheet" href="(\/static\/main\.css\?v=[0-9a-z]+)">/.exec(page.body)?.[1];
    expect(page.body).toMatch(/<script type="module" src="\/static\/main\.js\?v=[0-9a-z]+"><\/script>/);
    expect((await me.call('GET', css!)).body).toContain('.timeline-list');
    expect(page.body).toMatch(/<h2 id="track-dns-title">DNS<\/h2>[\s\S]*?<p class="track-about">CoreDNS, the names it serves/);
    // Each card names the CKA competencies it trains, in the curriculum's words.
    expect(page.body).toMatch(/data-scenario="stand-in-svc"[\s\S]*?<li data-competency="service-types">Use ClusterIP, NodePort, LoadBalancer service types and endpoints<\/li>/);
  });

  it('filters by track, difficulty and topic together, hides tracks left empty, and ignores values it does not know', async () => {
    const s = await start();
    const me = new Learner(s.url);
    const shown = async (q: string) => tracksOf((await me.call('GET', `/${q}`)).body).map((t) => `${t.track}: ${t.cards.join(' ')}`);
    expect(await shown('?track=dns')).toEqual(['dns: stand-in:start stand-in-2']);
    expect(await shown('?difficulty=advanced')).toEqual(['dns: stand-in-2']);
    expect(await shown('?tag=services')).toEqual(['services: stand-in-svc:start']);
    expect(await shown('?track=dns&difficulty=intermediate')).toEqual([]);
    // Unknown values are left out, as the page always did for difficulty (the API answers 400).
    expect(await shown('?track=kernel&difficulty=expert')).toHaveLength(3);
    const dns = (await me.call('GET', '/?track=dns&tag=mtu')).body as string;
    expect(dns).toContain('1 of 4 scenarios');
    // The active track chip, and the others keeping the tag.
    expect(dns).toMatch(/<a class="chip active" href="\/\?track&#x3D;dns&amp;tag&#x3D;mtu" data-filter="track" data-value="dns" aria-current="true">DNS<\/a>/);
    expect(dns).toMatch(/href="\/\?track&#x3D;linux&amp;tag&#x3D;mtu" data-filter="track"/);
    expect((await me.call('GET', '/?track=exam')).body).toContain('No scenario matches');
  });

  it('shows "What you learned" with the next scenario once the last check passed, in the parts and on reload, and not after a reset', async () => {
    const s = await start();
    const me = new Learner(s.url);
    const lab = await readyLab(me);
    const parts = async () => (await me.call('GET', `/labs/${lab.id}/parts`)).body as Record<string, string>;
    expect(lab.learned).toBeNull();
    expect(lab.scenario).not.toHaveProperty('learned');
    expect((await parts()).learned.trim()).toBe('');
    await me.call('POST', `/api/labs/${lab.id}/grade`);
    expect((await parts()).learned.trim()).toBe('');

    fix(s, lab.id);
    expect((await me.call('POST', `/api/labs/${lab.id}/grade`)).body.report.verdict).toBe('pass');
    const view = (await me.call('GET', `/api/labs/${lab.id}`)).body.lab;
    expect(view.learned.timeline.entries.map((e: { kind: string }) => e.kind)).toEqual(['started', 'ready', 'grade', 'grade']);
    expect(view.learned).toMatchObject({
      html: '<p>A stand-in teaches how the server drives a lab.</p>\n',
      competencies: [{ id: 'coredns', title: 'Understand and use CoreDNS' }],
      next: { id: 'stand-in-2', title: 'Second', href: '/#stand-in-2', sameTrack: true, track: { id: 'dns', title: 'DNS' } },
    });
    const part = (await parts()).learned;
    expect(part).toContain('<h2 id="learned-title">What you learned</h2>');
    expect(part).toContain('A stand-in teaches how the server drives a lab.');
    expect(part).toContain('<li data-competency="coredns">Understand and use CoreDNS</li>');
    expect(part).toMatch(/<summary>Your timeline: 4 steps in \d+:\d\d<\/summary>/);
    expect(part).toMatch(/<li class="timeline-grade timeline-fail"><span class="timeline-clock">\d+:\d\d<\/span><span>Check: 0\/1; still failing: The file <code>fixed<\/code> exists<\/span><\/li>/);
    expect(part).toMatch(/Next in DNS<\/span>\s*<a class="btn primary next-link" href="\/#stand-in-2" data-next="stand-in-2">Second →<\/a>/);
    // A reload renders the same part into the page.
    expect((await me.call('GET', `/labs/${lab.id}`)).body).toContain(`<div data-part="learned">${part}</div>`);
    // The catalog counts it and moves the mark on.
    expect(tracksOf((await me.call('GET', '/')).body).find((t) => t.track === 'dns')).toEqual({ track: 'dns', solved: '1 of 2 solved', cards: ['stand-in', 'stand-in-2:next'] });

    await me.call('POST', `/api/labs/${lab.id}/reset`);
    expect((await me.call('GET', `/api/labs/${lab.id}`)).body.lab.learned).toBeNull();
    expect((await parts()).learned.trim()).toBe('');
  });

  it('after the last scenario of a track the next one is the next track\'s first; after the last of all, none', async () => {
    const s = await start();
    const me = new Learner(s.url);
    const svc = await readyLab(me, 'stand-in-svc');
    fix(s, svc.id);
    await me.call('POST', `/api/labs/${svc.id}/grade`);
    const part = (await me.call('GET', `/labs/${svc.id}/parts`)).body.learned as string;
    expect(part).toMatch(/Next track: DNS<\/span>\s*<a class="btn primary next-link" href="\/#stand-in" data-next="stand-in">Stand-in scenario →<\/a>/);
    expect(part).toContain('<code>endpoints</code>');

    const last = await readyLab(me, 'stand-in-2');
    fix(s, last.id);
    await me.call('POST', `/api/labs/${last.id}/grade`);
    const end = (await me.call('GET', `/labs/${last.id}/parts`)).body.learned as string;
    expect(end).toContain('That was the last scenario in the catalog.');
    expect(end).not.toContain('next-link');
  });
});
