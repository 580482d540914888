import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addTrainer, newLoginLink } from '../cohorts/trainers.ts';
import { loadExams } from '../exam/load.ts';
import { SqliteStore } from '../store/store.ts';
import { CLOSE, inputFrame, resizeFrame } from '../terminal/protocol.ts';
import { startServer, type RunningServer } from './server.ts';
import { Learner } from './test/client.ts';
import { standInBackend, type StandIn } from './test/stand-in.ts';

// Cohorts and trainers through a real server on 127.0.0.1, port 0, over the stand-in backend (a lab
// is a temp directory whose check passes once `fixed` exists in it). Trainers are made as the CLI
// makes them, in the server's database.

let dir: string;
let srv: RunningServer | null = null;
let backend: StandIn;

const EXAM = `id: practice
title: Practice exam
minutes: 30
passMark: 50
instructions: Fix it.
tasks:
  - { scenario: stand-in, weight: 100 }
`;

const start = async (rates = {}) => {
  srv = await startServer({
    host: '127.0.0.1', port: 0, stateDir: dir, backend, rates, log: () => {},
    exams: () => loadExams([{ id: 'stand-in', title: 'Stand-in scenario', difficulty: 'beginner', minutes: 5, variants: {} }], join(dir, 'exams')),
  });
  return srv;
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'netdojo-cohort-api-'));
  backend = standInBackend();
  mkdirSync(join(dir, 'exams'));
  writeFileSync(join(dir, 'exams', 'practice.yaml'), EXAM);
});
afterEach(async () => {
  await srv?.close();
  srv = null;
  rmSync(dir, { recursive: true, force: true });
});

/** What `netdojo trainer add` does, on the server's database: the path of a one-time login link. */
async function makeTrainer(name: string, password: string | null = null) {
  const store = new SqliteStore(join(dir, 'progress.db'));
  try {
    await addTrainer(store.cohorts, name, password);
    return newLoginLink(store.cohorts, name).path;
  } finally {
    store.close();
  }
}

async function signedInTrainer(base: string, name = 'ada') {
  const link = await makeTrainer(name);
  const t = new Learner(base);
  expect((await t.call('POST', '/api/trainer/login/link', { token: link.split('/').pop() })).status).toBe(200);
  return t;
}

const hour = 3600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const cohortBody = (o: object = {}) => ({ name: 'Platform team', opensAt: iso(Date.now() - hour), closesAt: iso(Date.now() + hour), scenarios: ['stand-in', 'stand-in-2'], exams: ['practice'], ...o });

/** The stand-in lab's directory, which its briefing names. */
const labDir = (lab: { brief: { markdown: string } }) => /The lab directory is `([^`]+)`/.exec(lab.brief.markdown)![1];

async function readyLab(me: Learner, scenario = 'stand-in') {
  const c = await me.call('POST', '/api/labs', { scenario });
  expect(c.status).toBe(202);
  expect((await me.waitReady(c.body.lab.id)).phase).toBe('ready');
  return (await me.call('GET', `/api/labs/${c.body.lab.id}`)).body.lab;
}

describe('trainer sign-in', () => {
  it('signs in with a password or a one-time link that works once; a learner gets nothing of the trainer side', async () => {
    const s = await start();
    const link = await makeTrainer('ada', 'correct horse');
    const t = new Learner(s.url);
    expect((await t.call('GET', '/api/trainer/cohorts')).status).toBe(401);
    const wrong = await t.call('POST', '/api/trainer/login', { name: 'ada', password: 'wrong horse' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('bad_credentials');
    expect((await t.call('POST', '/api/trainer/login', { name: 'nobody', password: 'correct horse' })).body.error.code).toBe('bad_credentials');
    const ok = await t.call('POST', '/api/trainer/login', { name: 'ada', password: 'correct horse' });
    expect(ok.status).toBe(200);
    expect(ok.body.trainer).toEqual({ id: expect.stringMatching(/^t[0-9a-f]{12}$/), name: 'ada' });
    expect(ok.headers.getSetCookie().join('\n')).toMatch(/netdojo_trainer=[^;]+; HttpOnly; Max-Age=43200; Path=\/; SameSite=Strict/);
    expect((await t.call('GET', '/api/trainer/session')).body.trainer.name).toBe('ada');

    // The link: its page only shows a button (a link preview uses nothing up); the POST uses it once.
    const other = new Learner(s.url);
    const page = await other.call('GET', link);
    expect(page.status).toBe(200);
    expect(page.body).toContain('id="link-sign-in"');
    const token = link.split('/').pop();
    expect((await other.call('POST', '/api/trainer/login/link', { token })).status).toBe(200);
    expect((await other.call('GET', '/api/trainer/cohorts')).status).toBe(200);
    const again = await new Learner(s.url).call('POST', '/api/trainer/login/link', { token });
    expect(again.status).toBe(401);
    expect(again.body.error.code).toBe('link_invalid');

    // A forged or altered session cookie is nobody.
    const forged = new Learner(s.url);
    forged.cookie = t.cookie.replace(/netdojo_trainer=(t[0-9a-f]{12})\.(\d+)\./, (_m, id, exp) => `netdojo_trainer=${id}.${Number(exp) + 1000}.`);
    expect((await forged.call('GET', '/api/trainer/cohorts')).status).toBe(401);

    // Learners never see trainer pages: the sign-in page instead.
    const learner = new Learner(s.url);
    const res = await fetch(`${s.url}/trainer/cohorts`, { redirect: 'manual', headers: { cookie: learner.cookie } });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/trainer');

    // Signing out ends the session in this browser.
    expect((await t.call('POST', '/api/trainer/logout')).status).toBe(204);
    expect((await t.call('GET', '/api/trainer/cohorts')).status).toBe(401);
  });

  it('a new link replaces the unused one, and an expired link signs nobody in', async () => {
    const s = await start();
    const first = await makeTrainer('ada');
    const store = new SqliteStore(join(dir, 'progress.db'));
    const second = newLoginLink(store.cohorts, 'ada').path;
    const stale = newLoginLink(store.cohorts, 'ada', Date.now() - 25 * hour).path;
    store.close();
    const use = async (path: string) => (await new Learner(s.url).call('POST', '/api/trainer/login/link', { token: path.split('/').pop() })).status;
    expect(await use(first)).toBe(401);
    expect(await use(second)).toBe(401);
    expect(await use(stale)).toBe(401);
  });

  it('rate-limits password sign-ins per account, whatever browser they come from', async () => {
    const s = await start({ signInsPerMinute: 3 });
    await makeTrainer('ada', 'correct horse');
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await new Learner(s.url).call('POST', '/api/trainer/login', { name: 'ada', password: 'guess' })).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
    // Another account is counted apart.
    expect((await new Learner(s.url).call('POST', '/api/trainer/login', { name: 'bob', password: 'guess' })).status).toBe(401);
  });
});

describe('cohorts', () => {
  it('creates a cohort whose assignment is checked against the catalog and the exams; state changes need the trainer\'s token', async () => {
    const s = await start();
    const t = await signedInTrainer(s.url);
    const bad = async (o: object) => (await t.call('POST', '/api/trainer/cohorts', cohortBody(o))).body.error;
    expect((await bad({ scenarios: ['stand-in', 'nope'] })).message).toMatch(/^body\.scenarios\.1: no scenario "nope"; one of: stand-in/);
    expect((await bad({ exams: ['finals'] })).fields).toEqual([{ path: 'body.exams.0', message: 'no exam "finals"; one of: practice' }]);
    expect((await bad({ scenarios: [], exams: [] })).message).toBe('body.scenarios: the assignment needs at least one scenario or exam');
    expect((await bad({ closesAt: iso(Date.now() - 2 * hour) })).message).toBe('body.closesAt: must be after opensAt');
    expect((await bad({ opensAt: 'tomorrow' })).message).toMatch(/^body\.opensAt: a date and time with its zone/);
    expect((await bad({ name: ' ' })).message).toBe('body.name: required: a name for the cohort');

    // The learner's token is not the trainer's: a page of another site making a learner's browser post fails too.
    const forged = new Learner(s.url);
    forged.cookie = t.cookie.replace(/netdojo_csrf_trainer=[^;]+/, `netdojo_csrf_trainer=${/netdojo_csrf=([^;]+)/.exec(t.cookie)?.[1] ?? ''}`);
    const refused = await forged.call('POST', '/api/trainer/cohorts', cohortBody());
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('csrf');
    expect(refused.body.error.message).toMatch(/header with the trainer's token \(the page's netdojo_csrf_trainer cookie/);

    const c = await t.call('POST', '/api/trainer/cohorts', cohortBody());
    expect(c.status).toBe(201);
    expect(c.body.cohort).toMatchObject({ name: 'Platform team', window: 'open', url: `/trainer/cohorts/${c.body.cohort.id}`,
      items: [{ kind: 'scenario', ref: 'stand-in' }, { kind: 'scenario', ref: 'stand-in-2' }, { kind: 'exam', ref: 'practice' }] });
    expect(c.body.cohort.code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    expect((await t.call('GET', '/api/trainer/cohorts')).body.cohorts.map((x: { id: string }) => x.id)).toEqual([c.body.cohort.id]);

    // Another trainer sees none of it.
    const bob = await signedInTrainer(s.url, 'bob');
    expect((await bob.call('GET', '/api/trainer/cohorts')).body.cohorts).toEqual([]);
    expect((await bob.call('GET', `/api/trainer/cohorts/${c.body.cohort.id}`)).status).toBe(404);
  });

  it('lets learners join with the code while the cohort is open, with clear errors otherwise', async () => {
    const s = await start();
    const t = await signedInTrainer(s.url);
    const open = (await t.call('POST', '/api/trainer/cohorts', cohortBody())).body.cohort;
    const later = (await t.call('POST', '/api/trainer/cohorts', cohortBody({ name: 'Next month', opensAt: iso(Date.now() + hour), closesAt: iso(Date.now() + 2 * hour) }))).body.cohort;
    const past = (await t.call('POST', '/api/trainer/cohorts', cohortBody({ name: 'Last month', opensAt: iso(Date.now() - 2 * hour), closesAt: iso(Date.now() - hour) }))).body.cohort;
    const other = (await t.call('POST', '/api/trainer/cohorts', cohortBody({ name: 'Evening class', scenarios: ['stand-in-svc'], exams: [] }))).body.cohort;
    const me = new Learner(s.url);
    const join = (code: string, name: string) => me.call('POST', '/api/cohorts/join', { code, name });

    const unknown = await join('AAAA-BBBB-CCCC', 'Grace');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.fields[0].path).toBe('body.code');
    expect(unknown.body.error.message).toMatch(/no cohort has the code "AAAA-BBBB-CCCC"/);
    expect((await join(later.code, 'Grace')).body.error).toMatchObject({ code: 'cohort_not_open', message: expect.stringMatching(/^The cohort "Next month" opens on \d{4}-\d\d-\d\d \d\d:\d\d UTC/) });
    expect((await join(past.code, 'Grace')).body.error).toMatchObject({ code: 'cohort_closed' });
    expect((await join(open.code, '')).body.error.message).toBe('body.name: required: the name your trainer will see');
    expect((await join(open.code, 'x'.repeat(41))).body.error.message).toBe('body.name: at most 40 characters');
    expect((await join(open.code, 'a\u0007b')).body.error.fields[0].path).toBe('body.name');

    // Typed as people type it: lower case, no dashes, O for 0.
    const typed = open.code.toLowerCase().replace(/-/g, ' ').replace(/0/g, 'o');
    const ok = await join(typed, ' Grace ');
    expect(ok.status).toBe(200);
    expect(ok.body.cohort).toEqual({ id: open.id, name: 'Platform team', url: `/cohorts/${open.id}` });
    // A second learner may not take the name; the same learner in a second cohort may.
    const taken = await new Learner(s.url).call('POST', '/api/cohorts/join', { code: open.code, name: 'grace' });
    expect(taken.body.error.message).toBe('body.name: someone in "Platform team" already goes by "grace": choose another name');
    expect((await join(other.code, 'Grace')).status).toBe(200);
    expect((await me.call('GET', '/api/cohorts')).body.cohorts.map((c: { name: string; you: string }) => `${c.name}/${c.you}`)).toEqual(['Evening class/Grace', 'Platform team/Grace']);
    // A cohort one is not in is not there.
    expect((await new Learner(s.url).call('GET', `/api/cohorts/${open.id}`)).status).toBe(404);
    const catalog = await me.call('GET', '/');
    expect(catalog.body).toContain(`href="/cohorts/${open.id}"`);
    expect(catalog.body).toMatch(/Platform team <span class="muted">— your cohort: 0 of 3 done/);
  });

  it('shows the trainer each member × item, the same status the learner sees: not started, working, solved; exams by attempt', async () => {
    const s = await start();
    const t = await signedInTrainer(s.url);
    const c = (await t.call('POST', '/api/trainer/cohorts', cohortBody())).body.cohort;
    const me = new Learner(s.url);
    // Work done before joining counts: a member is their usual browser identity.
    const early = await readyLab(me, 'stand-in-2');
    expect((await me.call('POST', `/api/labs/${early.id}/hints`)).status).toBe(200);
    expect((await me.call('POST', '/api/cohorts/join', { code: c.code, name: 'Grace' })).status).toBe(200);
    const board = async () => (await t.call('GET', `/api/trainer/cohorts/${c.id}`)).body.cohort;
    let b = await board();
    expect(b.items.map((i: { title: string }) => i.title)).toEqual(['Stand-in scenario', 'Second', 'Practice exam']);
    expect(b.members).toHaveLength(1);
    expect(b.members[0].name).toBe('Grace');
    expect(b.members[0].items.map((i: { state: string; summary: string }) => [i.state, i.summary])).toEqual([
      ['not-started', 'not started'],
      ['working', expect.stringMatching(/^working: not checked yet, \d+ s, 1 hint$/)],
      ['not-started', 'not started'],
    ]);

    const lab = await readyLab(me, 'stand-in');
    expect((await me.call('POST', `/api/labs/${lab.id}/grade`)).body.report.verdict).toBe('fail');
    b = await board();
    expect(b.members[0].items[0]).toMatchObject({ state: 'working', score: { earned: 0, possible: 1 }, hints: 0, labs: [{ id: lab.id, phase: 'ready' }] });
    expect(b.members[0].items[0].summary).toMatch(/^working: 0\/1, \d+ s, 0 hints$/);
    writeFileSync(join(labDir(lab), 'fixed'), '');
    expect((await me.call('POST', `/api/labs/${lab.id}/grade`)).body.report.verdict).toBe('pass');
    b = await board();
    expect(b.members[0].items[0]).toMatchObject({ state: 'solved', score: { earned: 1, possible: 1 }, hints: 0 });
    expect(b.members[0].items[0].summary).toMatch(/^solved in \d+ s, 0 hints$/);

    // The learner's page says the same, from the same computation.
    const mine = (await me.call('GET', `/api/cohorts/${c.id}`)).body.cohort;
    expect(mine.items).toEqual(b.members[0].items);
    expect(mine).toMatchObject({ name: 'Platform team', you: 'Grace', window: 'open', done: 1 });

    // An exam: under way with its task's lab to watch, then its result.
    expect((await me.call('DELETE', `/api/labs/${lab.id}`)).status).toBe(204);
    const a = await me.call('POST', '/api/exams/practice/attempts', {});
    expect(a.status).toBe(202);
    const examLab = a.body.attempt.tasks[0].lab.id;
    expect((await me.waitReady(examLab)).phase).toBe('ready');
    b = await board();
    expect(b.members[0].items[2]).toMatchObject({ state: 'working', attempt: { id: a.body.attempt.id }, labs: [{ id: examLab, title: 'Practice exam, task 1: Stand-in scenario' }] });
    expect(b.members[0].items[2].summary).toMatch(/^exam (running|starting): 0\/100 so far, \d+ min left$/);
    expect((await me.call('POST', `/api/attempts/${a.body.attempt.id}/tasks/1/check`)).status).toBe(200);
    const task = (await me.call('GET', `/api/attempts/${a.body.attempt.id}`)).body.attempt.tasks[0];
    writeFileSync(join(labDir(task.lab), 'fixed'), '');
    expect((await me.call('POST', `/api/attempts/${a.body.attempt.id}/tasks/1/check`)).body.report.verdict).toBe('pass');
    expect((await board()).members[0].items[2]).toMatchObject({ state: 'working', score: { earned: 100, possible: 100 } });
    expect((await t.call('GET', `/api/trainer/cohorts/${c.id}/labs/${examLab}`)).status).toBe(200);
    expect((await me.call('POST', `/api/attempts/${a.body.attempt.id}/finish`)).status).toBe(200);
    b = await board();
    expect(b.members[0].items[2]).toMatchObject({ state: 'finished', passed: true, percent: 100 });
    expect(b.members[0].items[2].summary).toBe('passed: 100 % (100/100)');

    // The dashboard page and its parts render the same board.
    const page = await t.call('GET', `/trainer/cohorts/${c.id}`);
    expect(page.body).toContain(`id="access-code">${c.code}<`);
    const parts = await t.call('GET', `/trainer/cohorts/${c.id}/parts`);
    expect(parts.body.board).toMatch(/<tr data-member="Grace">/);
    expect(parts.body.board).toContain('solved in');
    expect((await me.call('GET', `/trainer/cohorts/${c.id}/parts`)).status).toBe(401);
  });
});

describe('watching a member\'s lab', () => {
  /** A trainer's cohort assigned stand-in, and Grace, a member, in a ready lab of it. */
  async function memberWithLab() {
    const s = await start();
    const t = await signedInTrainer(s.url);
    const c = (await t.call('POST', '/api/trainer/cohorts', cohortBody({ scenarios: ['stand-in'], exams: [] }))).body.cohort;
    const me = new Learner(s.url);
    await me.call('POST', '/api/cohorts/join', { code: c.code, name: 'Grace' });
    return { s, t, c, me, lab: await readyLab(me) };
  }

  it('shows the trainer a member\'s lab for the assignment (last Check, timeline), and no other lab', async () => {
    const { s, t, c, me, lab } = await memberWithLab();
    const offAssignment = await readyLab(me, 'stand-in-svc');
    const stranger = new Learner(s.url);
    const strangers = await readyLab(stranger);

    const term = me.terminal(lab.id, 'control-plane', lab.token);
    await term.opened();
    await term.untilText(/root@control-plane:~# $/m);
    term.type('echo watched-$((6*7))\r');
    await term.untilText(/^watched-42$/m);
    await me.call('POST', `/api/labs/${lab.id}/grade`);

    const view = async (id: string) => t.call('GET', `/api/trainer/cohorts/${c.id}/labs/${id}`);
    let v = await view(lab.id);
    expect(v.status).toBe(200);
    expect(v.body.lab).toMatchObject({ id: lab.id, learner: 'Grace', scenario: { id: 'stand-in', title: 'Stand-in scenario' }, phase: 'ready',
      targets: [{ target: 'control-plane', kind: 'node' }], lastGrade: { verdict: 'fail' } });
    expect(v.body.lab).not.toHaveProperty('token');
    expect(JSON.stringify(v.body)).not.toContain(lab.token);
    // The command is on the timeline, with its target, before the Check.
    await expect.poll(async () => (await view(lab.id)).body.lab.timeline.entries.map((e: { kind: string; target?: string; command?: string }) => `${e.kind}:${e.target ?? ''}:${e.command ?? ''}`))
      .toEqual(['started::', 'ready::', 'command:control-plane:echo watched-$((6*7))', 'grade::']);
    v = await view(offAssignment.id);
    expect(v.status).toBe(404);
    expect((await view(strangers.id)).status).toBe(404);
    const page = await t.call('GET', `/trainer/cohorts/${c.id}/labs/${lab.id}`);
    expect(page.body).toContain("Grace's timeline");
    expect(page.body).toContain('echo watched-$((6*7))');
    await term.close();
  });

  it('attaches the trainer read-only: the snapshot and live output, never their keystrokes or sizes; the lab token alone opens nothing', async () => {
    const { s, t, c, me, lab } = await memberWithLab();
    const dir = labDir(lab);

    // Nothing to watch before the learner opens that terminal: a watcher never starts a shell.
    await expect(t.watch(lab.id, 'control-plane').opened()).rejects.toMatchObject({ status: 404 });
    const learner = me.terminal(lab.id, 'control-plane', lab.token);
    await learner.opened();
    await learner.untilText(/root@control-plane:~# $/m);
    learner.type('cd ~; stty size; echo before-$((1+1))\r'); // ~ is the lab's directory
    await learner.untilText(/^before-2$/m);

    const watcher = t.watch(lab.id, 'control-plane');
    await watcher.opened();
    await watcher.untilText(/^before-2$/m); // the snapshot
    learner.type('echo live-$((2+3))\r');
    await watcher.untilText(/^live-5$/m); // live output
    // The trainer types a command and resizes, then leaves. The relay handles a socket's frames in
    // order, so once the close is answered, anything it passed on would be in the shell before what
    // the learner types next.
    watcher.send(inputFrame('touch hijacked; echo hijacked-$((2+2))\r'));
    watcher.send(resizeFrame(40, 10));
    expect(watcher.closed).toBeNull();
    await watcher.close();
    learner.type('stty size; echo after-$((3+3))\r');
    await learner.untilText(/^after-6$/m);
    expect(existsSync(join(dir, 'hijacked'))).toBe(false);
    expect(learner.text()).not.toContain('hijacked');
    const sizes = [...learner.text().matchAll(/^(\d+ \d+)$/gm)].map((m) => m[1]);
    expect(sizes).toHaveLength(2);
    expect(sizes[1]).toBe(sizes[0]);

    // The lab's token is not enough for the trainer's path, nor the trainer's session for the learner's.
    const tokenOnly = new Learner(s.url);
    await expect(tokenOnly.watch(lab.id, 'control-plane', { token: lab.token }).opened()).rejects.toMatchObject({ status: 401 });
    await expect(t.terminal(lab.id, 'control-plane', lab.token).opened()).rejects.toMatchObject({ status: 404 });
    // Another trainer may not watch.
    const bob = await signedInTrainer(s.url, 'bob');
    await expect(bob.watch(lab.id, 'control-plane').opened()).rejects.toMatchObject({ status: 404 });
    await learner.close();
  });

  it('ends an open watch when the member leaves the cohort; the learner\'s terminal carries on', async () => {
    const { t, c, me, lab } = await memberWithLab();
    const learner = me.terminal(lab.id, 'control-plane', lab.token);
    await learner.opened();
    await learner.untilText(/root@control-plane:~# $/m);
    const watcher = t.watch(lab.id, 'control-plane');
    await watcher.opened();
    // Editing the cohort without taking the lab out of the assignment leaves the watch as it is.
    expect((await t.call('PATCH', `/api/trainer/cohorts/${c.id}`, { name: 'Renamed' })).status).toBe(200);
    expect((await t.call('DELETE', `/api/trainer/cohorts/${c.id}/members/Grace`)).status).toBe(204);
    await watcher.until(() => watcher.closed !== null, 'the watch to end');
    expect(watcher.closed).toEqual({ code: CLOSE.REVOKED, reason: 'you may no longer watch this terminal' });
    learner.type('echo mine-$((7*6))\r');
    await learner.untilText(/^mine-42$/m);
    expect(learner.closed).toBeNull();
    await learner.close();
  });
});

describe('changing a cohort', () => {
  /** Ada's cohort of cohortBody(o), and the trainer herself. */
  async function adasCohort(o: object = {}) {
    const s = await start();
    const t = await signedInTrainer(s.url);
    const c = (await t.call('POST', '/api/trainer/cohorts', cohortBody(o))).body.cohort;
    return { s, t, c };
  }
  const refs = (c: { items: { kind: string; ref: string }[] }) => c.items.map((i) => `${i.kind}:${i.ref}`);

  it('edits the name, the window and the assignment, each alone, and keeps the access code', async () => {
    const { s, t, c } = await adasCohort();
    const edit = (o: object) => t.call('PATCH', `/api/trainer/cohorts/${c.id}`, o);
    const renamed = await edit({ name: ' Platform team, January ' });
    expect(renamed.status).toBe(200);
    // The POST's shape, everything but the name as it was.
    expect(renamed.body.cohort).toEqual({ ...c, name: 'Platform team, January' });

    const opensAt = Date.now() + hour, closesAt = Date.now() + 3 * hour;
    expect((await edit({ opensAt: iso(opensAt), closesAt: iso(closesAt) })).body.cohort).toMatchObject({ opensAt, closesAt, window: 'upcoming', code: c.code });
    expect((await new Learner(s.url).call('POST', '/api/cohorts/join', { code: c.code, name: 'Grace' })).body.error.code).toBe('cohort_not_open');
    // Scenarios alone keep the exams, and the other way round.
    expect(refs((await edit({ scenarios: ['stand-in-svc', 'stand-in'] })).body.cohort)).toEqual(['scenario:stand-in-svc', 'scenario:stand-in', 'exam:practice']);
    expect(refs((await edit({ exams: [] })).body.cohort)).toEqual(['scenario:stand-in-svc', 'scenario:stand-in']);
    expect(refs((await edit({ exams: ['practice'], scenarios: ['stand-in-2', 'stand-in-2'] })).body.cohort)).toEqual(['scenario:stand-in-2', 'exam:practice']);

    const b = (await t.call('GET', `/api/trainer/cohorts/${c.id}`)).body.cohort;
    expect(b).toMatchObject({ name: 'Platform team, January', code: c.code, window: 'upcoming', opensAt, closesAt });
    expect(b.items.map((i: { title: string }) => i.title)).toEqual(['Second', 'Practice exam']);
    expect((await t.call('GET', '/api/trainer/cohorts')).body.cohorts).toHaveLength(1);
  });

  it('checks an edit as a new cohort is checked, naming the field, and changes nothing when it fails', async () => {
    const { t, c } = await adasCohort({ exams: [] });
    const bad = async (o: object) => {
      const r = await t.call('PATCH', `/api/trainer/cohorts/${c.id}`, o);
      expect(r.status).toBe(400);
      return r.body.error;
    };
    expect((await bad({ scenarios: ['stand-in', 'stand-in-2', 'nope'] })).fields).toEqual([
      { path: 'body.scenarios.2', message: 'no scenario "nope"; one of: stand-in, stand-in-2, stand-in-svc, stand-in-kernel' }]);
    expect((await bad({ exams: ['finals'] })).fields).toEqual([{ path: 'body.exams.0', message: 'no exam "finals"; one of: practice' }]);
    // The cohort has no exams: taking its scenarios out leaves nothing.
    expect((await bad({ scenarios: [] })).message).toBe('body.scenarios: the assignment needs at least one scenario or exam');
    expect((await bad({ scenarios: [], exams: [] })).message).toBe('body.scenarios: the assignment needs at least one scenario or exam');
    // The window as it would be: a closing time alone before the cohort's opening time is refused too.
    expect((await bad({ closesAt: iso(c.opensAt - hour) })).message).toBe('body.closesAt: must be after opensAt');
    expect((await bad({ opensAt: iso(c.closesAt) })).message).toBe('body.closesAt: must be after opensAt');
    expect((await bad({ opensAt: 'tomorrow' })).message).toMatch(/^body\.opensAt: a date and time with its zone/);
    expect((await bad({ name: ' ' })).message).toBe('body.name: required: a name for the cohort');
    expect((await bad({ scenarios: 'stand-in' })).fields[0].path).toBe('body.scenarios');
    expect((await bad({ name: 'New', code: 'AAAA-BBBB-CCCC', trainer: 'bob' })).message).toBe('body: Unrecognized keys: "code", "trainer"');
    expect((await t.call('PATCH', '/api/trainer/cohorts/nope', { name: 'x' })).body.error.fields[0].path).toBe('path');
    expect((await t.call('GET', `/api/trainer/cohorts/${c.id}`)).body.cohort).toMatchObject({ name: 'Platform team', opensAt: c.opensAt, closesAt: c.closesAt,
      items: [{ kind: 'scenario', ref: 'stand-in' }, { kind: 'scenario', ref: 'stand-in-2' }] });
  });

  it('keeps an item whose exam left the server through an edit of the rest, and offers it on the edit form', async () => {
    const { t, c } = await adasCohort();
    rmSync(join(dir, 'exams', 'practice.yaml'));
    const renamed = await t.call('PATCH', `/api/trainer/cohorts/${c.id}`, { name: 'Renamed' });
    expect(renamed.status).toBe(200);
    expect(refs(renamed.body.cohort)).toEqual(['scenario:stand-in', 'scenario:stand-in-2', 'exam:practice']);
    expect((await t.call('GET', `/trainer/cohorts/${c.id}`)).body).toContain('<input type="checkbox" name="exams" value="practice" checked> practice</label>');
    // Unticked, it is gone, and cannot be put back.
    expect(refs((await t.call('PATCH', `/api/trainer/cohorts/${c.id}`, { exams: [] })).body.cohort)).toEqual(['scenario:stand-in', 'scenario:stand-in-2']);
    expect((await t.call('PATCH', `/api/trainer/cohorts/${c.id}`, { exams: ['practice'] })).body.error.fields[0].path).toBe('body.exams.0');
  });

  it('reaches only the trainer\'s own cohorts, and needs the trainer\'s token', async () => {
    const { s, t, c } = await adasCohort();
    const me = new Learner(s.url);
    expect((await me.call('POST', '/api/cohorts/join', { code: c.code, name: 'Grace' })).status).toBe(200);
    const changes = [
      ['PATCH', `/api/trainer/cohorts/${c.id}`, { name: 'Taken over' }],
      ['DELETE', `/api/trainer/cohorts/${c.id}/members/Grace`, undefined],
      ['DELETE', `/api/trainer/cohorts/${c.id}`, undefined],
    ] as const;
    // Another trainer's cohort is the same 404 as a missing one.
    const bob = await signedInTrainer(s.url, 'bob');
    const missing = 'c000000000000';
    for (const [method, path, body] of changes) {
      const theirs = await bob.call(method, path, body);
      const none = await bob.call(method, path.replace(c.id, missing), body);
      expect([theirs.status, theirs.body.error.code]).toEqual([404, 'cohort_not_found']);
      expect(theirs.body.error.message).toBe(none.body.error.message.replace(missing, c.id));
    }
    // Without the trainer's token (none, or the learner's in its place) nothing changes.
    const forged = new Learner(s.url);
    forged.cookie = t.cookie.replace(/netdojo_csrf_trainer=[^;]+/, `netdojo_csrf_trainer=${/netdojo_csrf=([^;]+)/.exec(t.cookie)?.[1] ?? ''}`);
    t.withoutToken = true;
    for (const who of [t, forged]) {
      for (const [method, path, body] of changes) {
        const r = await who.call(method, path, body);
        expect([r.status, r.body.error.code]).toEqual([403, 'csrf']);
        expect(r.body.error.message).toMatch(/header with the trainer's token/);
      }
    }
    t.withoutToken = false;
    const b = (await t.call('GET', `/api/trainer/cohorts/${c.id}`)).body.cohort;
    expect([b.name, b.members.map((m: { name: string }) => m.name)]).toEqual(['Platform team', ['Grace']]);
    // A learner is no trainer.
    expect((await me.call('GET', `/api/trainer/cohorts/${c.id}`)).status).toBe(401);
  });

  it('takes an item out of the dashboard and the learner\'s page, never out of what the learner did', async () => {
    const { s, t, c } = await adasCohort();
    const me = new Learner(s.url);
    await me.call('POST', '/api/cohorts/join', { code: c.code, name: 'Grace' });
    const lab = await readyLab(me);
    writeFileSync(join(labDir(lab), 'fixed'), '');
    expect((await me.call('POST', `/api/labs/${lab.id}/grade`)).body.report.verdict).toBe('pass');
    const board = async () => (await t.call('GET', `/api/trainer/cohorts/${c.id}`)).body.cohort;
    const mine = async () => (await me.call('GET', `/api/cohorts/${c.id}`)).body.cohort;
    expect((await board()).members[0].items[0]).toMatchObject({ ref: 'stand-in', state: 'solved' });

    expect((await t.call('PATCH', `/api/trainer/cohorts/${c.id}`, { scenarios: ['stand-in-2'] })).status).toBe(200);
    expect(refs(await board())).toEqual(['scenario:stand-in-2', 'exam:practice']);
    expect((await board()).members[0].items.map((i: { ref: string }) => i.ref)).toEqual(['stand-in-2', 'practice']);
    expect(refs(await mine())).toEqual(['scenario:stand-in-2', 'exam:practice']);
    expect((await mine()).done).toBe(0);
    expect((await t.call('GET', `/trainer/cohorts/${c.id}/parts`)).body.board).not.toContain('Stand-in scenario');
    // Still the learner's: the lab with its grade, and the scenario solved in their progress.
    expect((await me.call('GET', `/api/labs/${lab.id}`)).body.lab.lastGrade.verdict).toBe('pass');
    expect((await me.call('GET', '/api/progress')).body.progress).toEqual([expect.objectContaining({ scenario: 'stand-in', passed: true })]);
    // Put back, it counts again.
    await t.call('PATCH', `/api/trainer/cohorts/${c.id}`, { scenarios: ['stand-in', 'stand-in-2'] });
    expect((await board()).members[0].items[0]).toMatchObject({ ref: 'stand-in', state: 'solved' });
    expect((await mine()).done).toBe(1);
  });
});

describe('deleting a cohort and removing members', () => {
  it('deletes a cohort: its code joins nothing, its pages are gone, and the learners keep their labs, grades and attempts', async () => {
    const s = await start();
    const t = await signedInTrainer(s.url);
    const c = (await t.call('POST', '/api/trainer/cohorts', cohortBody())).body.cohort;
    const other = (await t.call('POST', '/api/trainer/cohorts', cohortBody({ name: 'Evening class' }))).body.cohort;
    const me = new Learner(s.url);
    await me.call('POST', '/api/cohorts/join', { code: c.code, name: 'Grace' });
    await me.call('POST', '/api/cohorts/join', { code: other.code, name: 'Grace' });
    const lab = await readyLab(me);
    expect((await me.call('POST', `/api/labs/${lab.id}/grade`)).body.report.verdict).toBe('fail');
    const a = (await me.call('POST', '/api/exams/practice/attempts', {})).body.attempt;
    expect((await me.waitReady(a.tasks[0].lab.id)).phase).toBe('ready');
    expect((await me.call('POST', `/api/attempts/${a.id}/finish`)).status).toBe(200);

    const gone = await t.call('DELETE', `/api/trainer/cohorts/${c.id}`);
    expect(gone.status).toBe(204);
    expect(gone.body).toBe('');
    expect((await t.call('GET', `/api/trainer/cohorts/${c.id}`)).body.error.code).toBe('cohort_not_found');
    expect((await t.call('GET', '/api/trainer/cohorts')).body.cohorts.map((x: { id: string }) => x.id)).toEqual([other.id]);
    expect((await t.call('GET', `/trainer/cohorts/${c.id}`)).status).toBe(404);
    expect((await t.call('DELETE', `/api/trainer/cohorts/${c.id}`)).status).toBe(404);

    const join = await new Learner(s.url).call('POST', '/api/cohorts/join', { code: c.code, name: 'Alan' });
    expect(join.status).toBe(400);
    expect(join.body.error.fields).toEqual([{ path: 'body.code', message: expect.stringMatching(new RegExp(`^no cohort has the code "${c.code}"`)) }]);
    expect((await me.call('GET', `/api/cohorts/${c.id}`)).status).toBe(404);
    expect((await me.call('GET', '/api/cohorts')).body.cohorts.map((x: { name: string }) => x.name)).toEqual(['Evening class']);

    // The learner's own: the lab and its grade, their progress, the finished attempt.
    expect((await me.call('GET', `/api/labs/${lab.id}`)).body.lab).toMatchObject({ phase: 'ready', lastGrade: { verdict: 'fail' } });
    expect((await me.call('GET', '/api/progress')).body.progress).toEqual([expect.objectContaining({ scenario: 'stand-in', grades: 1 })]);
    expect((await me.call('GET', `/api/attempts/${a.id}`)).body.attempt).toMatchObject({ id: a.id, status: 'finished' });
    expect((await t.call('GET', `/api/trainer/cohorts/${other.id}`)).body.cohort.members[0].items[2]).toMatchObject({ state: 'finished' });
  });

  it('removes a member by name: off the dashboard, their progress kept, free to join again; an unknown name is a 404 naming the cohort', async () => {
    const s = await start();
    const t = await signedInTrainer(s.url);
    const c = (await t.call('POST', '/api/trainer/cohorts', cohortBody())).body.cohort;
    const grace = new Learner(s.url), alan = new Learner(s.url);
    await grace.call('POST', '/api/cohorts/join', { code: c.code, name: 'Grace Hopper' });
    await alan.call('POST', '/api/cohorts/join', { code: c.code, name: 'Alan' });
    const lab = await readyLab(grace);
    writeFileSync(join(labDir(lab), 'fixed'), '');
    expect((await grace.call('POST', `/api/labs/${lab.id}/grade`)).body.report.verdict).toBe('pass');
    const members = async () => (await t.call('GET', `/api/trainer/cohorts/${c.id}`)).body.cohort.members;
    expect((await t.call('GET', `/api/trainer/cohorts/${c.id}/labs/${lab.id}`)).status).toBe(200);

    // The name as a URL path segment, in another case: matched as names are, case-insensitive.
    expect((await t.call('DELETE', `/api/trainer/cohorts/${c.id}/members/${encodeURIComponent('grace HOPPER')}`)).status).toBe(204);
    expect((await members()).map((m: { name: string }) => m.name)).toEqual(['Alan']);
    expect((await t.call('GET', `/trainer/cohorts/${c.id}/parts`)).body.board).not.toContain('Grace Hopper');
    expect((await grace.call('GET', `/api/cohorts/${c.id}`)).status).toBe(404);
    expect((await grace.call('GET', '/api/cohorts')).body.cohorts).toEqual([]);
    // No longer a member: the trainer cannot watch her lab; it and her progress are still hers.
    expect((await t.call('GET', `/api/trainer/cohorts/${c.id}/labs/${lab.id}`)).status).toBe(404);
    expect((await grace.call('GET', '/api/progress')).body.progress).toEqual([expect.objectContaining({ scenario: 'stand-in', passed: true })]);

    const unknown = await t.call('DELETE', `/api/trainer/cohorts/${c.id}/members/Grace%20Hopper`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toEqual({ code: 'member_not_found', message: 'No member "Grace Hopper" in the cohort "Platform team": its dashboard lists them by the names they joined with.' });

    // She joins again: last in, with what she did.
    expect((await grace.call('POST', '/api/cohorts/join', { code: c.code, name: 'Grace Hopper' })).status).toBe(200);
    const back = await members();
    expect(back.map((m: { name: string }) => m.name)).toEqual(['Alan', 'Grace Hopper']);
    expect(back[1].items[0]).toMatchObject({ ref: 'stand-in', state: 'solved' });
    // Once the cohort closed, a removed member cannot join again.
    expect((await t.call('DELETE', `/api/trainer/cohorts/${c.id}/members/Alan`)).status).toBe(204);
    expect((await t.call('PATCH', `/api/trainer/cohorts/${c.id}`, { closesAt: iso(Date.now() - 1000) })).body.cohort.window).toBe('closed');
    expect((await alan.call('POST', '/api/cohorts/join', { code: c.code, name: 'Alan' })).body.error.code).toBe('cohort_closed');
  });
});
