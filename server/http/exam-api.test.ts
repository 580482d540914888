import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { untilPrints } from '../../test/support/until.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Schedule } from '../exam/attempt.ts';
import { loadExams, type ScenarioInfo } from '../exam/load.ts';
import { startServer, type RunningServer } from './server.ts';
import { Learner } from './test/client.ts';
import { standInBackend, type LocalLab, type StandIn } from './test/stand-in.ts';

// The exams' API through a real server on 127.0.0.1, port 0, over the stand-in backend: a task's lab
// is a temp directory whose checks pass once files exist in it (stand-in: `fixed`, 1 point;
// stand-in-2: `fixed` and `tidy`, 1 + 2 points). The attempts' timer is the test's to fire.

const SCENARIOS: ScenarioInfo[] = [
  { id: 'stand-in', title: 'Stand-in scenario', difficulty: 'beginner', minutes: 5, variants: {} },
  { id: 'stand-in-2', title: 'Second', difficulty: 'advanced', minutes: 5, variants: {} },
];
const EXAM = `id: practice
title: Practice exam
minutes: 30
passMark: 50
instructions: Fix *both* labs.
tasks:
  - { scenario: stand-in, weight: 30 }
  - { scenario: stand-in-2, weight: 70 }
`;

let dir: string;
let srv: RunningServer | null = null;
let backend: StandIn;
let timers: { at: number; fn: () => void; on: boolean }[];
const examTimer: Schedule = (at, fn) => {
  const t = { at, fn, on: true };
  timers.push(t);
  return () => { t.on = false; };
};
/** The deadline arrives. */
const timeIsUp = () => { for (const t of timers.splice(0)) if (t.on) t.fn(); };

const start = async (o: { limits?: object; now?: () => number } = {}) => {
  srv = await startServer({
    host: '127.0.0.1', port: 0, stateDir: dir, backend, limits: o.limits, log: () => {}, examTimer, now: o.now,
    exams: () => loadExams(SCENARIOS, join(dir, 'exams')),
  });
  return srv;
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'netdojo-exam-api-'));
  backend = standInBackend();
  timers = [];
  mkdirSync(join(dir, 'exams'));
  writeFileSync(join(dir, 'exams', 'practice.yaml'), EXAM);
});
afterEach(async () => {
  await srv?.close();
  srv = null;
  rmSync(dir, { recursive: true, force: true });
});

/** Starts the practice exam and waits until every task's lab is up. */
async function started(me: Learner, body: object = {}) {
  const c = await me.call('POST', '/api/exams/practice/attempts', body);
  expect(c.status, JSON.stringify(c.body)).toBe(202);
  const id = c.body.attempt.id as string;
  await expect.poll(async () => (await me.call('GET', `/api/attempts/${id}`)).body.attempt.status).toBe('running');
  return (await me.call('GET', `/api/attempts/${id}`)).body.attempt;
}
/** The stand-in directory behind task n's lab. */
const labDir = (a: { tasks: { lab: { id: string } }[] }, n: number) => (srv!.manager.find(a.tasks[n - 1].lab.id)!.lab as LocalLab).dir;

describe('exam API', () => {
  it('lists exams and refuses bad input, naming the field', async () => {
    const s = await start();
    const me = new Learner(s.url);
    const list = await me.call('GET', '/api/exams');
    expect(list.body.exams).toEqual([expect.objectContaining({
      id: 'practice', title: 'Practice exam', minutes: 30, passMark: 50, points: 100,
      tasks: [{ n: 1, scenario: 'stand-in', title: 'Stand-in scenario', difficulty: 'beginner', weight: 30 }, expect.objectContaining({ n: 2, weight: 70 })],
    })]);
    expect(list.body.exams[0].instructions.html).toContain('<em>both</em>');
    const unknown = await me.call('POST', '/api/exams/nope/attempts', {});
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toMatch(/No exam "nope"; one of: practice/);
    const badId = await me.call('POST', '/api/exams/NOT_AN_ID/attempts', {});
    expect(badId.status).toBe(400);
    expect(badId.body.error.message).toMatch(/^path: /);
    const minutes = await me.call('POST', '/api/exams/practice/attempts', { minutes: 'soon' });
    expect(minutes.status).toBe(400);
    expect(minutes.body.error.fields[0].path).toBe('body.minutes');
    const extra = await me.call('POST', '/api/exams/practice/attempts', { seed: 3 });
    expect(extra.status).toBe(400);
    expect(extra.body.error.message).toMatch(/seed/);
    expect((await me.call('GET', '/api/attempts/not-an-attempt')).status).toBe(400);
    expect((await me.call('POST', '/api/attempts/a0123456789a/tasks/x/check')).status).toBe(400);
    expect((await me.call('GET', '/api/attempts/a0123456789a')).status).toBe(404);
  });

  it('an attempt: labs for every task, Check per task with partial credit, finish grades all and stops the labs', async () => {
    const s = await start({ limits: { perUser: 1 } });
    const me = new Learner(s.url);
    const a = await started(me);
    expect(a).toMatchObject({ exam: 'practice', title: 'Practice exam', status: 'running', passMark: 50, points: 100, score: null });
    expect(a.deadline - a.startedAt).toBe(30 * 60_000);
    expect(a.tasks.map((t: { phase: string; weight: number }) => [t.phase, t.weight])).toEqual([['ready', 30], ['ready', 70]]);
    expect(a.tasks[0].lab.targets.map((t: { target: string }) => t.target)).toContain('control-plane');
    // Each task drew a seed of its own, and the two labs are distinct.
    const seeds = [...backend.labs.values()].map((l) => l.facts.seed);
    expect(new Set(seeds).size).toBe(2);

    // The exam's labs are not the learner's practice labs: the per-learner limit still allows one.
    expect((await me.call('GET', '/api/labs')).body.labs).toEqual([]);
    expect((await me.call('POST', '/api/labs', { scenario: 'stand-in' })).status).toBe(202);
    // No hints, solution or reset on an exam's lab; no second attempt while this one runs.
    const hint = await me.call('POST', `/api/labs/${a.tasks[0].lab.id}/hints`);
    expect(hint.status).toBe(409);
    expect(hint.body.error.code).toBe('exam_lab');
    expect((await me.call('POST', `/api/labs/${a.tasks[0].lab.id}/solution`)).status).toBe(409);
    expect((await me.call('POST', '/api/exams/practice/attempts', {})).body.error.code).toBe('attempt_running');

    // Someone else sees none of it.
    const other = new Learner(s.url);
    expect((await other.call('GET', `/api/attempts/${a.id}`)).status).toBe(404);
    expect((await other.call('POST', `/api/attempts/${a.id}/tasks/1/check`)).status).toBe(404);
    expect((await other.call('POST', `/api/attempts/${a.id}/finish`)).status).toBe(404);
    expect((await other.call('GET', '/api/attempts')).body.attempts).toEqual([]);

    // Task 1, fixed from its terminal, as a learner would.
    expect((await me.call('POST', `/api/attempts/${a.id}/tasks/1/focus`)).status).toBe(204);
    const t = me.terminal(a.tasks[0].lab.id, 'control-plane', a.tasks[0].lab.token);
    await t.opened();
    await t.untilText(/root@control-plane:~# $/m);
    t.type('cd "$LAB_DIR" && touch fixed && echo done-$((40+2))\r');
    await t.untilText(/^done-42$/m);
    await t.close();
    await untilPrints(async () => JSON.stringify((await me.call('GET', `/api/labs/${a.tasks[0].lab.id}/timeline`)).body), /touch fixed/, "task 1's timeline");
    const c1 = await me.call('POST', `/api/attempts/${a.id}/tasks/1/check`);
    expect(c1.status).toBe(200);
    expect(c1.body.task).toMatchObject({ n: 1, scenario: 'stand-in', weight: 30, score: 30, points: { earned: 1, possible: 1 } });
    expect(c1.body.report.verdict).toBe('pass');

    // Task 2, half done: `fixed` (1 point of 3), not `tidy`.
    writeFileSync(join(labDir(a, 2), 'fixed'), '');
    const c2 = await me.call('POST', `/api/attempts/${a.id}/tasks/2/check`);
    expect(c2.body.task).toMatchObject({ n: 2, weight: 70, score: 23.33, points: { earned: 1, possible: 3 } });
    expect(c2.body.task.checks.map((c: { id: string; pass: boolean }) => [c.id, c.pass])).toEqual([['fixed', true], ['tidy', false]]);
    expect((await me.call('POST', `/api/attempts/${a.id}/tasks/3/check`)).status).toBe(404);

    // The pages: the exam list names the running attempt, the attempt page each task and its last Check.
    expect((await me.call('GET', '/exams')).body).toContain(`href="/attempts/${a.id}"`);
    const running = await me.call('GET', `/attempts/${a.id}`);
    expect(running.status).toBe(200);
    expect(running.body).toContain('Task 2: Second');
    expect(running.body).toMatch(/data-status-of="2">23.33 \/ 70</);

    const dirs = [labDir(a, 1), labDir(a, 2)];
    const f = await me.call('POST', `/api/attempts/${a.id}/finish`);
    expect(f.status).toBe(200);
    const r = f.body.attempt;
    expect(r).toMatchObject({ id: a.id, status: 'finished', score: { earned: 53.33, possible: 100 }, percent: 53.3, passed: true, endReason: 'finished by the learner' });
    expect(r.tasks.map((x: { scenario: string; weight: number; score: number; graded: string }) => [x.scenario, x.weight, x.score, x.graded]))
      .toEqual([['stand-in', 30, 30, 'final'], ['stand-in-2', 70, 23.33, 'final']]);
    expect(r.tasks[1].checks[1]).toMatchObject({ id: 'tidy', pass: false, evidence: { command: 'test -f tidy', output: 'exit 1' } });
    expect(r.tasks[1].solution.steps[0].run).toBe('touch fixed');
    // Each task's timeline: what was typed in its lab, and its Checks.
    expect(r.tasks[0].timeline.entries.filter((e: { kind: string }) => e.kind !== 'started' && e.kind !== 'ready').map((e: { kind: string; target?: string; text: string }) => [e.kind, e.target ?? '', e.text]))
      .toEqual([['command', 'control-plane', 'cd "$LAB_DIR" && touch fixed && echo done-$((40+2))'], ['grade', '', 'Check: passed, 1/1'],
        // The grade that counts, taken as the attempt ended.
        ['grade', '', 'Check: passed, 1/1'], ['ended', '', 'Lab ended (the exam ended: finished by the learner)']]);
    // Time per task: task 1 from its focus to task 2's check, task 2 from then to the end.
    expect(r.tasks.every((x: { timeMs: number }) => x.timeMs > 0)).toBe(true);
    // The exam's labs are stopped: their directories are gone.
    expect(dirs.filter((d) => existsSync(d))).toEqual([]);

    // An ended attempt: checks refused, finishing again gives the same result, listed with its score.
    expect((await me.call('POST', `/api/attempts/${a.id}/tasks/1/check`)).body.error.code).toBe('attempt_finished');
    expect((await me.call('POST', `/api/attempts/${a.id}/finish`)).body.attempt.score).toEqual(r.score);
    expect((await me.call('GET', '/api/attempts')).body.attempts).toEqual([expect.objectContaining({ id: a.id, status: 'finished', percent: 53.3, passed: true })]);
    // The result page shows the score, each task's checks with evidence and the solution.
    const page = await me.call('GET', `/attempts/${a.id}/result`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('53.33 / 100');
    expect(page.body).toContain('test -f tidy');
    expect(page.body).toContain('Solution');
    expect(page.body).toMatch(/<section class="panel exam-task-result" id="task-1"[\s\S]*?<li class="timeline-command"><span class="timeline-clock">\d+:\d\d<\/span><span class="timeline-target">control-plane<\/span><code>cd &quot;\$LAB_DIR&quot; &amp;&amp; touch fixed/);
    expect((await me.call('GET', `/attempts/${a.id}`)).status).toBe(200); // redirected to the result
  });

  it('ends the attempt when its time is up, grading every task as it stands', async () => {
    const s = await start();
    const me = new Learner(s.url);
    const a = await started(me, { minutes: 5 });
    expect(a.deadline - a.startedAt).toBe(5 * 60_000);
    writeFileSync(join(labDir(a, 2), 'tidy'), '');
    timeIsUp();
    await expect.poll(async () => (await me.call('GET', `/api/attempts/${a.id}`)).body.attempt.status).toBe('finished');
    const r = (await me.call('GET', `/api/attempts/${a.id}`)).body.attempt;
    expect(r).toMatchObject({ endReason: 'time is up', score: { earned: 46.67, possible: 100 }, percent: 46.7, passed: false });
    expect(r.tasks.map((t: { score: number }) => t.score)).toEqual([0, 46.67]);
    // Nobody said which task was current (no page, no Check): no time per task.
    expect(r.tasks.map((t: { timeMs: null }) => t.timeMs)).toEqual([null, null]);
  });

  it('refuses an exam that does not fit the exam allowance, saying why', async () => {
    const s = await start({ limits: { examLabs: 1 } });
    const me = new Learner(s.url);
    const r = await me.call('POST', '/api/exams/practice/attempts', {});
    expect(r.status).toBe(503);
    expect(r.body.error).toMatchObject({ code: 'limit_exam_labs' });
    expect(r.body.error.message).toMatch(/needs 2 labs at once, more than the 1 this server allows for exams.*--max-exam-labs 2/);
  });

  it('shares the exam allowance between learners, and frees it when an attempt ends', async () => {
    const s = await start({ limits: { examLabs: 3 } });
    const a = new Learner(s.url), b = new Learner(s.url);
    const first = await started(a);
    const full = await b.call('POST', '/api/exams/practice/attempts', {});
    expect(full.status).toBe(503);
    expect(full.body.error.message).toMatch(/at most 3 exam labs at once and 2 are in use; this exam needs 2/);
    await a.call('POST', `/api/attempts/${first.id}/finish`);
    expect((await b.call('POST', '/api/exams/practice/attempts', {})).status).toBe(202);
  });

  it('keeps the deadline across a restart: the tasks come back, or the attempt is graded from the last Checks', async () => {
    await start();
    let me = new Learner(srv!.url);
    const a = await started(me);
    writeFileSync(join(labDir(a, 1), 'fixed'), '');
    expect((await me.call('POST', `/api/attempts/${a.id}/tasks/1/check`)).body.task.score).toBe(30);
    const cookie = me.cookie;

    // Restarted within the time: fresh labs for every task, the same deadline.
    await srv!.close();
    backend = standInBackend();
    await start();
    me = new Learner(srv!.url);
    me.cookie = cookie;
    await expect.poll(async () => (await me.call('GET', `/api/attempts/${a.id}`)).body.attempt.status).toBe('running');
    const b = (await me.call('GET', `/api/attempts/${a.id}`)).body.attempt;
    expect(b.deadline).toBe(a.deadline);
    expect(b.tasks.map((t: { lab: { id: string } }) => t.lab.id)).not.toEqual(a.tasks.map((t: { lab: { id: string } }) => t.lab.id));
    expect(b.tasks.every((t: { phase: string }) => t.phase === 'ready')).toBe(true);
    writeFileSync(join(labDir(b, 1), 'fixed'), '');
    expect((await me.call('POST', `/api/attempts/${a.id}/tasks/1/check`)).body.task.score).toBe(30);

    // Restarted after the deadline: graded from each task's last Check, its labs being gone.
    await srv!.close();
    backend = standInBackend();
    await start({ now: () => Date.now() + 31 * 60_000 });
    me = new Learner(srv!.url);
    me.cookie = cookie;
    const c = (await me.call('GET', `/api/attempts/${a.id}`)).body.attempt;
    expect(c).toMatchObject({ status: 'finished', endReason: 'time ran out while the server was down', score: { earned: 30, possible: 100 }, passed: false });
    expect(c.tasks.map((t: { graded: string }) => t.graded)).toEqual(['last-check', 'none']);
    expect(c.tasks[1].note).toMatch(/never checked/);
  });
});
