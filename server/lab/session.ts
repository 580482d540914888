import { getProvider } from '../providers/index.ts';
import { loadScenario } from '../scenario/load.ts';
import { renderScenario, type RenderedScenario } from '../scenario/render.ts';
import type { Step } from '../scenario/schema.ts';
import { newLabId } from './naming.ts';
import { readRecord, removeLabDir, updateMeta } from './records.ts';
import { baseTopology } from './topology.ts';
import { LabError, type Lab, type ProgressFn, type Provider, type ProviderName } from './types.ts';
import type { LabResources } from './resources.ts';
import type { AddonName } from './addons.ts';
import type { WarmLabs } from './warm.ts';

// A lab's life as a scenario sees it: create the cluster, set up the healthy starting point, break
// it, and (for verify, or a learner who gives up) apply the reference solution. Each is a named
// action that reports its progress.

export interface LabSession { lab: Lab; rendered: RenderedScenario }

export interface StartOptions {
  scenario: string;
  provider?: ProviderName;
  seed?: number;
  /** The id for a newly created lab (a warm lab keeps its own: callers use `lab.facts.id`). */
  id?: string;
  /** Labs made ahead (a server's): one of them, when one is ready for this request, instead of a new one. */
  warm?: WarmLabs;
  /** What the lab may use of the machine (the defaults when absent). */
  resources?: LabResources;
  onProgress?: ProgressFn;
}

const STEP_TIMEOUT_MS = 60_000;

export const randomSeed = () => 1 + Math.floor(Math.random() * 999_999);

/** Runs steps in order as the learner would; the first failure stops and names the step. */
export async function runSteps(lab: Lab, steps: Step[], phase: string, onProgress?: ProgressFn): Promise<void> {
  for (const [i, s] of steps.entries()) {
    const action = `${phase}: ${s.name ?? `step ${i + 1} on ${s.on}`}`;
    onProgress?.({ action, status: 'start' });
    const r = await lab.exec(s.on, ['bash', '-c', `set -e\n${s.run}`], { timeoutMs: STEP_TIMEOUT_MS });
    if (r.code !== 0) {
      const why = r.timedOut ? `timed out after ${STEP_TIMEOUT_MS / 1000} s` : `exit ${r.code}`;
      const error = `${action} failed (${why}): ${(r.stderr || r.stdout).trim().slice(-1500)}`;
      onProgress?.({ action, status: 'fail', ms: r.ms, error });
      throw new LabError(error);
    }
    onProgress?.({ action, status: 'done', ms: r.ms });
  }
}

const WARM_ACTION = 'Taking a lab made ahead';

/**
 * The cluster for a start: a warm lab when one is ready for it (its scenario and seed written in),
 * else one created now. A warm lab has no add-ons yet: the scenario's setup applies them either way.
 */
export async function newLab(provider: Provider, opts: StartOptions & { seed: number; addons?: AddonName[] }): Promise<Lab> {
  const t0 = performance.now();
  const warm = opts.warm?.provider === provider.name ? await opts.warm.take({ scenario: opts.scenario, seed: opts.seed, resources: opts.resources }) : undefined;
  if (warm) {
    // Reported once taken: when none is ready, the create's own actions are the whole story.
    opts.onProgress?.({ action: WARM_ACTION, status: 'start' });
    opts.onProgress?.({ action: WARM_ACTION, status: 'done', ms: Math.round(performance.now() - t0) });
  }
  return warm ?? provider.create(baseTopology(), { id: opts.id ?? newLabId(), scenario: opts.scenario, seed: opts.seed, addons: opts.addons, resources: opts.resources, onProgress: opts.onProgress });
}

/** A healthy lab for the scenario (its setup applied), not yet broken. */
export async function createLab(opts: StartOptions): Promise<LabSession> {
  const loaded = await loadScenario(opts.scenario);
  const providerName = opts.provider ?? 'netns';
  if (!loaded.spec.providers.includes(providerName)) {
    throw new LabError(`scenario ${opts.scenario} does not run on the ${providerName} provider (it supports: ${loaded.spec.providers.join(', ')})`);
  }
  const provider = await getProvider(providerName);
  const seed = opts.seed ?? randomSeed();
  const lab = await newLab(provider, { ...opts, seed, addons: loaded.spec.addons });
  try {
    const rendered = renderScenario(loaded, lab.facts, seed, providerName, lab.targets());
    await updateMeta(lab.facts.id, { variant: rendered.variant, phase: 'healthy' });
    await runSteps(lab, rendered.setup, 'Setting up', opts.onProgress);
    return { lab, rendered };
  } catch (e) {
    await destroyLab(lab);
    throw e;
  }
}

export async function breakLab(s: LabSession, onProgress?: ProgressFn): Promise<void> {
  await runSteps(s.lab, s.rendered.break, 'Breaking', onProgress);
  await updateMeta(s.lab.facts.id, { phase: 'broken', brokenAt: new Date().toISOString() });
}

export async function solveLab(s: LabSession, onProgress?: ProgressFn): Promise<void> {
  await runSteps(s.lab, s.rendered.solution.steps, 'Solving', onProgress);
  await updateMeta(s.lab.facts.id, { phase: 'solved' });
}

/** What a learner gets: a lab already broken the scenario's way. */
export async function startLab(opts: StartOptions): Promise<LabSession> {
  const s = await createLab(opts);
  try {
    await breakLab(s, opts.onProgress);
    return s;
  } catch (e) {
    await destroyLab(s.lab);
    throw e;
  }
}

export async function openLab(id: string): Promise<LabSession> {
  const rec = await readRecord(id);
  const provider = await getProvider(rec.provider);
  const lab = await provider.open(id);
  const loaded = await loadScenario(rec.scenario);
  return { lab, rendered: renderScenario(loaded, lab.facts, rec.seed, rec.provider, lab.targets()) };
}

/**
 * Back to the broken start, same scenario, seed and id. Where the provider can restore a lab in place
 * (kind: minutes saved), it does, then undoes the scenario's own changes (its solution steps, best
 * effort), checks that the lab is healthy again, and breaks it anew; anything short of a healthy
 * baseline falls back to recreating the lab.
 */
export async function resetLab(id: string, onProgress?: ProgressFn): Promise<LabSession> {
  const rec = await readRecord(id);
  const provider = await getProvider(rec.provider);
  if (provider.restore) {
    try {
      const s = await openLab(id);
      const lab = await provider.restore(s.lab, onProgress);
      const restored = { lab, rendered: s.rendered };
      await runSteps(lab, s.rendered.solution.steps, 'Undoing the scenario', onProgress).catch(() => undefined);
      const { gradeLab } = await import('../../grader/index.ts');
      const baseline = await gradeLab(lab, s.rendered.checks, { scenario: rec.scenario });
      if (baseline.verdict !== 'pass') throw new LabError(`still unhealthy after restoring: ${baseline.checks.filter((c) => !c.pass).map((c) => c.id).join(', ')}`);
      await runSteps(lab, s.rendered.setup, 'Setting up', onProgress);
      await breakLab(restored, onProgress);
      return restored;
    } catch (e) {
      onProgress?.({ action: 'Restoring in place', status: 'fail', error: `${(e as Error).message}; recreating the lab` });
    }
  }
  await provider.open(id).then(destroyLab, () => removeLabDir(id));
  // Never a warm lab: a reset keeps its lab's id.
  return startLab({ scenario: rec.scenario, provider: rec.provider, seed: rec.seed, id, resources: rec.resources, onProgress });
}

/** Tears a lab down and forgets it: nothing of it is left. */
export async function destroyLab(lab: Lab): Promise<void> {
  await lab.destroy();
  await removeLabDir(lab.facts.id);
}

export async function destroyLabById(id: string): Promise<void> {
  const rec = await readRecord(id);
  const provider = await getProvider(rec.provider);
  try {
    await destroyLab(await provider.open(id));
  } catch (e) {
    if (!(e instanceof LabError)) throw e;
    // Already dead: reaping removes what is left.
    await provider.reap();
    await removeLabDir(id);
  }
}
