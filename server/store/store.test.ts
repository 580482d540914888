import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { GradeReport } from '../../grader/types.ts';
import Database from 'better-sqlite3';
import { COMMANDS_KEPT_PER_LAB, MIGRATIONS, SqliteStore } from './store.ts';

const dirs: string[] = [];
const file = () => {
  const d = mkdtempSync(join(tmpdir(), 'netdojo-store-'));
  dirs.push(d);
  return join(d, 'nested', 'progress.db');
};
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

const report = (earned: number, possible: number): GradeReport => ({
  lab: 'x', scenario: 's', verdict: earned === possible ? 'pass' : 'fail', score: { earned, possible }, checks: [],
  matrix: { sources: [], targets: [], cells: {} }, ms: 5,
});

describe('progress store', () => {
  it('aggregates attempts, grades, best score, hints, reveals and time per scenario', () => {
    const s = new SqliteStore(file());
    s.labStarted({ id: 'la', user: 'u1', scenario: 'dns', provider: 'netns', seed: 1 }, 1_000);
    s.recordGrade('la', 'u1', report(1, 4), 2_000);
    s.recordHint('la', 'u1', 0, 2_500);
    s.recordHint('la', 'u1', 0, 2_600); // the same hint twice counts once
    s.labEnded('la', 'stopped', 61_000);
    s.labStarted({ id: 'lb', user: 'u1', scenario: 'dns', provider: 'netns', seed: 2 }, 100_000);
    s.recordGrade('lb', 'u1', report(3, 4), 110_000);
    s.recordGrade('lb', 'u1', report(4, 4), 120_000);
    s.recordReveal('lb', 'u1', 115_000);
    s.labActive('lb', 130_000);
    s.labStarted({ id: 'lc', user: 'u2', scenario: 'dns', provider: 'netns', seed: 3 }, 1_000);
    expect(s.progress('u1')).toEqual([{
      scenario: 'dns', attempts: 2, grades: 3, passed: true, firstPassAt: 120_000, bestScore: { earned: 4, possible: 4 }, lastScore: { earned: 4, possible: 4 },
      hintsRevealed: 1, solutionRevealed: 1, timeSpentMs: 60_000 + 30_000,
    }]);
    expect(s.progress('u2')[0]).toMatchObject({ attempts: 1, grades: 0, passed: false, bestScore: null });
    expect(s.hints('la')).toEqual([0]);
    expect(s.revealed('lb')).toBe(true);
    expect(s.grades('lb').map((g) => g.report.score.earned)).toEqual([3, 4]);
    s.close();
  });

  it('keeps everything across reopening, and lists labs left open (a crash)', () => {
    const f = file();
    const a = new SqliteStore(f);
    a.labStarted({ id: 'lopen1', user: 'u1', scenario: 'mtu', provider: 'netns', seed: 9 });
    a.labStarted({ id: 'ldone1', user: 'u1', scenario: 'mtu', provider: 'netns', seed: 9 });
    a.labEnded('ldone1', 'stopped');
    a.recordGrade('ldone1', 'u1', report(2, 2));
    a.close();
    const b = new SqliteStore(f);
    expect(b.openLabs().map((l) => l.id)).toEqual(['lopen1']);
    expect(b.progress('u1')[0]).toMatchObject({ scenario: 'mtu', attempts: 2, passed: true });
    b.labEnded('lopen1', 'server restarted');
    b.labEnded('lopen1', 'again'); // the first end reason stays
    expect(b.lab('lopen1')?.endReason).toBe('server restarted');
    b.close();
  });

  it('keeps a lab\'s commands, hints and reveal with their times, and only the first commands of a runaway', () => {
    const s = new SqliteStore(file());
    s.labStarted({ id: 'la', user: 'u1', scenario: 'dns', provider: 'netns', seed: 1 }, 1_000);
    s.recordCommand('la', 'u1', { at: 3_000, target: 'worker', command: 'ip route' });
    s.recordCommand('la', 'u1', { at: 2_000, target: 'control-plane', command: 'kubectl get pods -A' });
    s.recordHint('la', 'u1', 1, 5_000);
    s.recordHint('la', 'u1', 0, 4_000);
    s.recordReveal('la', 'u1', 6_000);
    expect(s.activity('la')).toEqual({
      commands: [{ at: 2_000, target: 'control-plane', command: 'kubectl get pods -A' }, { at: 3_000, target: 'worker', command: 'ip route' }],
      hints: [{ index: 0, at: 4_000 }, { index: 1, at: 5_000 }],
      revealedAt: 6_000,
    });
    for (let i = 0; i < COMMANDS_KEPT_PER_LAB + 5; i++) s.recordCommand('la', 'u1', { at: 10_000 + i, target: 'worker', command: `echo ${i}` });
    const kept = s.activity('la').commands;
    expect(kept).toHaveLength(COMMANDS_KEPT_PER_LAB);
    expect(kept.at(-1)?.command).toBe(`echo ${COMMANDS_KEPT_PER_LAB - 3}`);
    expect(s.activity('nolab')).toEqual({ commands: [], hints: [], revealedAt: null });
    s.close();
  });

  it('upgrades a database of an earlier version in place, keeping its rows', () => {
    const f = file();
    new SqliteStore(f).close(); // makes the directory
    // As migration 2 (the exams) left it: no commands, no trainers or cohorts yet.
    const old = new Database(f);
    old.exec('DROP TABLE commands; DROP TABLE cohort_members; DROP TABLE cohort_items; DROP TABLE cohorts; DROP TABLE trainer_links; DROP TABLE trainers');
    old.prepare('INSERT INTO users (id, created_at) VALUES (?, ?)').run('u0', 1);
    old.pragma('user_version = 2');
    old.close();
    const a = new SqliteStore(f);
    expect(a.progress('u0')).toEqual([]);
    a.labStarted({ id: 'la', user: 'u1', scenario: 'dns', provider: 'netns', seed: 1 }, 1_000);
    a.recordCommand('la', 'u1', { at: 2_000, target: 'worker', command: 'ip route' });
    expect(a.activity('la').commands).toHaveLength(1);
    a.cohorts.addTrainer({ id: 't000000000001', name: 'ada', password: null });
    expect(a.cohorts.trainerByName('ada')?.id).toBe('t000000000001');
    a.close();
  });
});
