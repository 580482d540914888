import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ScenarioSpec } from '../scenario/schema.ts';
import { parseSpecFile, SpecFileError, type Problem } from '../util/spec-file.ts';
import { ExamSpec, type ExamTask } from './schema.ts';

// Exam files are checked like scenario files (errors name the file, the field and the line), and
// against the scenario library: every task's scenario must exist, and a pinned variant must be one
// the scenario has.

export const EXAMS_DIR = fileURLToPath(new URL('../../exams/', import.meta.url));

export class ExamError extends SpecFileError {
  constructor(file: string, problems: string[]) {
    super(file, problems);
    this.name = 'ExamError';
  }
}

/** What an exam needs to know of a scenario. */
export interface ScenarioInfo {
  id: string;
  title: string;
  difficulty: ScenarioSpec['difficulty'];
  minutes: number;
  variants: Record<string, (string | number)[]>;
}

export interface LoadedTask extends ExamTask {
  title: string;
  difficulty: ScenarioSpec['difficulty'];
  /** The scenario's variant space (seeds are drawn within it). */
  variants: Record<string, (string | number)[]>;
}

export interface LoadedExam { spec: ExamSpec; file: string; tasks: LoadedTask[] }

export interface ExamCatalog { exams: LoadedExam[]; errors: ExamError[] }

const DIFFICULTY_ORDER = ['beginner', 'intermediate', 'advanced'];

/** The exam's tasks: those it lists, or one per scenario of the library (easiest first). */
function tasksOf(spec: ExamSpec, scenarios: ScenarioInfo[]): ExamTask[] {
  if (!spec.library) return spec.tasks ?? [];
  const { weights } = spec.library;
  return [...scenarios]
    .sort((a, b) => DIFFICULTY_ORDER.indexOf(a.difficulty) - DIFFICULTY_ORDER.indexOf(b.difficulty) || a.id.localeCompare(b.id))
    .map((s) => ({ scenario: s.id, weight: weights[s.difficulty] }));
}

function crossReferences(spec: ExamSpec, scenarios: Map<string, ScenarioInfo>, id: string): Problem[] {
  const out: Problem[] = [];
  if (spec.id !== id) out.push({ path: ['id'], message: `"${spec.id}" must match its file name "${id}.yaml"` });
  if (spec.tasks && spec.library) out.push({ path: ['library'], message: 'an exam has either tasks or library (every scenario, weighted by difficulty), not both' });
  if (!spec.tasks && !spec.library) out.push({ path: [], message: 'missing: tasks (scenarios and their weights), or library (every scenario, weighted by difficulty)' });
  (spec.tasks ?? []).forEach((t, i) => {
    const s = scenarios.get(t.scenario);
    if (!s) {
      out.push({ path: ['tasks', i, 'scenario'], message: `no scenario "${t.scenario}"; available: ${[...scenarios.keys()].sort().join(', ') || '(none)'}` });
      return;
    }
    for (const [k, v] of Object.entries(t.variant ?? {})) {
      const values = s.variants[k];
      if (!values) out.push({ path: ['tasks', i, 'variant', k], message: `scenario ${s.id} has no variant "${k}"; its variants: ${Object.keys(s.variants).join(', ') || '(none)'}` });
      else if (!values.includes(v)) out.push({ path: ['tasks', i, 'variant', k], message: `${JSON.stringify(v)} is not a value of ${s.id}'s variant "${k}"; one of: ${values.map((x) => JSON.stringify(x)).join(', ')}` });
    }
  });
  return out;
}

export async function loadExam(id: string, scenarios: ScenarioInfo[], dir = EXAMS_DIR): Promise<LoadedExam> {
  const file = join(dir, `${id}.yaml`);
  const text = await readFile(file, 'utf8').catch(async () => {
    const known = await listExamFiles(dir);
    throw new ExamError(file, [`no exam "${id}"; available: ${known.join(', ') || '(none)'}`]);
  });
  const parsed = parseSpecFile(file, text, ExamSpec, { fields: 'id, title, minutes, passMark, instructions, tasks', error: ExamError });
  const byId = new Map(scenarios.map((s) => [s.id, s]));
  parsed.check(crossReferences(parsed.spec, byId, id));
  const tasks = tasksOf(parsed.spec, scenarios).map((t) => {
    const s = byId.get(t.scenario)!;
    return { ...t, title: s.title, difficulty: s.difficulty, variants: s.variants };
  });
  return { spec: parsed.spec, file, tasks };
}

async function listExamFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir).catch(() => []);
  return entries.filter((f) => f.endsWith('.yaml') && !f.startsWith('_') && !f.startsWith('.')).map((f) => f.slice(0, -5)).sort();
}

/** Every exam that loads, and the errors of those that do not. */
export async function loadExams(scenarios: ScenarioInfo[], dir = EXAMS_DIR): Promise<ExamCatalog> {
  const results = await Promise.allSettled((await listExamFiles(dir)).map((id) => loadExam(id, scenarios, dir)));
  return {
    exams: results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
    errors: results.flatMap((r) => (r.status === 'rejected' ? [r.reason instanceof ExamError ? r.reason : new ExamError(dir, [String(r.reason)])] : [])),
  };
}

/** The scenario library as exams see it. */
export async function libraryScenarios(): Promise<ScenarioInfo[]> {
  const { loadScenarios } = await import('../scenario/load.ts');
  return (await loadScenarios()).map(({ spec: s }) => ({ id: s.id, title: s.title, difficulty: s.difficulty, minutes: s.minutes, variants: s.variants }));
}
