import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { baseTopology } from '../lab/topology.ts';
import { factsOf } from '../providers/netns/index.ts';
import { podTarget } from '../lab/topology.ts';
import { loadCatalog, loadScenario, ScenarioError } from './load.ts';
import { pickVariant, renderScenario, RenderError } from './render.ts';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/scenarios/', import.meta.url));
const topo = baseTopology();
const facts = factsOf('ltest0001', 'x', 1, topo);
const targets = [...topo.nodes.map((n) => n.name), ...topo.pods.map(podTarget)];

async function problemsOf(id: string): Promise<string> {
  try {
    await loadScenario(id, FIXTURES);
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return (e as ScenarioError).message;
  }
  throw new Error(`${id} loaded, but it is invalid`);
}

describe('scenario files: errors name the file, the field and what was expected', () => {
  it('an unknown check kind lists the kinds', async () => {
    const msg = await problemsOf('unknown-kind');
    expect(msg).toContain(join(FIXTURES, 'unknown-kind', 'scenario.yaml'));
    expect(msg).toMatch(/checks\[0\]\.kind \(line 14\): unknown or missing kind; expected one of: dns, tcp, http/);
  });

  it('bad values and unknown fields are each reported with their path and line', async () => {
    const msg = await problemsOf('bad-fields');
    expect(msg).toMatch(/difficulty \(line 4\): .*"beginner"\|"intermediate"\|"advanced"/);
    expect(msg).toMatch(/minutes \(line 5\): .*expected number/);
    expect(msg).toMatch(/checks\[0\] \(line \d+\): unknown field "colour"/);
  });

  it('a template that does not compile is caught at load time, with its path', async () => {
    expect(await problemsOf('bad-template')).toMatch(/break\.netns\[0\]\.run \(line 9\): bad template/);
  });

  it('cross-references: duplicate ids, no target check, missing provider steps, unknown check names', async () => {
    const msg = await problemsOf('no-target');
    expect(msg).toContain('duplicate check id "a"');
    expect(msg).toContain('no target check');
    expect(msg).toMatch(/break\.kind .*break steps for kind are required/);
    expect(msg).toMatch(/rejects\[0\]\.fails\[0\].*unknown check id "nope"/);
  });

  it('YAML syntax errors, a missing brief.md, an id that does not match its directory', async () => {
    expect(await problemsOf('yaml-error')).toMatch(/YAML: /);
    expect(await problemsOf('no-brief')).toMatch(/no-brief[/\\]brief\.md:\n.*missing: every scenario needs a brief\.md/);
    expect(await problemsOf('wrong-id')).toContain('"good" must match its directory name "wrong-id"');
    expect(await problemsOf('does-not-exist')).toMatch(/no scenario "does-not-exist"; available: .*good/);
  });

  it('the catalog keeps every good scenario and reports the bad ones', async () => {
    const { scenarios, errors } = await loadCatalog(FIXTURES);
    // unknown-target is well-formed: its target is checked against a lab when it is rendered.
    expect(scenarios.map((s) => s.spec.id)).toEqual(['good', 'unknown-target']);
    expect(errors).toHaveLength(7);
  });

  it('a target that does not exist in the lab is named when the scenario is rendered', async () => {
    const loaded = await loadScenario('unknown-target', FIXTURES);
    expect(() => renderScenario(loaded, facts, 1, 'netns', targets)).toThrow(RenderError);
    expect(() => renderScenario(loaded, facts, 1, 'netns', targets)).toThrow(/break\.netns\[0\]\.on: unknown target "node-3"; expected one of: control-plane, worker/);
  });
});

describe('rendering', () => {
  it('variants are stable per seed and cover every value across seeds', () => {
    const variants = { node: ['control-plane', 'worker'], mtu: [1400, 1380, 1280] };
    expect(pickVariant(variants, 7)).toEqual(pickVariant(variants, 7));
    const seen = new Set(Array.from({ length: 40 }, (_, s) => `${pickVariant(variants, s).node}/${pickVariant(variants, s).mtu}`));
    expect(seen.size).toBe(6);
  });

  it('templates get the lab facts; a check from several sources becomes one check per source', async () => {
    const loaded = await loadScenario('good', FIXTURES);
    const seed = [...Array(50).keys()].find((s) => pickVariant(loaded.spec.variants, s).node === 'worker')!;
    const r = renderScenario(loaded, facts, seed, 'netns', targets);
    expect(r.variant).toEqual({ node: 'worker' });
    expect(r.break[0].on).toBe('worker');
    expect(r.checks.map((c) => [c.id, c.from])).toEqual([
      ['dns@client-worker', 'default/client-worker'],
      ['dns@client-control-plane', 'default/client-control-plane'],
    ]);
    expect(r.checks[0]).toMatchObject({ kind: 'dns', expect: '10.96.124.51', title: 'DNS from default/client-worker' });
    expect(r.hints).toEqual(['look at worker']);
  });
});

describe('the seed scenarios', () => {
  it('all load without errors', async () => {
    const { scenarios, errors } = await loadCatalog();
    expect(errors.map((e) => e.message)).toEqual([]);
    expect(scenarios.map((s) => s.spec.id)).toEqual(['coredns-down', 'dns-egress-dropped', 'missing-route', 'mtu-blackhole']);
  });

  it('render for every variant combination, with every target and template resolved', async () => {
    const { scenarios } = await loadCatalog();
    for (const s of scenarios) {
      const seen = new Set<string>();
      for (let seed = 0; seed < 64; seed++) {
        for (const provider of s.spec.providers) {
          const r = renderScenario(s, { ...facts, provider }, seed, provider, targets);
          seen.add(JSON.stringify(r.variant));
          expect(r.brief).not.toMatch(/\{\{|\[object Object\]/);
          expect(r.solution.markdown).not.toMatch(/\{\{|\[object Object\]/);
          expect(r.checks.some((c) => c.broken)).toBe(true);
          expect(r.break.length).toBeGreaterThan(0);
          expect(r.solution.steps.length).toBeGreaterThan(0);
        }
      }
      const combos = Object.values(s.spec.variants).reduce((n, v) => n * v.length, 1);
      expect(seen.size, `${s.spec.id}: variants seen over 64 seeds`).toBe(combos);
    }
  });
});
