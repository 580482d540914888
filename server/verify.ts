import { existsSync } from 'node:fs';
import { gradeLab, expectBroken, STATES, type GradeReport, type State, type Check } from '../grader/index.ts';
import { labDir } from './lab/naming.ts';
import { breakLab, createLab, destroyLab, runSteps, solveLab, type LabSession } from './lab/session.ts';
import type { ProgressFn, ProviderName } from './lab/types.ts';
import { getProvider } from './providers/index.ts';
import { loadCatalog, loadScenario, SCENARIOS_DIR } from './scenario/load.ts';
import { recordKindProof } from './scenario/proofs.ts';
import { run } from './util/run.ts';
import { formatTable } from './util/table.ts';

// `netdojo verify`: every scenario proves itself on a fresh lab, per seed: all checks pass before
// the break; right after it the target checks fail with the expected state (so a break that did not
// take effect cannot ship: SadServers#13); after the reference solution all pass; after teardown
// nothing is left. --thorough also grades every alternative fix (must pass) and every destructive
// "fix" (must fail, on the checks it names).

export interface PhaseResult { pass: boolean; failed: string[] }

export interface AttemptResult { name: string; expected: 'pass' | 'fail'; ok: boolean; failed: string[]; problem?: string }

export interface VerifyResult {
  id: string;
  provider: ProviderName;
  seed: number;
  variant: Record<string, string | number>;
  ok: boolean;
  problems: string[];
  baseline: PhaseResult;
  broken: PhaseResult & { states: Record<string, State> };
  solved: PhaseResult;
  attempts: AttemptResult[];
  cleanup: { leaked: string[] };
  ms: number;
}

export interface VerifyOptions {
  scenarios: string[];
  provider: ProviderName;
  seeds: number[];
  thorough: boolean;
  onProgress?: ProgressFn;
}

const failedIds = (r: GradeReport) => r.checks.filter((c) => !c.pass).map((c) => c.id);
const phase = (r: GradeReport): PhaseResult => ({ pass: r.verdict === 'pass', failed: failedIds(r) });
/** A check named in a scenario file covers the per-source checks it expands to ("dns" → "dns@client-worker"). */
const named = (id: string, name: string) => id === name || id.startsWith(`${name}@`);
const NOT_PASS: readonly State[] = STATES.filter((s) => s !== 'PASS');

async function hostNetns(): Promise<string[]> {
  const r = await run('ip', ['netns', 'list']);
  return r.code === 0 ? r.stdout.split('\n').filter(Boolean).sort() : [];
}

/** What a destroyed lab left behind: its record, its holder, host network namespaces, its cgroup. */
async function leftovers(provider: ProviderName, id: string, netnsBefore: string[]): Promise<string[]> {
  const leaked: string[] = [];
  if (existsSync(labDir(id))) leaked.push(`lab directory ${labDir(id)}`);
  const still = (await (await getProvider(provider)).list()).find((s) => s.id === id);
  if (still) leaked.push(`lab ${id} still listed (${still.state})`);
  // Our labs name namespaces only inside their sandboxes; one of those names on the host means the
  // sandbox leaked. (Other programs' namespaces that come and go meanwhile are not ours to blame.)
  const ours = (ns: string) => /^(control-plane|worker|pod_)/.test(ns);
  for (const ns of await hostNetns()) if (!netnsBefore.includes(ns) && ours(ns)) leaked.push(`host network namespace ${ns}`);
  if (provider === 'netns') {
    // The lab was made by this process, so its cgroup would be where this process makes them.
    const { probeHost } = await import('./providers/netns/limits.ts');
    const { existingLabCgroup } = await import('./providers/netns/cgroups.ts');
    const probe = await probeHost();
    if (probe.ok) for (const dir of await existingLabCgroup(probe.host, id)) leaked.push(`cgroup ${dir}`);
  }
  return leaked;
}

async function gradeAs(s: LabSession, expect: (c: Check) => readonly State[]): Promise<GradeReport> {
  return gradeLab(s.lab, s.rendered.checks, { scenario: s.rendered.id, expect });
}

/** How long the cluster stays unwritten, after a break, before a fix is tried; and the longest wait for it. */
const QUIET_BEFORE_FIX_MS = 1000;
const QUIET_WAIT_MAX_MS = 15_000;

/**
 * Waits, where the lab can tell (netns), until its cluster has gone a moment without a write: the
 * controllers have followed the lab's start and its break. A learner's first command comes seconds
 * after the lab is up; a fix typed into a cluster still converging can race a controller (one that
 * puts its iptables jump back in front while the fix deletes rules by their number).
 */
async function untilQuiet(lab: LabSession['lab']): Promise<void> {
  if (!lab.settled) return;
  const until = Date.now() + QUIET_WAIT_MAX_MS;
  while (Date.now() < until) {
    const s = await lab.settled().catch(() => undefined);
    if (!s || s.quietMs >= QUIET_BEFORE_FIX_MS) return;
    await new Promise((r) => setTimeout(r, Math.min(200, QUIET_BEFORE_FIX_MS - s.quietMs)));
  }
}

async function attempt(id: string, provider: ProviderName, seed: number, kind: 'accepts' | 'rejects', index: number, onProgress?: ProgressFn): Promise<AttemptResult> {
  const s = await createLab({ scenario: id, provider, seed, onProgress });
  const a = s.rendered[kind][index];
  const expected = kind === 'accepts' ? 'pass' : 'fail';
  try {
    await breakLab(s, onProgress);
    await untilQuiet(s.lab);
    await runSteps(s.lab, a.steps, `Trying "${a.name}"`, onProgress);
    const mustFail = (c: Check) => (a.fails ?? []).some((f) => named(c.id, f));
    const r = await gradeAs(s, (c) => (kind === 'rejects' && mustFail(c) ? NOT_PASS : ['PASS']));
    const failed = failedIds(r);
    if (kind === 'accepts') {
      return { name: a.name, expected, ok: r.verdict === 'pass', failed, problem: r.verdict === 'pass' ? undefined : `a valid fix was graded fail on: ${failed.join(', ')}` };
    }
    const missing = (a.fails ?? []).filter((f) => !failed.some((id) => named(id, f)));
    const ok = r.verdict === 'fail' && missing.length === 0;
    return { name: a.name, expected, ok, failed, problem: ok ? undefined : r.verdict === 'pass' ? 'a destructive "fix" was graded pass' : `expected these checks to fail: ${missing.join(', ')}` };
  } finally {
    await destroyLab(s.lab);
  }
}

/** One scenario and seed; anything that goes wrong is a finding in the result, never an abort. */
export async function verifyOne(id: string, provider: ProviderName, seed: number, thorough: boolean, onProgress?: ProgressFn): Promise<VerifyResult> {
  const t0 = performance.now();
  try {
    return await prove(id, provider, seed, thorough, t0, onProgress);
  } catch (e) {
    const empty = { pass: false, failed: [] };
    return {
      id, provider, seed, variant: {}, ok: false, problems: [(e as Error).message], baseline: empty,
      broken: { ...empty, states: {} }, solved: empty, attempts: [], cleanup: { leaked: [] }, ms: Math.round(performance.now() - t0),
    };
  }
}

async function prove(id: string, provider: ProviderName, seed: number, thorough: boolean, t0: number, onProgress?: ProgressFn): Promise<VerifyResult> {
  const netnsBefore = await hostNetns();
  const problems: string[] = [];
  const s = await createLab({ scenario: id, provider, seed, onProgress });
  let baseline: PhaseResult = { pass: false, failed: [] };
  let broken: VerifyResult['broken'] = { pass: false, failed: [], states: {} };
  let solved: PhaseResult = { pass: false, failed: [] };
  try {
    baseline = phase(await gradeAs(s, () => ['PASS']));
    if (!baseline.pass) problems.push(`before the break, checks failed: ${baseline.failed.join(', ')}`);
    await breakLab(s, onProgress);
    const br = await gradeAs(s, expectBroken);
    broken = { ...phase(br), states: Object.fromEntries(br.checks.map((c) => [c.id, c.state])) };
    for (const c of s.rendered.checks.filter((x) => x.broken)) {
      const want = expectBroken(c);
      const got = br.checks.find((r) => r.id === c.id)!;
      if (!want.includes(got.state)) problems.push(`after the break, ${c.id} was ${got.state}, expected ${want.join(' or ')}`);
    }
    await solveLab(s, onProgress);
    solved = phase(await gradeAs(s, () => ['PASS']));
    if (!solved.pass) problems.push(`after the reference solution, checks failed: ${solved.failed.join(', ')}`);
  } finally {
    await destroyLab(s.lab);
  }
  const attempts: AttemptResult[] = [];
  if (thorough) {
    for (const kind of ['accepts', 'rejects'] as const) {
      for (let i = 0; i < s.rendered[kind].length; i++) {
        const r = await attempt(id, provider, seed, kind, i, onProgress);
        attempts.push(r);
        if (!r.ok) problems.push(`${kind === 'accepts' ? 'valid fix' : 'destructive fix'} "${r.name}": ${r.problem}`);
      }
    }
  }
  const leaked = await leftovers(provider, s.lab.facts.id, netnsBefore);
  if (leaked.length) problems.push(`left behind: ${leaked.join('; ')}`);
  return {
    id, provider, seed, variant: s.rendered.variant, ok: problems.length === 0, problems,
    baseline, broken, solved, attempts, cleanup: { leaked }, ms: Math.round(performance.now() - t0),
  };
}

export async function verify(opts: VerifyOptions): Promise<{ results: VerifyResult[] }> {
  const ids = opts.scenarios.length ? opts.scenarios : (await loadCatalog()).scenarios.map((s) => s.spec.id);
  const results: VerifyResult[] = [];
  for (const id of ids) {
    const { spec } = await loadScenario(id);
    if (!spec.providers.includes(opts.provider)) continue;
    for (const seed of opts.seeds) {
      opts.onProgress?.({ action: `Proving ${id} (seed ${seed})`, status: 'start' });
      const r = await verifyOne(id, opts.provider, seed, opts.thorough, opts.onProgress);
      opts.onProgress?.({ action: `Proving ${id} (seed ${seed})`, status: r.ok ? 'done' : 'fail', ms: r.ms });
      results.push(r);
    }
  }
  return { results };
}

export function formatVerify({ results }: { results: VerifyResult[] }): string {
  const mark = (ok: boolean) => (ok ? 'ok' : 'FAIL');
  const rows = results.map((r) => [
    r.id, String(r.seed), Object.entries(r.variant).map(([k, v]) => `${k}=${v}`).join(' '),
    mark(r.baseline.pass), mark(!r.broken.pass && !r.problems.some((p) => p.startsWith('after the break'))),
    mark(r.solved.pass), r.attempts.length ? `${r.attempts.filter((a) => a.ok).length}/${r.attempts.length}` : '-',
    mark(r.cleanup.leaked.length === 0), `${r.ms} ms`, r.ok ? 'PROVEN' : 'NOT PROVEN',
  ]);
  const table = formatTable([['SCENARIO', 'SEED', 'VARIANT', 'HEALTHY', 'BROKEN', 'SOLVED', 'FIXES', 'CLEANUP', 'TIME', 'RESULT'], ...rows]);
  const problems = results.flatMap((r) => r.problems.map((p) => `  ${r.id} seed ${r.seed}: ${p}`));
  const proven = results.filter((r) => r.ok).length;
  return `${table}\n${problems.length ? `\n${problems.join('\n')}\n` : ''}\n${proven}/${results.length} proven`;
}

/**
 * Writes a kind proof for every scenario whose every seed was proven (scenarios/kind-proofs.yaml),
 * with today's date and the host's `kind version`; returns their ids.
 */
export async function recordKindProofs(results: readonly VerifyResult[], seeds: number[]): Promise<string[]> {
  const ids = [...new Set(results.map((r) => r.id))].filter((id) => results.filter((r) => r.id === id).every((r) => r.ok && r.provider === 'kind'));
  if (!ids.length) return [];
  const { kindBin } = await import('./providers/kind/docker.ts');
  const v = await run(kindBin(), ['version'], { timeoutMs: 15_000 });
  const kind = v.stdout.trim() || 'unknown';
  const at = new Date().toISOString().slice(0, 10);
  for (const id of ids) await recordKindProof(SCENARIOS_DIR, id, { at, kind, seeds });
  return ids;
}
