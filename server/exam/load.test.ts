import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SCENARIO_IDS } from '../../test/support/scenarios.ts';
import { ExamError, libraryScenarios, loadExam, loadExams, type ScenarioInfo } from './load.ts';

const dir = mkdtempSync(join(tmpdir(), 'netdojo-exams-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const scenarios: ScenarioInfo[] = [
  { id: 'dns', title: 'DNS', difficulty: 'beginner', minutes: 10, variants: { mode: ['scaled', 'crashed'] } },
  { id: 'route', title: 'Route', difficulty: 'advanced', minutes: 20, variants: {} },
];

/** Writes exams/<id>.yaml and returns the loader's message for it. */
async function problemsOf(id: string, text: string): Promise<string> {
  writeFileSync(join(dir, `${id}.yaml`), text);
  try {
    await loadExam(id, scenarios, dir);
  } catch (e) {
    expect(e).toBeInstanceOf(ExamError);
    return (e as ExamError).message;
  }
  throw new Error(`${id} loaded, but it is invalid`);
}

describe('exam files: errors name the file, the field, the line and what was expected', () => {
  it('bad values and unknown fields', async () => {
    const msg = await problemsOf('bad-fields', [
      'id: bad-fields',
      'title: Bad',
      'minutes: soon',
      'passMark: 150',
      'instructions: Go.',
      'colour: red',
      'tasks:',
      '  - { scenario: dns, weight: -1 }',
    ].join('\n'));
    expect(msg).toContain(join(dir, 'bad-fields.yaml'));
    expect(msg).toMatch(/minutes \(line 3\): .*expected number/);
    expect(msg).toMatch(/passMark \(line 4\): .*<=100/);
    expect(msg).toMatch(/\(top level\) \(line 1\): unknown field "colour"/);
    expect(msg).toMatch(/tasks\[0\]\.weight \(line 8\): .*>0/);
  });

  it('a missing field is reported where its parent is', async () => {
    const msg = await problemsOf('no-title', 'id: no-title\nminutes: 5\npassMark: 50\ninstructions: Go.\ntasks: [{ scenario: dns, weight: 1 }]\n');
    expect(msg).toMatch(/title \(line 1\): .*expected string/);
  });

  it('tasks name scenarios that exist and variants those scenarios have', async () => {
    const msg = await problemsOf('refs', [
      'id: refs',
      'title: Refs',
      'minutes: 30',
      'passMark: 66',
      'instructions: Go.',
      'tasks:',
      '  - scenario: nope',
      '    weight: 1',
      '  - scenario: dns',
      '    weight: 1',
      '    variant: { mode: sleepy, node: worker }',
    ].join('\n'));
    expect(msg).toMatch(/tasks\[0\]\.scenario \(line 7\): no scenario "nope"; available: dns, route/);
    expect(msg).toMatch(/tasks\[1\]\.variant\.mode \(line 11\): "sleepy" is not a value of dns's variant "mode"; one of: "scaled", "crashed"/);
    expect(msg).toMatch(/tasks\[1\]\.variant\.node \(line 11\): scenario dns has no variant "node"; its variants: mode/);
  });

  it('YAML syntax, an id that is not the file name, an exam that does not exist', async () => {
    expect(await problemsOf('yaml', 'id: [yaml\n')).toMatch(/YAML: /);
    expect(await problemsOf('list', '- a\n- b\n')).toMatch(/expected a mapping of fields \(id, title, minutes, passMark, instructions, tasks\)/);
    expect(await problemsOf('named', 'id: other\ntitle: T\nminutes: 5\npassMark: 50\ninstructions: Go.\ntasks: [{ scenario: route, weight: 2 }]\n'))
      .toMatch(/id \(line 1\): "other" must match its file name "named.yaml"/);
    await expect(loadExam('absent', scenarios, dir)).rejects.toThrow(/no exam "absent"; available: .*bad-fields/);
  });

  it('tasks or the whole library, one of the two', async () => {
    const head = 'title: T\nminutes: 5\npassMark: 50\ninstructions: Go.\n';
    expect(await problemsOf('neither', `id: neither\n${head}`)).toMatch(/\(top level\) \(line 1\): missing: tasks .*, or library/);
    expect(await problemsOf('both', `id: both\n${head}tasks: [{ scenario: dns, weight: 1 }]\nlibrary:\n  weights: { beginner: 1, intermediate: 2, advanced: 3 }\n`))
      .toMatch(/library \(line 8\): an exam has either tasks or library/);
    expect(await problemsOf('weights', `id: weights\n${head}library:\n  weights: { beginner: 1, advanced: 3 }\n`)).toMatch(/library\.weights\.intermediate \(line 7\): /);
    writeFileSync(join(dir, 'whole.yaml'), `id: whole\n${head}library:\n  weights: { beginner: 1, intermediate: 2, advanced: 3 }\n`);
    const whole = await loadExam('whole', scenarios, dir);
    expect(whole.tasks.map((t) => [t.scenario, t.weight])).toEqual([['dns', 1], ['route', 3]]);
    rmSync(join(dir, 'whole.yaml'));
  });

  it('one bad exam does not hide the good ones', async () => {
    writeFileSync(join(dir, 'good.yaml'), 'id: good\ntitle: Good\nminutes: 5\npassMark: 50\ninstructions: Go.\ntasks: [{ scenario: dns, weight: 2, variant: { mode: crashed } }]\n');
    const { exams, errors } = await loadExams(scenarios, dir);
    expect(exams.map((e) => e.spec.id)).toEqual(['good']);
    expect(exams[0].tasks[0]).toMatchObject({ scenario: 'dns', title: 'DNS', difficulty: 'beginner', weight: 2, variant: { mode: 'crashed' }, variants: { mode: ['scaled', 'crashed'] } });
    expect(errors.length).toBeGreaterThanOrEqual(5);
  });
});

describe('the shipped exams', () => {
  it('load, the full exam has every scenario weighted by difficulty, the drill three tasks in 30 minutes', async () => {
    const library = await libraryScenarios();
    const { exams, errors } = await loadExams(library);
    expect(errors.map((e) => e.message)).toEqual([]);
    const full = exams.find((e) => e.spec.id === 'full')!;
    expect(full.spec.minutes).toBe(120);
    expect(full.tasks.map((t) => t.scenario).sort()).toEqual(SCENARIO_IDS);
    const byDifficulty = { beginner: 8, intermediate: 11, advanced: 16 };
    for (const t of full.tasks) expect(t.weight, t.scenario).toBe(byDifficulty[t.difficulty]);
    const drill = exams.find((e) => e.spec.id === 'drill')!;
    expect(drill.spec.minutes).toBe(30);
    expect(drill.tasks).toHaveLength(3);
    expect(drill.tasks.some((t) => t.variant)).toBe(true);
  });
});
