import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
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

describe('per-provider declarations', () => {
  // Scenarios written on the fly: each case is one small file, so every message is tied to its cause.
  const dir = mkdtempSync(join(tmpdir(), 'netdojo-scenarios-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const head = (id: string, providers: string) => [
    `id: ${id}`, 'title: T', 'summary: S', 'difficulty: beginner', 'minutes: 5', 'tags: [x]', 'concepts: [x]',
    `providers: [${providers}]`,
    "break: { netns: [{ on: worker, run: 'true' }], kind: [{ on: admin, run: 'true' }] }",
    "solution: { netns: [{ on: worker, run: 'true' }], kind: [{ on: admin, run: 'true' }] }",
    'hints: [h]',
  ].join('\n');
  const write = (id: string, providers: string, rest: string) => {
    mkdirSync(join(dir, id), { recursive: true });
    writeFileSync(join(dir, id, 'scenario.yaml'), `${head(id, providers)}\n${rest}\n`);
    writeFileSync(join(dir, id, 'brief.md'), 'on {{lab.provider}}: {{#if (eq lab.provider "kind")}}kubectl{{else}}lab{{/if}}');
  };
  const problems = async (id: string) => {
    try {
      await loadScenario(id, dir);
    } catch (e) {
      expect(e).toBeInstanceOf(ScenarioError);
      return (e as ScenarioError).message;
    }
    throw new Error(`${id} loaded, but it is invalid`);
  };

  it("a state guard's run is one script or one per provider, and a check can be scoped to providers", async () => {
    write('per-provider', 'netns, kind', `checks:
  - { id: ping, title: P, kind: icmp, from: '{{podOn "worker" "client"}}', host: '{{pod (podOn "control-plane" "web") "ip"}}', broken: TIMEOUT }
  - id: guard
    title: 'CoreDNS runs ({{lab.provider}})'
    kind: state
    from: admin
    run:
      netns: lab pods -n kube-system | grep -c '{{podName (lookup (podsOf "coredns") 0)}}'
      kind: kubectl -n kube-system get deploy coredns
  - { id: shared, title: S, kind: state, from: worker, run: 'ip route show {{node "control-plane" "podCIDR"}}' }
  - { id: kind-only, title: K, kind: state, from: admin, providers: [kind], run: 'kubectl get networkpolicy {{v.x}}' }
variants: { x: [a] }`);
    const loaded = await loadScenario('per-provider', dir);
    const onNetns = renderScenario(loaded, facts, 1, 'netns', targets);
    expect(onNetns.checks.map((c) => c.id)).toEqual(['ping', 'guard', 'shared']);
    expect(onNetns.checks[1]).toMatchObject({ kind: 'state', title: 'CoreDNS runs (netns)', run: "lab pods -n kube-system | grep -c 'coredns-0'" });
    expect(onNetns.checks[1]).not.toHaveProperty('providers');
    expect(onNetns.brief).toBe('on netns: lab');

    const kindFacts = { ...facts, provider: 'kind' as const, pods: facts.pods.map((p) => ({ ...p, target: p.target.replace(/-(\d)$/, '-7d9f-x$1') })) };
    const kindTargets = [...topo.nodes.map((n) => n.name), ...kindFacts.pods.map((p) => p.target)];
    const onKind = renderScenario(loaded, kindFacts, 1, 'kind', kindTargets);
    expect(onKind.checks.map((c) => c.id)).toEqual(['ping', 'guard', 'shared', 'kind-only']);
    expect(onKind.checks.map((c) => (c.kind === 'state' ? c.run : c.kind))).toEqual([
      'icmp', 'kubectl -n kube-system get deploy coredns', 'ip route show 10.244.0.0/24', 'kubectl get networkpolicy a',
    ]);
    expect(onKind.checks[0]).toMatchObject({ host: '10.244.0.4', from: 'default/client-worker' });
    expect(onKind.brief).toBe('on kind: kubectl');
  });

  it('podsOf lists the pods of an app in the lab, and names an app no pod runs', async () => {
    write('pods-of', 'netns', `checks:
  - { id: web, title: W, kind: http, from: default/client-worker, url: http://web, backends: ['{{#each (podsOf "web")}}{{podName this}} {{/each}}'], broken: TIMEOUT }
  - { id: nope, title: N, kind: state, from: worker, run: '{{podsOf "nginx"}}' }`);
    const loaded = await loadScenario('pods-of', dir);
    expect(() => renderScenario(loaded, facts, 1, 'netns', targets)).toThrow(/checks\[1\]\.run: no pod runs "nginx" in this lab/);
    const ok = { ...loaded, spec: { ...loaded.spec, checks: loaded.spec.checks.slice(0, 1) } };
    expect(renderScenario(ok, facts, 1, 'netns', targets).checks[0]).toMatchObject({ backends: ['web-0 web-1 '] });
  });

  it('a provider the scenario lists needs its script, its target check, and what its attempts claim to fail', async () => {
    write('missing-variant', 'netns, kind', `checks:
  - { id: ping, title: P, kind: icmp, from: worker, host: 10.244.0.4, providers: [netns], broken: TIMEOUT }
  - id: guard
    title: G
    kind: state
    from: admin
    run:
      netns: lab pods
  - { id: kind-only, title: K, kind: state, from: admin, providers: [kind], run: 'true' }
rejects:
  - { name: r, fails: [kind-only], steps: { netns: [{ on: worker, run: 'true' }] } }`);
    const msg = await problems('missing-variant');
    expect(msg).toMatch(/checks\[1\]\.run\.kind \(line 19\): missing: providers lists kind and check "guard" is graded there, so its run needs a kind script/);
    expect(msg).toMatch(/checks \(line \d+\): no target check on kind: at least one check graded on kind needs `broken: <STATE>`/);
    expect(msg).toMatch(/rejects\[0\]\.fails\[0\] \(line \d+\): check "kind-only" is not graded on netns \(its providers: kind\)/);
    expect(msg).not.toMatch(/no target check on netns/);

    write('stray-provider', 'netns', `checks:
  - { id: ping, title: P, kind: icmp, from: worker, host: 10.244.0.4, providers: [netns, kind], broken: TIMEOUT }
  - { id: guard, title: G, kind: state, from: admin, run: 'true' }`);
    expect(await problems('stray-provider')).toMatch(/checks\[0\]\.providers\[1\] \(line \d+\): "kind" is not one of the scenario's providers \(netns\)/);
    write('bad-run', 'netns', `checks:
  - { id: guard, title: G, kind: state, from: admin, run: 42, broken: ERROR }`);
    expect(await problems('bad-run')).toMatch(/checks\[0\]\.run \(line \d+\): expected a shell script, or one per provider: \{netns: \.\.\., kind: \.\.\.\}/);
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
