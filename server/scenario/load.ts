import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import type { z } from 'zod';
import { describeIssue, parseSpecFile, SpecFileError, type Path } from '../util/spec-file.ts';
import { loadKindProofs, ProofsError, type KindProof } from './proofs.ts';
import { checkRunsOn, isStepList, PROVIDERS, ScenarioSpec } from './schema.ts';

// Scenario files are user input: every problem is reported with the file, the path inside it, the
// line, and what was expected, and one bad scenario never hides the others from the catalog.

export const SCENARIOS_DIR = fileURLToPath(new URL('../../scenarios/', import.meta.url));

export interface LoadedScenario {
  spec: ScenarioSpec;
  dir: string;
  /** brief.md, a handlebars template rendered with the lab's facts. */
  brief: string;
  /** solution.md: the explanation behind the machine-runnable solution steps. */
  solution: string;
  /** The scenario's manifests (templates), in the order listed. */
  manifests: { file: string; text: string }[];
}

export class ScenarioError extends SpecFileError {
  constructor(file: string, problems: string[]) {
    super(file, problems);
    this.name = 'ScenarioError';
  }
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_union' && 'note' in issue && issue.note === 'No matching discriminator') {
    return 'unknown or missing kind; expected one of: dns, tcp, http, icmp, mtu, negative, state';
  }
  return describeIssue(issue);
}

/** Template strings are checked when the file loads, not when a learner's lab renders them. */
function templateProblems(value: unknown, path: Path, out: { path: Path; message: string }[]): void {
  if (typeof value === 'string') {
    if (!value.includes('{{')) return;
    try {
      Handlebars.precompile(value);
    } catch (e) {
      out.push({ path, message: `bad template: ${(e as Error).message.split('\n')[0]}` });
    }
  } else if (Array.isArray(value)) value.forEach((v, i) => templateProblems(v, [...path, i], out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) templateProblems(v, [...path, k], out);
}

function crossReferences(spec: ScenarioSpec): { path: Path; message: string }[] {
  const out: { path: Path; message: string }[] = [];
  const ids = new Set<string>();
  spec.checks.forEach((c, i) => {
    if (ids.has(c.id)) out.push({ path: ['checks', i, 'id'], message: `duplicate check id "${c.id}"` });
    ids.add(c.id);
    (c.providers ?? []).forEach((p, j) => {
      if (!spec.providers.includes(p)) out.push({ path: ['checks', i, 'providers', j], message: `"${p}" is not one of the scenario's providers (${spec.providers.join(', ')})` });
    });
  });
  const target = 'needs `broken: <STATE>` (what the break must cause), or a matrix `broken: ["<source> <target>"]`';
  // A matrix's `broken` defaults to no pairs, which makes it no target.
  const isTarget = (c: (typeof spec.checks)[number]) => (Array.isArray(c.broken) ? c.broken.length > 0 : c.broken !== undefined);
  if (!spec.checks.some(isTarget)) out.push({ path: ['checks'], message: `no target check: at least one check ${target}` });
  for (const p of spec.providers) {
    if (spec.checks.some(isTarget) && !spec.checks.some((c) => isTarget(c) && checkRunsOn(c, p))) {
      out.push({ path: ['checks'], message: `no target check on ${p}: at least one check graded on ${p} ${target}` });
    }
    for (const k of ['setup', 'break', 'solution'] as const) {
      const v = spec[k];
      if (!isStepList(v) && !v[p]) out.push({ path: [k, p], message: `missing: providers lists ${p}, so ${k} steps for ${p} are required (or write the steps once, for every provider, as a list)` });
    }
    spec.checks.forEach((c, i) => {
      if (c.kind === 'state' && typeof c.run === 'object' && checkRunsOn(c, p) && !c.run[p]) {
        out.push({ path: ['checks', i, 'run', p], message: `missing: providers lists ${p} and check "${c.id}" is graded there, so its run needs a ${p} script (or give the check \`providers:\` without ${p})` });
      }
    });
  }
  // A per-provider attempt that skips a provider it applies to would pass as proven there without running.
  (['accepts', 'rejects'] as const).forEach((k) => spec[k].forEach((a, i) => {
    (a.providers ?? []).forEach((p, j) => {
      if (!spec.providers.includes(p)) out.push({ path: [k, i, 'providers', j], message: `"${p}" is not one of the scenario's providers (${spec.providers.join(', ')})` });
    });
    if (isStepList(a.steps)) return;
    for (const p of spec.providers) {
      if (checkRunsOn(a, p) && !a.steps[p]) out.push({ path: [k, i, 'steps', p], message: `missing: this attempt applies to ${p}, so it needs ${p} steps (or \`providers:\` without ${p}, or one list of steps for every provider)` });
    }
  }));
  const byId = new Map(spec.checks.map((c) => [c.id, c]));
  (['accepts', 'rejects'] as const).forEach((k) => spec[k].forEach((a, i) => (a.fails ?? []).forEach((id, j) => {
    const c = byId.get(id);
    if (!c) {
      out.push({ path: [k, i, 'fails', j], message: `unknown check id "${id}"; expected one of: ${[...ids].join(', ')}` });
      return;
    }
    for (const p of PROVIDERS) {
      const has = isStepList(a.steps) ? checkRunsOn(a, p) : Boolean(a.steps[p]);
      if (has && spec.providers.includes(p) && !checkRunsOn(c, p)) {
        out.push({ path: [k, i, 'fails', j], message: `check "${id}" is not graded on ${p} (its providers: ${c.providers!.join(', ')}), so the ${p} steps of this attempt cannot fail it` });
      }
    }
  })));
  return out;
}

export async function loadScenario(id: string, dir = SCENARIOS_DIR): Promise<LoadedScenario> {
  const sdir = join(dir, id);
  const file = join(sdir, 'scenario.yaml');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    const known = await listScenarioDirs(dir);
    if (known.includes(id)) throw new ScenarioError(file, ['missing: every scenario directory needs a scenario.yaml']);
    throw new ScenarioError(file, [`no scenario "${id}"; available: ${known.join(', ') || '(none)'}`]);
  }
  const parsed = parseSpecFile(file, text, ScenarioSpec, { fields: 'id, title, checks, ...', error: ScenarioError, describe });
  const spec = parsed.spec;
  const problems = crossReferences(spec);
  const manifests: { file: string; text: string }[] = [];
  for (const [i, f] of spec.manifests.entries()) {
    const mtext = await readFile(join(sdir, f), 'utf8').catch(() => undefined);
    if (mtext === undefined) problems.push({ path: ['manifests', i], message: `no file ${f} beside scenario.yaml` });
    else { manifests.push({ file: f, text: mtext }); templateProblems(mtext, ['manifests', i], problems); }
  }
  templateProblems({ setup: spec.setup, break: spec.break, solution: spec.solution, checks: spec.checks, hints: spec.hints, accepts: spec.accepts, rejects: spec.rejects }, [], problems);
  if (spec.id !== id) problems.push({ path: ['id'], message: `"${spec.id}" must match its directory name "${id}"` });
  parsed.check(problems);
  const brief = await readFile(join(sdir, 'brief.md'), 'utf8').catch(() => { throw new ScenarioError(join(sdir, 'brief.md'), ['missing: every scenario needs a brief.md (the briefing learners read)']); });
  const solution = await readFile(join(sdir, 'solution.md'), 'utf8').catch(() => '');
  for (const [name, tpl] of [['brief.md', brief], ['solution.md', solution]]) {
    try { Handlebars.precompile(tpl); } catch (e) { throw new ScenarioError(join(sdir, name), [`bad template: ${(e as Error).message.split('\n')[0]}`]); }
  }
  return { spec, dir: sdir, brief, solution, manifests };
}

async function listScenarioDirs(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && !e.name.startsWith('_') && !e.name.startsWith('.')).map((e) => e.name).sort();
}

export interface Catalog {
  scenarios: LoadedScenario[];
  errors: SpecFileError[];
  /** Scenarios proven on a real kind cluster (server/scenario/proofs.ts). */
  kindProofs: Map<string, KindProof>;
}

/** Every scenario that loads, and the errors of those that do not (and of the kind proofs' file). */
export async function loadCatalog(dir = SCENARIOS_DIR): Promise<Catalog> {
  const ids = await listScenarioDirs(dir);
  const results = await Promise.allSettled(ids.map((id) => loadScenario(id, dir)));
  const errors: SpecFileError[] = results.flatMap((r) => (r.status === 'rejected' ? [r.reason instanceof ScenarioError ? r.reason : new ScenarioError(dir, [String(r.reason)])] : []));
  const kindProofs = await loadKindProofs(dir, ids).catch((e) => { errors.push(e instanceof SpecFileError ? e : new ProofsError(dir, [String(e)])); return new Map<string, KindProof>(); });
  return { scenarios: results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])), errors, kindProofs };
}

/** The providers a scenario runs on whose steps have not been proven there (kind until recorded). */
export function unprovenOn(spec: Pick<ScenarioSpec, 'id' | 'providers'>, kindProofs: ReadonlyMap<string, KindProof>): ('netns' | 'kind')[] {
  return spec.providers.filter((p) => p === 'kind' && !kindProofs.has(spec.id));
}

export async function loadScenarios(dir = SCENARIOS_DIR): Promise<LoadedScenario[]> {
  return (await loadCatalog(dir)).scenarios;
}
