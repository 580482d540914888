import Database from 'better-sqlite3';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AttemptResult } from '../exam/score.ts';
import { MIGRATIONS, SqliteStore } from './store.ts';

const dirs: string[] = [];
const file = () => {
  const d = mkdtempSync(join(tmpdir(), 'netdojo-store-'));
  dirs.push(d);
  return join(d, 'progress.db');
};
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

const tasks = [
  { n: 1, scenario: 'coredns-down', weight: 30, seed: 11, lab: 'lone00001' },
  { n: 2, scenario: 'missing-route', weight: 70, seed: 22, lab: 'ltwo00002' },
];
const result = (earned: number): AttemptResult => ({
  score: { earned, possible: 100 }, percent: earned, passed: earned >= 66, passMark: 66, reason: 'finished by the learner', finishedAt: 9_000,
  tasks: [],
});

describe('exam attempts in the progress store', () => {
  it('keeps an attempt, its tasks, task switches and its result, per learner, across reopening', () => {
    const f = file();
    const a = new SqliteStore(f);
    a.exams.attemptStarted({ id: 'a1', user: 'u1', exam: 'drill', title: 'Drill', runner: 'web', passMark: 66, startedAt: 1_000, deadline: 1_801_000, tasks });
    a.exams.attemptStarted({ id: 'a2', user: 'u1', exam: 'full', title: 'Full', runner: 'cli', passMark: 66, startedAt: 2_000, deadline: 7_202_000, tasks: tasks.slice(0, 1) });
    a.exams.attemptStarted({ id: 'a3', user: 'u2', exam: 'drill', title: 'Drill', runner: 'web', passMark: 66, startedAt: 3_000, deadline: 1_803_000, tasks });
    a.exams.taskSwitched('a1', 1, 1_500);
    a.exams.taskSwitched('a1', 2, 2_500);
    a.exams.taskLab('a1', 2, 'lnew00003');
    expect(a.exams.openAttempts('web').map((x) => x.id)).toEqual(['a1', 'a3']);
    expect(a.exams.finishRequested('a1', 5_000)).toBe(true);
    expect(a.exams.finishRequested('a1', 6_000)).toBe(true); // the first request's time stays
    a.exams.attemptFinished('a1', result(70));
    a.exams.attemptFinished('a1', result(10)); // a result is final
    expect(a.exams.finishRequested('a1')).toBe(false);
    a.close();

    const b = new SqliteStore(f);
    expect(b.exams.attemptsOf('u1').map((x) => x.id)).toEqual(['a2', 'a1']);
    const one = b.exams.attempt('a1')!;
    expect(one).toMatchObject({
      user: 'u1', exam: 'drill', runner: 'web', passMark: 66, startedAt: 1_000, deadline: 1_801_000, finishRequestedAt: 5_000, finishedAt: 9_000,
      endReason: 'finished by the learner', score: { earned: 70, possible: 100 }, percent: 70, passed: true,
    });
    expect(one.result).toEqual(result(70));
    expect(one.tasks).toEqual([tasks[0], { ...tasks[1], lab: 'lnew00003' }]);
    expect(b.exams.switches('a1')).toEqual([{ n: 1, at: 1_500 }, { n: 2, at: 2_500 }]);
    expect(b.exams.attempt('a2')).toMatchObject({ runner: 'cli', finishedAt: null, score: null, passed: null, result: null });
    expect(b.exams.openAttempts('web').map((x) => x.id)).toEqual(['a3']);
    expect(b.exams.attempt('nope')).toBeUndefined();
    b.close();
  });

  it('migrates a database made before exams existed, keeping its progress', () => {
    const f = file();
    const old = new Database(f);
    old.exec(MIGRATIONS[0]);
    old.pragma('user_version = 1');
    old.prepare('INSERT INTO users (id, created_at) VALUES (?, ?)').run('u1', 1);
    old.prepare('INSERT INTO labs (id, user_id, scenario, provider, seed, created_at, last_active) VALUES (?, ?, ?, ?, ?, ?, ?)').run('lold00001', 'u1', 'mtu', 'netns', 3, 10, 20);
    old.close();
    const s = new SqliteStore(f);
    expect(s.lab('lold00001')).toMatchObject({ user: 'u1', scenario: 'mtu' });
    s.exams.attemptStarted({ id: 'a1', user: 'u1', exam: 'drill', title: 'Drill', runner: 'web', passMark: 66, startedAt: 1, deadline: 2, tasks });
    expect(s.exams.attemptsOf('u1')).toHaveLength(1);
    s.close();
    const check = new Database(f);
    expect(check.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    check.close();
  });

  it("leaves an exam task's lab out of the learner's practice progress", () => {
    const s = new SqliteStore(file());
    s.labStarted({ id: 'lone00001', user: 'u1', scenario: 'coredns-down', provider: 'netns', seed: 11 }, 1_000);
    s.exams.attemptStarted({ id: 'a1', user: 'u1', exam: 'drill', title: 'Drill', runner: 'web', passMark: 66, startedAt: 1_000, deadline: 1_801_000, tasks: tasks.slice(0, 1) });
    s.recordGrade('lone00001', 'u1', { lab: 'lone00001', scenario: 'coredns-down', verdict: 'pass', score: { earned: 3, possible: 3 }, checks: [], matrix: { sources: [], targets: [], cells: {} }, ms: 5 }, 2_000);
    expect(s.progress('u1')).toEqual([]);
    s.labStarted({ id: 'lprac0001', user: 'u1', scenario: 'coredns-down', provider: 'netns', seed: 12 }, 3_000);
    s.labEnded('lprac0001', 'stopped', 13_000);
    expect(s.progress('u1')).toEqual([expect.objectContaining({ scenario: 'coredns-down', attempts: 1, grades: 0, passed: false, timeSpentMs: 10_000 })]);
    s.close();
  });
});
