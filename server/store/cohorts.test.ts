import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatAccessCode, hashPassword, hashToken, newAccessCode, normalizeAccessCode, verifyPassword } from '../cohorts/secrets.ts';
import { addTrainer, linkSignIn, newLoginLink, passwordSignIn, LINK_TTL_MS } from '../cohorts/trainers.ts';
import { NameTaken } from './cohorts.ts';
import { SqliteStore } from './store.ts';

const dirs: string[] = [];
const file = () => {
  const d = mkdtempSync(join(tmpdir(), 'netdojo-cohorts-'));
  dirs.push(d);
  return join(d, 'progress.db');
};
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

const cohort = (id: string, trainer: string, code: string) => ({
  id, trainer, name: `cohort ${id}`, code, opensAt: 1_000, closesAt: 9_000,
  items: [{ kind: 'scenario' as const, ref: 'coredns-down' }, { kind: 'exam' as const, ref: 'drill' }],
});

describe('trainers and cohorts in the store', () => {
  it('keeps a trainer\'s password as an scrypt hash, and signs in only with the right one', async () => {
    const s = new SqliteStore(file());
    const t = await addTrainer(s.cohorts, 'ada', 'correct horse');
    expect(t.password).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(t.password).not.toContain('correct horse');
    expect((await passwordSignIn(s.cohorts, 'ada', 'correct horse'))?.id).toBe(t.id);
    expect(await passwordSignIn(s.cohorts, 'ada', 'Correct horse')).toBeNull();
    expect(await passwordSignIn(s.cohorts, 'eve', 'correct horse')).toBeNull();
    // A trainer made without a password signs in by link only.
    await addTrainer(s.cohorts, 'bob', null);
    expect(await passwordSignIn(s.cohorts, 'bob', '')).toBeNull();
    await expect(addTrainer(s.cohorts, 'ada', null)).rejects.toThrow(/already a trainer "ada"/);
    await expect(addTrainer(s.cohorts, 'Ada Lovelace', null)).rejects.toThrow(/is not a trainer name/);
    await expect(addTrainer(s.cohorts, 'cy', 'short')).rejects.toThrow(/at least 8 characters/);
    expect(await verifyPassword('x', await hashPassword('x'))).toBe(true);
    expect(await verifyPassword('x', 'plain')).toBe(false);
    s.close();
  });

  it('keeps only the hash of a login link, which works once, until it expires, and until a newer one', async () => {
    const s = new SqliteStore(file());
    await addTrainer(s.cohorts, 'ada', null);
    const a = newLoginLink(s.cohorts, 'ada', 10_000);
    const token = a.path.split('/').pop()!;
    expect(a.expiresAt).toBe(10_000 + LINK_TTL_MS);
    expect(s.cohorts.useLink(token, 10_001)).toBeNull(); // the token itself is not what is stored
    expect(linkSignIn(s.cohorts, token, 10_000 + LINK_TTL_MS)).toBeNull(); // expired
    const b = newLoginLink(s.cohorts, 'ada', 20_000).path.split('/').pop()!;
    const c = newLoginLink(s.cohorts, 'ada', 20_001).path.split('/').pop()!;
    expect(linkSignIn(s.cohorts, b, 20_002)).toBeNull(); // replaced by c
    expect(linkSignIn(s.cohorts, c, 20_002)?.name).toBe('ada');
    expect(linkSignIn(s.cohorts, c, 20_003)).toBeNull(); // used
    expect(s.cohorts.useLink(hashToken(c), 20_004)).toBeNull();
    expect(() => newLoginLink(s.cohorts, 'nobody')).toThrow(/no trainer "nobody"/);
    s.close();
  });

  it('keeps cohorts with their assignment in order, and members by their learner id, across reopening', async () => {
    const f = file();
    const s = new SqliteStore(f);
    const ada = await addTrainer(s.cohorts, 'ada', null);
    const bob = await addTrainer(s.cohorts, 'bob', null);
    s.cohorts.createCohort(cohort('c000000000001', ada.id, 'AAAABBBBCCCC'), 100);
    s.cohorts.createCohort(cohort('c000000000002', ada.id, 'DDDDEEEEFFFF'), 200);
    s.cohorts.createCohort(cohort('c000000000003', bob.id, 'GGGGHHHHJJJJ'), 300);
    expect(() => s.cohorts.createCohort(cohort('c000000000004', bob.id, 'AAAABBBBCCCC'))).toThrow(/UNIQUE/);
    s.cohorts.join({ cohort: 'c000000000001', user: 'u1', name: 'Grace', joinedAt: 1_000 });
    s.cohorts.join({ cohort: 'c000000000001', user: 'u2', name: 'Alan', joinedAt: 1_100 });
    s.cohorts.join({ cohort: 'c000000000002', user: 'u1', name: 'Grace', joinedAt: 1_200 });
    expect(() => s.cohorts.join({ cohort: 'c000000000001', user: 'u3', name: 'grace', joinedAt: 1_300 })).toThrow(NameTaken);
    // Joining again renames, and keeps when they joined.
    s.cohorts.join({ cohort: 'c000000000001', user: 'u2', name: 'Alan T.', joinedAt: 9_999 });
    s.close();

    const r = new SqliteStore(f);
    expect(r.cohorts.cohortsOf(ada.id).map((c) => c.id)).toEqual(['c000000000002', 'c000000000001']);
    expect(r.cohorts.cohortByCode('GGGGHHHHJJJJ')).toMatchObject({ id: 'c000000000003', trainer: bob.id, opensAt: 1_000, closesAt: 9_000, createdAt: 300,
      items: [{ kind: 'scenario', ref: 'coredns-down' }, { kind: 'exam', ref: 'drill' }] });
    expect(r.cohorts.members('c000000000001')).toEqual([
      { cohort: 'c000000000001', user: 'u1', name: 'Grace', joinedAt: 1_000 },
      { cohort: 'c000000000001', user: 'u2', name: 'Alan T.', joinedAt: 1_100 },
    ]);
    expect(r.cohorts.memberships('u1').map((m) => m.cohort.id)).toEqual(['c000000000002', 'c000000000001']);
    expect(r.cohorts.member('c000000000003', 'u1')).toBeUndefined();
    r.close();
  });

  it('edits a cohort\'s name, window and assignment in place, keeping its code, trainer and creation time', async () => {
    const s = new SqliteStore(file());
    const ada = await addTrainer(s.cohorts, 'ada', null);
    s.cohorts.createCohort(cohort('c000000000001', ada.id, 'AAAABBBBCCCC'), 100);
    s.cohorts.join({ cohort: 'c000000000001', user: 'u1', name: 'Grace', joinedAt: 1_000 });
    const items = [{ kind: 'exam' as const, ref: 'drill' }, { kind: 'scenario' as const, ref: 'mtu' }, { kind: 'scenario' as const, ref: 'coredns-down' }];
    expect(s.cohorts.updateCohort('c000000000001', { name: 'Renamed', opensAt: 2_000, closesAt: 3_000, items })).toEqual({
      id: 'c000000000001', trainer: ada.id, name: 'Renamed', code: 'AAAABBBBCCCC', opensAt: 2_000, closesAt: 3_000, createdAt: 100, items });
    expect(s.cohorts.cohortByCode('AAAABBBBCCCC')?.items).toEqual(items);
    expect(s.cohorts.members('c000000000001').map((m) => m.name)).toEqual(['Grace']);
    expect(s.cohorts.updateCohort('c000000000009', { name: 'x', opensAt: 1, closesAt: 2, items })).toBeUndefined();
    s.close();
  });

  it('deletes a cohort with its assignment and memberships, and nothing of its members or other cohorts', async () => {
    const s = new SqliteStore(file());
    const ada = await addTrainer(s.cohorts, 'ada', null);
    s.cohorts.createCohort(cohort('c000000000001', ada.id, 'AAAABBBBCCCC'), 100);
    s.cohorts.createCohort(cohort('c000000000002', ada.id, 'DDDDEEEEFFFF'), 200);
    s.cohorts.join({ cohort: 'c000000000001', user: 'u1', name: 'Grace', joinedAt: 1_000 });
    s.cohorts.join({ cohort: 'c000000000002', user: 'u1', name: 'Grace', joinedAt: 1_100 });
    s.labStarted({ id: 'la', user: 'u1', scenario: 'coredns-down', provider: 'netns', seed: 1 }, 1_000);
    s.recordHint('la', 'u1', 0, 1_500);
    expect(s.cohorts.deleteCohort('c000000000001')).toBe(true);
    expect(s.cohorts.cohort('c000000000001')).toBeUndefined();
    expect(s.cohorts.cohortByCode('AAAABBBBCCCC')).toBeUndefined();
    expect(s.cohorts.members('c000000000001')).toEqual([]);
    expect(s.cohorts.memberships('u1').map((m) => m.cohort.id)).toEqual(['c000000000002']);
    expect(s.cohorts.cohort('c000000000002')?.items).toHaveLength(2);
    expect(s.labsOf('u1').map((l) => l.id)).toEqual(['la']);
    expect(s.progress('u1').map((p) => [p.scenario, p.hintsRevealed])).toEqual([['coredns-down', 1]]);
    expect(s.cohorts.deleteCohort('c000000000001')).toBe(false);
    // Its code may be drawn again for a new cohort.
    expect(s.cohorts.createCohort(cohort('c000000000003', ada.id, 'AAAABBBBCCCC')).code).toBe('AAAABBBBCCCC');
    s.close();
  });

  it('removes a member by display name, in any case, who may join again', async () => {
    const s = new SqliteStore(file());
    const ada = await addTrainer(s.cohorts, 'ada', null);
    s.cohorts.createCohort(cohort('c000000000001', ada.id, 'AAAABBBBCCCC'), 100);
    s.cohorts.createCohort(cohort('c000000000002', ada.id, 'DDDDEEEEFFFF'), 200);
    s.cohorts.join({ cohort: 'c000000000001', user: 'u1', name: 'Grace', joinedAt: 1_000 });
    s.cohorts.join({ cohort: 'c000000000001', user: 'u2', name: 'Alan', joinedAt: 1_100 });
    s.cohorts.join({ cohort: 'c000000000002', user: 'u1', name: 'Grace', joinedAt: 1_200 });
    expect(s.cohorts.removeMember('c000000000001', 'gRACE')).toEqual({ cohort: 'c000000000001', user: 'u1', name: 'Grace', joinedAt: 1_000 });
    expect(s.cohorts.removeMember('c000000000001', 'Grace')).toBeUndefined();
    expect(s.cohorts.removeMember('c000000000001', 'Nobody')).toBeUndefined();
    expect(s.cohorts.members('c000000000001').map((m) => m.name)).toEqual(['Alan']);
    expect(s.cohorts.member('c000000000002', 'u1')?.name).toBe('Grace');
    s.cohorts.join({ cohort: 'c000000000001', user: 'u1', name: 'Grace', joinedAt: 2_000 });
    expect(s.cohorts.member('c000000000001', 'u1')?.joinedAt).toBe(2_000);
    s.close();
  });

  it('makes access codes of three groups of four base32 characters, read back as people type them', () => {
    const codes = new Set(Array.from({ length: 200 }, () => newAccessCode()));
    expect(codes.size).toBe(200);
    for (const c of codes) {
      expect(c).toMatch(/^[0-9A-HJKMNP-TV-Z]{12}$/);
      expect(formatAccessCode(c)).toMatch(/^.{4}-.{4}-.{4}$/);
      expect(normalizeAccessCode(formatAccessCode(c).toLowerCase())).toBe(c);
    }
    expect(normalizeAccessCode(' 7kq2 m9xd-4tlr ')).toBe('7KQ2M9XD4T1R');
    expect(normalizeAccessCode('OOOO-IIII-LLLL')).toBe('000011111111');
    expect(normalizeAccessCode('7KQ2-M9XD')).toBeNull();
    expect(normalizeAccessCode('7KQ2-M9XD-4TUR')).toBeNull(); // U is not in the alphabet
  });
});
