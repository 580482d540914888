import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { baseTopology } from '../lab/topology.ts';
import type { LabFacts, ProviderName } from '../lab/types.ts';
import { factsFrom } from '../providers/kind/facts.ts';
import { KindLab } from '../providers/kind/lab.ts';
import { baseWorkloads, parseYamlDocs } from '../providers/kind/render.ts';
import { loadCatalog, loadScenario, ScenarioError, type LoadedScenario } from './load.ts';
import { pickVariant, renderScenario, RenderError, type RenderedScenario } from './render.ts';
import { LAPTOP } from '../lab/world.ts';
import { SCENARIO_IDS } from '../../test/support/scenarios.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = join(ROOT, 'test', 'fixtures', 'scenarios');
const topo = baseTopology();
/** The facts of a netns lab as it reports them: pods named by their controllers, as kubectl shows them. */
const facts: LabFacts = {
  id: 'ltest0001', scenario: 'x', provider: 'netns', seed: 1, nodes: topo.nodes, dns: topo.dns,
  pods: [
    { target: 'kube-system/coredns-6589dc9599-2s77g', node: 'control-plane', ip: '10.244.0.3', app: 'coredns' },
    { target: 'kube-system/coredns-6589dc9599-9p5pf', node: 'worker', ip: '10.244.1.3', app: 'coredns' },
    { target: 'default/web-6d94484b4b-d5fnx', node: 'control-plane', ip: '10.244.0.4', app: 'web' },
    { target: 'default/web-6d94484b4b-7k8jt', node: 'worker', ip: '10.244.1.4', app: 'web' },
    { target: 'default/client-control-plane', node: 'control-plane', ip: '10.244.0.2', app: 'client' },
    { target: 'default/client-worker', node: 'worker', ip: '10.244.1.2', app: 'client' },
  ],
  services: [
    { target: 'default/web', clusterIP: '10.96.124.51', ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
    { target: 'kube-system/kube-dns', clusterIP: '10.96.0.10', ports: [{ name: 'dns', port: 53, targetPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, targetPort: 53, protocol: 'TCP' }] },
  ],
};
// As a netns lab lists them: nodes, the laptop outside the cluster, pods.
const targets = [...topo.nodes.map((n) => n.name), LAPTOP.name, ...facts.pods.map((p) => p.target)];

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
    expect(msg).toMatch(/checks\[0\]\.kind \(line 17\): unknown or missing kind; expected one of: dns, tcp, http/);
  });

  it('bad values and unknown fields are each reported with their path and line', async () => {
    const msg = await problemsOf('bad-fields');
    expect(msg).toMatch(/difficulty \(line 4\): .*"beginner"\|"intermediate"\|"advanced"/);
    expect(msg).toMatch(/minutes \(line 5\): .*expected number/);
    expect(msg).toMatch(/track \(line 8\): unknown track "networking"; expected one of: linux, pod-networking, services, dns, network-policy, ingress-egress, exam/);
    expect(msg).toMatch(/competencies\[0\] \(line 9\): unknown competency "dns-magic"; expected one of: pod-connectivity, /);
    expect(msg).toMatch(/checks\[0\] \(line \d+\): unknown field "colour"/);
  });

  it('a template that does not compile is caught at load time, with its path', async () => {
    expect(await problemsOf('bad-template')).toMatch(/break\.netns\[0\]\.run \(line 12\): bad template/);
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
    `id: ${id}`, 'title: T', 'summary: S', 'difficulty: beginner', 'minutes: 5', 'tags: [x]', 'concepts: [x]', 'track: services', 'competencies: [service-types]', 'learned: L',
    `providers: [${providers}]`,
    "break: { netns: [{ on: worker, run: 'true' }], kind: [{ on: admin, run: 'true' }] }",
    "solution: { netns: [{ on: worker, run: 'true' }], kind: [{ on: admin, run: 'true' }] }",
    'hints: [h]',
  ].join('\n');
  const write = (id: string, providers: string, rest: string) => {
    mkdirSync(join(dir, id), { recursive: true });
    writeFileSync(join(dir, id, 'scenario.yaml'), `${head(id, providers)}\n${rest}\n`);
    writeFileSync(join(dir, id, 'brief.md'), 'on {{lab.provider}}: {{#if (eq lab.provider "kind")}}docker{{else}}netns{{/if}}');
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
      netns: ip netns list | grep -c '{{podName (lookup (podsOf "coredns") 0)}}'
      kind: kubectl -n kube-system get deploy coredns
  - { id: shared, title: S, kind: state, from: worker, run: 'ip route show {{node "control-plane" "podCIDR"}}' }
  - { id: kind-only, title: K, kind: state, from: admin, providers: [kind], run: 'kubectl get networkpolicy {{v.x}}' }
variants: { x: [a] }`);
    const loaded = await loadScenario('per-provider', dir);
    const onNetns = renderScenario(loaded, facts, 1, 'netns', targets);
    expect(onNetns.checks.map((c) => c.id)).toEqual(['ping', 'guard', 'shared']);
    expect(onNetns.checks[1]).toMatchObject({ kind: 'state', title: 'CoreDNS runs (netns)', run: "ip netns list | grep -c 'coredns-6589dc9599-2s77g'" });
    expect(onNetns.checks[1]).not.toHaveProperty('providers');
    expect(onNetns.brief).toBe('on netns: netns');

    const kindFacts = { ...facts, provider: 'kind' as const, pods: facts.pods.map((p) => ({ ...p, target: p.target.replace(/-(\d)$/, '-7d9f-x$1') })) };
    const kindTargets = [...topo.nodes.map((n) => n.name), ...kindFacts.pods.map((p) => p.target)];
    const onKind = renderScenario(loaded, kindFacts, 1, 'kind', kindTargets);
    expect(onKind.checks.map((c) => c.id)).toEqual(['ping', 'guard', 'shared', 'kind-only']);
    expect(onKind.checks.map((c) => (c.kind === 'state' ? c.run : c.kind))).toEqual([
      'icmp', 'kubectl -n kube-system get deploy coredns', 'ip route show 10.244.0.0/24', 'kubectl get networkpolicy a',
    ]);
    expect(onKind.checks[0]).toMatchObject({ host: '10.244.0.4', from: 'default/client-worker' });
    expect(onKind.brief).toBe('on kind: docker');
  });

  it('a matrix check becomes one tcp check per allowed pair and one negative check per blocked pair', async () => {
    const matrix = (allow: string, broken = '[]') => `checks:
  - id: table
    title: Policy
    kind: matrix
    from: [client-control-plane, client-worker]
    to:
      - { name: web, host: '{{pod (podOn "worker" "web") "ip"}}', port: 8080 }
      - { name: admin, host: '{{pod (podOn "worker" "web") "ip"}}', port: 9090 }
    allow: ${allow}
    broken: ${broken}`;
    write('matrix', 'netns', matrix("{ client-worker: [web] }", "['client-worker web']"));
    const r = renderScenario(await loadScenario('matrix', dir), facts, 1, 'netns', targets);
    expect(r.checks.map((c) => [c.id, c.kind, c.kind === 'tcp' || c.kind === 'negative' ? `${c.host}:${c.port}` : ''])).toEqual([
      ['table@client-control-plane/web', 'negative', '10.244.1.4:8080'],
      ['table@client-control-plane/admin', 'negative', '10.244.1.4:9090'],
      ['table@client-worker/web', 'tcp', '10.244.1.4:8080'],
      ['table@client-worker/admin', 'negative', '10.244.1.4:9090'],
    ]);
    expect(r.checks[2]).toMatchObject({ from: 'default/client-worker', title: 'Policy: default/client-worker → web allowed', broken: ['TIMEOUT', 'REFUSED', 'UNREACHABLE'] });
    expect(r.checks[0]).toMatchObject({ title: 'Policy: default/client-control-plane → web blocked', hints: { UNEXPECTED_ALLOW: expect.stringContaining('must not reach web') } });
    expect(r.checks[0]).not.toHaveProperty('broken');

    // A matrix whose break makes no pair wrong is no target check.
    write('matrix-no-target', 'netns', matrix('{ client-worker: [web] }'));
    expect(await problems('matrix-no-target')).toMatch(/checks \(line \d+\): no target check: at least one check needs `broken: <STATE>`/);

    write('matrix-bad-target', 'netns', matrix('{ client-worker: [db] }', "['client-worker web']"));
    const badTarget = await loadScenario('matrix-bad-target', dir);
    expect(() => renderScenario(badTarget, facts, 1, 'netns', targets)).toThrow(/checks\[0\]\.allow\.client-worker: unknown target "db"; expected one of: web, admin/);
    write('matrix-bad-source', 'netns', matrix('{ web-6d94484b4b-d5fnx: [web] }', "['client-worker web']"));
    const badSource = await loadScenario('matrix-bad-source', dir);
    expect(() => renderScenario(badSource, facts, 1, 'netns', targets)).toThrow(/"web-6d94484b4b-d5fnx" is not one of the matrix's sources/);
  });

  it('podsOf lists the pods of an app in the lab, and names an app no pod runs', async () => {
    write('pods-of', 'netns', `checks:
  - { id: web, title: W, kind: http, from: default/client-worker, url: http://web, backends: ['{{#each (podsOf "web")}}{{podName this}} {{/each}}'], broken: TIMEOUT }
  - { id: nope, title: N, kind: state, from: worker, run: '{{podsOf "nginx"}}' }`);
    const loaded = await loadScenario('pods-of', dir);
    expect(() => renderScenario(loaded, facts, 1, 'netns', targets)).toThrow(/checks\[1\]\.run: no pod runs "nginx" in this lab/);
    const ok = { ...loaded, spec: { ...loaded.spec, checks: loaded.spec.checks.slice(0, 1) } };
    expect(renderScenario(ok, facts, 1, 'netns', targets).checks[0]).toMatchObject({ backends: ['web-6d94484b4b-d5fnx web-6d94484b4b-7k8jt '] });
  });

  it('a provider the scenario lists needs its script, its target check, and what its attempts claim to fail', async () => {
    write('missing-variant', 'netns, kind', `checks:
  - { id: ping, title: P, kind: icmp, from: worker, host: 10.244.0.4, providers: [netns], broken: TIMEOUT }
  - id: guard
    title: G
    kind: state
    from: admin
    run:
      netns: ip netns list
  - { id: kind-only, title: K, kind: state, from: admin, providers: [kind], run: 'true' }
rejects:
  - { name: r, fails: [kind-only], steps: { netns: [{ on: worker, run: 'true' }] } }`);
    const msg = await problems('missing-variant');
    expect(msg).toMatch(/checks\[1\]\.run\.kind \(line 22\): missing: providers lists kind and check "guard" is graded there, so its run needs a kind script/);
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

// The seed scenarios, rendered as each provider's labs will render them: netns with the replica's
// facts, kind with facts read back from a kind cluster (generated pod names, the lab's own node
// network) and the kind lab's targets. What cannot run here (a real kind cluster) is checked as far
// as it can be without one: templates, targets, shell syntax, the manifests and patches the kind
// steps apply, and the kind guards' scripts against stand-in commands.
const fx = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'kind', 'cluster-readback.json'), 'utf8'));
const kindFacts = factsFrom({ id: 'labfix01', scenario: 'x', seed: 1, cluster: fx.cluster, nodes: fx.nodes.items, pods: fx.pods.items, services: fx.services.items });
const kindLab = new KindLab({ id: 'labfix01', provider: 'kind', scenario: 'x', seed: 1, cluster: fx.cluster, network: fx.cluster, mtu: 1500, createdAt: '', state: 'ready', pid: 1, host: 'h', facts: kindFacts }, { destroy: async () => {} });
const LABS: Record<ProviderName, { facts: LabFacts; targets: string[] }> = {
  netns: { facts, targets },
  kind: { facts: kindFacts, targets: kindLab.targets().filter((t) => t !== 'admin') },
};
const SEEDS = 200;

const renderOn = (s: LoadedScenario, provider: ProviderName, seed: number) => renderScenario(s, LABS[provider].facts, seed, provider, LABS[provider].targets);
/** One rendering per variant combination (the first seed that picks it). */
function everyVariant(s: LoadedScenario, provider: ProviderName): RenderedScenario[] {
  const seen = new Map<string, RenderedScenario>();
  for (let seed = 0; seed < SEEDS; seed++) {
    const key = JSON.stringify(pickVariant(s.spec.variants, seed));
    if (!seen.has(key)) seen.set(key, renderOn(s, provider, seed));
  }
  return [...seen.values()];
}
const stepsOf = (r: RenderedScenario) => [
  ...r.setup, ...r.break, ...r.solution.steps, ...r.accepts.flatMap((a) => a.steps), ...r.rejects.flatMap((a) => a.steps),
];
const heredocs = (script: string) => [...script.matchAll(/<<'EOF'\n([\s\S]*?)\nEOF/g)].map((m) => m[1]);
const bashSyntax = (script: string) => spawnSync('bash', ['-n'], { input: `set -e\n${script}`, encoding: 'utf8' });

describe('the seed scenarios', async () => {
  const { scenarios, errors } = await loadCatalog();
  const byId = (id: string) => scenarios.find((s) => s.spec.id === id)!;

  // Scenarios about the world outside the cluster need the netns lab's own: on kind, the outside is
  // whatever network the machine has. netpol-ipblock-except and externalname-wrong-target: their
  // ranges and names are the lab's own internet sites. hairpin-off is about a bridge port's hairpin
  // mode: kind's kindnet gives every pod a routed veth of its own (ptp), no bridge. The Gateway API
  // is served by the netns lab's controller only: the real ingress-nginx image does not implement it.
  const NETNS_ONLY = ['dns-upstream-dead', 'externalname-wrong-target', 'hairpin-off', 'httproute-not-accepted', 'netpol-ipblock-except', 'pod-egress-masquerade'];

  it('all load without errors, and each runs on both providers unless it needs the lab\'s own outside world or bridge', () => {
    expect(errors.map((e) => e.message)).toEqual([]);
    expect(scenarios.map((s) => s.spec.id)).toEqual(SCENARIO_IDS);
    for (const s of scenarios) expect(s.spec.providers, s.spec.id).toEqual(NETNS_ONLY.includes(s.spec.id) ? ['netns'] : ['netns', 'kind']);
  });

  it.each(['netns', 'kind'] as const)('render on %s for every variant: targets resolve, no template left, every step and guard is valid bash', (provider) => {
    for (const s of scenarios) {
      const rendered = everyVariant(s, provider);
      const combos = Object.values(s.spec.variants).reduce((n, v) => n * v.length, 1);
      expect(rendered.length, `${s.spec.id}: variants seen over ${SEEDS} seeds`).toBe(combos);
      for (const r of rendered) {
        const where = `${s.spec.id} on ${provider} ${JSON.stringify(r.variant)}`;
        expect(JSON.stringify(r), where).not.toMatch(/\{\{|\[object Object\]/);
        expect(r.checks.some((c) => c.broken), where).toBe(true);
        expect(r.break.length, where).toBeGreaterThan(0);
        expect(r.solution.steps.length, where).toBeGreaterThan(0);
        for (const step of stepsOf(r)) {
          expect([...LABS[provider].targets, 'admin'], where).toContain(step.on);
          const syntax = bashSyntax(step.run);
          expect(syntax.status, `${where} on ${step.on}: ${syntax.stderr}\n${step.run}`).toBe(0);
        }
        for (const c of r.checks) {
          expect(c, where).not.toHaveProperty('providers');
          if (c.kind === 'state') expect(bashSyntax(c.run).status, `${where} ${c.id}: ${c.run}`).toBe(0);
        }
      }
    }
  });

  it('the seed picks the same variant on both providers, and netns checks keep their ids', () => {
    for (const s of scenarios) {
      for (let seed = 0; seed < 16; seed++) {
        const [n, k] = [renderOn(s, 'netns', seed), renderOn(s, 'kind', seed)];
        expect(k.variant).toEqual(n.variant);
        // kind may add guards of its own; every check graded on netns is graded on kind too.
        expect(k.checks.map((c) => c.id)).toEqual(expect.arrayContaining(n.checks.map((c) => c.id)));
      }
    }
  });

  it('on kind, checks name the pods kind generated, never the replica\'s fixed names', () => {
    const webNames = kindFacts.pods.filter((p) => p.app === 'web').map((p) => p.target.split('/')[1]);
    expect(webNames).toEqual(['web-7c9d8f6b5-qz7lm', 'web-7c9d8f6b5-h2k4x']);
    for (const s of scenarios.filter((x) => x.spec.providers.includes('kind'))) {
      for (const r of everyVariant(s, 'kind')) {
        expect(JSON.stringify([r.checks, stepsOf(r)]), s.spec.id).not.toMatch(/\b(web|coredns)-[01]\b/);
        // A backend named like a base pod is one kind generated; the others are identities a
        // scenario's own workloads answer with, fixed by its manifests (orders-v1, api-0) or a StatefulSet's members (db-0).
        for (const c of r.checks) if (c.kind === 'http') for (const b of c.backends.filter((x) => /^(web|coredns)-/.test(x))) expect(webNames, s.spec.id).toContain(b);
      }
    }
    const web = byId('coredns-down');
    expect(renderOn(web, 'kind', 1).checks.find((c) => c.id === 'web-by-name')).toMatchObject({ backends: webNames });
  });

  it('every object a kind step applies parses (NetworkPolicies at networking.k8s.io/v1), and every JSON patch is valid JSON', () => {
    let policies = 0;
    for (const s of scenarios) {
      for (const r of everyVariant(s, 'kind')) {
        for (const step of stepsOf(r)) {
          for (const doc of heredocs(step.run).flatMap((h) => parseYamlDocs(h))) {
            expect(doc).toMatchObject({ apiVersion: expect.any(String), kind: expect.any(String), metadata: { namespace: expect.any(String) } });
            if (doc.kind !== 'NetworkPolicy') continue;
            expect(doc.apiVersion).toBe('networking.k8s.io/v1');
            policies++;
          }
          for (const m of step.run.matchAll(/ -p '(\{.*\}|\[.*\])'/g)) expect(() => JSON.parse(m[1]), step.run).not.toThrow();
        }
      }
    }
    expect(policies).toBeGreaterThan(0);
  });
});

describe('what the kind steps do', async () => {
  const { scenarios } = await loadCatalog();
  const withVariant = (id: string, pred: (v: Record<string, string | number>) => boolean) => {
    const s = scenarios.find((x) => x.spec.id === id)!;
    const r = everyVariant(s, 'kind').find((x) => pred(x.variant));
    if (!r) throw new Error(`no seed gives that variant of ${id}`);
    return r;
  };
  const base = parseYamlDocs(baseWorkloads());
  const clientLabels = (node: string) => base.find((d) => d.kind === 'Pod' && d.metadata.name === `client-${node}`)!.metadata.labels as Record<string, string>;
  const webLabels = base.find((d) => d.kind === 'Deployment')!.spec.template.metadata.labels as Record<string, string>;
  const selects = (sel: Record<string, string>, labels: Record<string, string>) => Object.entries(sel).every(([k, v]) => labels[k] === v);

  it('dns-egress-dropped: the egress policy selects only the client on the broken node, and lets it reach web but not DNS', () => {
    for (const node of ['control-plane', 'worker']) {
      const r = withVariant('dns-egress-dropped', (v) => v.where === 'pod' && v.node === node);
      expect(r.break[0].on).toBe('admin');
      const [pol] = parseYamlDocs(heredocs(r.break[0].run)[0]);
      expect(pol).toMatchObject({ metadata: { name: 'egress-hardening' }, spec: { policyTypes: ['Egress'] } });
      const sel = pol.spec.podSelector.matchLabels;
      expect(selects(sel, clientLabels(node))).toBe(true);
      expect(selects(sel, clientLabels(node === 'worker' ? 'control-plane' : 'worker'))).toBe(false);
      expect(selects(sel, webLabels)).toBe(false);
      // Egress allowed to the web pods only (every port and ICMP): not to CoreDNS, not on port 53.
      expect(pol.spec.egress).toHaveLength(1);
      expect(pol.spec.egress[0].ports).toBeUndefined();
      const peers = pol.spec.egress[0].to;
      expect(peers.every((p: any) => !p.namespaceSelector && !p.ipBlock)).toBe(true);
      expect(peers.some((p: any) => selects(p.podSelector.matchLabels, webLabels))).toBe(true);

      // The reference fix adds DNS to that policy; the alternative adds a policy for the same pods.
      const ops = JSON.parse(r.solution.steps[0].run.match(/-p '(\[.*\])'/)![1]);
      expect(ops[0]).toMatchObject({ op: 'add', path: '/spec/egress/-' });
      expect(ops[0].value.ports).toEqual([{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }]);
      expect(ops[0].value.to[0]).toEqual({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } });
      const accept = r.accepts.find((a) => a.name.startsWith('a second policy'))!;
      const [allow] = parseYamlDocs(heredocs(accept.steps[0].run)[0]);
      expect(allow.spec.podSelector.matchLabels).toEqual(sel);
      expect(allow.spec.egress[0].ports.map((p: any) => `${p.protocol}/${p.port}`)).toEqual(['UDP/53', 'TCP/53']);
      // The guard that keeps the policy names the same pods.
      expect(r.checks.find((c) => c.id === 'policies-kept')).toMatchObject({ kind: 'state', from: 'admin', run: expect.stringContaining(`= 'client/${node}'`) });
    }
  });

  it('dns-egress-dropped: the admin-port policy keeps 9090 closed and 8080 open on the web pods', () => {
    const r = withVariant('dns-egress-dropped', () => true);
    const [pol] = parseYamlDocs(heredocs(r.setup[0].run)[0]);
    expect(pol.metadata.name).toBe('deny-admin-port');
    expect(selects(pol.spec.podSelector.matchLabels, webLabels)).toBe(true);
    expect(pol.spec.ingress.flatMap((i: any) => i.ports.map((p: any) => p.port))).toEqual([8080]);
    const negative = r.checks.filter((c) => c.kind === 'negative');
    expect(negative.map((c) => c.kind === 'negative' && `${c.host}:${c.port}`)).toEqual(expect.arrayContaining([expect.stringMatching(/^10\.244\.\d+\.\d+:9090$/)]));
  });

  it('dns-egress-dropped on a node: the drop rule matches the pre-DNAT destination, and the fix deletes exactly it', () => {
    const r = withVariant('dns-egress-dropped', (v) => v.where === 'node');
    expect(r.break[0].on).toBe(r.variant.node);
    expect(r.break[0].run).toContain('--ctorigdst 10.96.0.10 --ctorigdstport 53');
    const rules = (script: string, op: string) => script.split('\n').filter((l) => l.includes(`iptables ${op} FORWARD`)).map((l) => l.trim().replace(`iptables ${op}`, ''));
    expect(rules(r.solution.steps[0].run, '-D')).toEqual(rules(r.break[0].run, '-I'));
    expect(rules(r.break[0].run, '-I')).toHaveLength(1);
  });

  it('missing-route: kindnet removed first, then the route changed on the node, and the fix restores the route kindnet programs', () => {
    const r = withVariant('missing-route', (v) => v.node === 'worker' && v.how === 'deleted');
    expect(r.break.map((s) => s.on)).toEqual(['admin', 'worker']);
    expect(r.break[0].run).toContain('kubectl -n kube-system delete daemonset kindnet --cascade=foreground');
    expect(r.break[1].run.trim()).toBe('ip route del 10.244.0.0/24');
    expect(r.solution.steps[0]).toEqual({ name: "restore the host-gw route to control-plane's pod CIDR", on: 'worker', run: 'ip route replace 10.244.0.0/24 via 172.19.0.2 dev eth0' });
    const unreachable = withVariant('missing-route', (v) => v.node === 'control-plane' && v.how === 'unreachable');
    expect(unreachable.break[1]).toMatchObject({ on: 'control-plane', run: expect.stringContaining('ip route replace unreachable 10.244.1.0/24') });
  });

  it('mtu-blackhole: both node uplinks lowered with the pods\' CNI MTU pinned at 1500, and PMTU discovery restored by the fix', () => {
    const r = withVariant('mtu-blackhole', (v) => v.mtu === 1380);
    expect(r.break.map((s) => s.on)).toEqual(['control-plane', 'worker']);
    for (const s of r.break) {
      expect(s.run).toContain('ip link set eth0 mtu 1380');
      expect(s.run).toContain('"mtu": 1500');
      expect(s.run).toContain('-I OUTPUT -p icmp --icmp-type fragmentation-needed');
    }
    expect(r.solution.steps.map((s) => [s.on, s.run.trim()])).toEqual(['control-plane', 'worker'].map((n) => [n, expect.stringMatching(/^iptables -D OUTPUT -p icmp --icmp-type fragmentation-needed /)]));
    // In-pod fixes only where the pod may change its network (client pods have NET_ADMIN, web pods do not).
    const podSteps = stepsOf(r).filter((s) => s.on.includes('/'));
    expect(new Set(podSteps.map((s) => s.on))).toEqual(new Set(['default/client-control-plane', 'default/client-worker']));
  });

  it('ip-forward-off: the break turns a forwarding setting off on the node, and the fix turns the same one on', () => {
    for (const where of ['all', 'eth0']) {
      const r = withVariant('ip-forward-off', (v) => v.where === where && v.node === 'worker');
      const key = where === 'all' ? 'net.ipv4.ip_forward' : 'net.ipv4.conf.eth0.forwarding';
      expect(r.break).toEqual([expect.objectContaining({ on: 'worker', run: expect.stringContaining(`sysctl -w ${key}=0`) })]);
      expect(r.solution.steps).toEqual([expect.objectContaining({ on: 'worker', run: expect.stringContaining(`sysctl -w ${key}=1`) })]);
    }
  });

  it('nodeport-firewalled: the fix deletes exactly the rule the break added, where it added it; the baseline is on both nodes', () => {
    for (const [where, table, chain] of [['raw', 'raw', 'PREROUTING'], ['forward', 'filter', 'FORWARD']]) {
      const r = withVariant('nodeport-firewalled', (v) => v.where === where && v.node === 'control-plane');
      // The rule's matches and target: what follows the table, the operation, the chain (and position).
      const rules = (script: string) => script.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('iptables ')).map((l) => l.replace(/^iptables (-t raw )?-[AID] \S+( 1)? /, ''));
      const added = rules(r.break[0].run);
      expect(added).toHaveLength(1);
      expect(added[0]).toContain('30000:32767');
      expect(rules(r.solution.steps[0].run)).toEqual(added);
      expect(r.break[0].run).toMatch(new RegExp(`iptables ${table === 'raw' ? '-t raw -A' : '-I'} ${chain} `));
      expect(r.solution.steps[0].run).toMatch(new RegExp(`iptables ${table === 'raw' ? '-t raw ' : ''}-D ${chain} `));
      expect(r.setup.filter((s) => s.run.includes('--dports 10255,4194')).map((s) => s.on)).toEqual(['control-plane', 'worker']);
    }
  });

  it('coredns-down: scaled to zero or crash-looping on a broken Corefile, and back', () => {
    const z = withVariant('coredns-down', (v) => v.mode === 'scaled-to-zero');
    expect(z.break[0].run).toContain('kubectl -n kube-system scale deployment/coredns --replicas=0');
    expect(z.solution.steps[0].run).toContain('kubectl -n kube-system scale deployment/coredns --replicas=2');
    const c = withVariant('coredns-down', (v) => v.mode === 'crashed');
    const corefile = 'data:\n  Corefile: |\n    .:53 {\n        errors\n        kubernetes cluster.local in-addr.arpa ip6.arpa {\n';
    const sedOf = (run: string) => run.match(/\| sed '([^']*)' \|/)![1];
    const broken = spawnSync('sed', [sedOf(c.break[0].run)], { input: corefile, encoding: 'utf8' }).stdout;
    expect(broken).toContain('        kubernets cluster.local in-addr.arpa');
    expect(spawnSync('sed', [sedOf(c.solution.steps[0].run)], { input: broken, encoding: 'utf8' }).stdout).toBe(corefile);
    expect(c.solution.steps[0].run).toContain('rollout restart deployment/coredns');
  });
  // The edits kubectl pipes through sed, applied to what kubectl prints (its YAML keys in order).
  const sedOn = (run: string, input: string) => spawnSync('sed', [run.match(/\| sed '([^']*)'/)![1]], { input, encoding: 'utf8' }).stdout;

  it('corefile-zone-typo: the zone mistyped on the kubernetes line only, and written back', () => {
    const corefile = 'data:\n  Corefile: |\n    .:53 {\n        kubernetes cluster.local in-addr.arpa ip6.arpa {\n           pods insecure\n';
    for (const zone of ['cluster.lcoal', 'clsuter.local', 'cluster.locl']) {
      const r = withVariant('corefile-zone-typo', (v) => v.zone === zone);
      const broken = sedOn(r.break[0].run, corefile);
      expect(broken).toBe(corefile.replace('kubernetes cluster.local ', `kubernetes ${zone} `));
      expect(sedOn(r.solution.steps[0].run, broken)).toBe(corefile);
      expect(r.solution.steps[0].run).toContain('rollout restart deployment/coredns');
    }
  });

  it('pod-dns-search-path: dnsPolicy None with the variant\'s search list, and back to ClusterFirst', () => {
    const pod = 'spec:\n  containers:\n  - name: client\n  dnsPolicy: ClusterFirst\n  enableServiceLinks: false\n';
    for (const [search, searches] of [['corp', ['corp.example.internal']], ['no-namespace', ['svc.cluster.local', 'cluster.local']]] as const) {
      const r = withVariant('pod-dns-search-path', (v) => v.search === search && v.node === 'worker');
      expect(r.break[0].run).toContain('kubectl get pod client-worker -o yaml');
      const broken = sedOn(r.break[0].run, pod);
      expect(parseYamlDocs(broken)[0].spec).toMatchObject({ dnsPolicy: 'None', dnsConfig: { nameservers: ['10.96.0.10'], searches }, enableServiceLinks: false });
      expect(sedOn(r.solution.steps[0].run, broken)).toBe(pod);
      const [corp, full] = r.accepts.map((a) => parseYamlDocs(sedOn(a.steps[0].run, broken))[0].spec);
      expect(corp).toMatchObject({ dnsPolicy: 'ClusterFirst', dnsConfig: { searches: ['corp.example.internal'] } });
      expect(full).toMatchObject({ dnsPolicy: 'None', dnsConfig: { searches: ['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], options: [{ name: 'ndots', value: '5' }] } });
    }
  });

  it('statefulset-pod-dns: serviceName replaced, or the Service\'s selector moved off the pods\' label, and back', () => {
    const sts = 'spec:\n  replicas: 2\n  serviceName: db\n  template:\n';
    const named = withVariant('statefulset-pod-dns', (v) => v.mode === 'service-name');
    const broken = sedOn(named.break[0].run, sts);
    expect(broken).toBe(sts.replace('serviceName: db', 'serviceName: db-headless'));
    expect(sedOn(named.solution.steps[0].run, broken)).toBe(sts);
    expect(named.break[0].run).toContain('kubectl replace --force -f -');
    const selector = withVariant('statefulset-pod-dns', (v) => v.mode === 'selector');
    const patch = (run: string) => JSON.parse(run.match(/patch service db -p '(\{.*\})'/)![1]).spec.selector;
    expect(patch(selector.break[0].run)).toEqual({ app: null, 'app.kubernetes.io/name': 'db' });
    expect(patch(selector.solution.steps[0].run)).toEqual({ app: 'db', 'app.kubernetes.io/name': null });
  });
});

describe('the kind guards, run against stand-in kubectl and ip', async () => {
  const { scenarios } = await loadCatalog();
  const bin = mkdtempSync(join(tmpdir(), 'netdojo-fakebin-'));
  afterAll(() => rmSync(bin, { recursive: true, force: true }));
  // Answers from the environment, keyed by what is asked: enough to drive the guards' logic.
  writeFileSync(join(bin, 'kubectl'), `#!/bin/bash
case "$*" in
  *"get deployment coredns"*) printf '%s' "$DEPLOY" ;;
  *"get endpointslices"*) printf '%s' "$EPS" ;;
  *"get networkpolicy deny-admin-port"*) [ -n "$DENY" ] && echo networkpolicy.networking.k8s.io/deny-admin-port || exit 1 ;;
  *"get networkpolicy egress-hardening"*) [ -n "$EGRESS" ] && printf '%s' "$EGRESS" || exit 1 ;;
  *"get networkpolicy -o name"*) echo "(policies)" ;;
  *) echo "unexpected: kubectl $*" >&2; exit 2 ;;
esac
`, { mode: 0o755 });
  writeFileSync(join(bin, 'ip'), '#!/bin/bash\n[ "$*" = "route show default" ] && printf \'%s\\n\' "$ROUTE" || { echo "unexpected: ip $*" >&2; exit 2; }\n', { mode: 0o755 });
  const guard = (id: string, check: string, pred: (v: Record<string, string | number>) => boolean = () => true) => {
    const s = scenarios.find((x) => x.spec.id === id)!;
    const c = everyVariant(s, 'kind').find((r) => pred(r.variant))!.checks.find((x) => x.id === check)!;
    if (c.kind !== 'state') throw new Error(`${check} is not a state check`);
    return (env: Record<string, string>) => spawnSync('bash', ['-c', c.run], { env: { PATH: `${bin}:${process.env.PATH}`, ...env }, encoding: 'utf8' }).status;
  };

  it('coredns-endpoints: two ready CoreDNS pods on the pod network pass; scaled down, hostNetwork, or node addresses fail', () => {
    const run = guard('coredns-down', 'coredns-endpoints');
    const eps = 'coredns-6f6b679f8f-2xk9q 10.244.0.2\ncoredns-6f6b679f8f-w8mqz 10.244.0.3';
    expect(run({ DEPLOY: '2/', EPS: eps })).toBe(0);
    expect(run({ DEPLOY: '2/false', EPS: eps })).toBe(0);
    expect(run({ DEPLOY: '/', EPS: '' })).toBe(1);
    expect(run({ DEPLOY: '1/', EPS: 'coredns-6f6b679f8f-2xk9q 10.244.0.2' })).toBe(1);
    expect(run({ DEPLOY: '2/true', EPS: 'coredns-6f6b679f8f-2xk9q 172.19.0.2\ncoredns-6f6b679f8f-w8mqz 172.19.0.3' })).not.toBe(0);
    expect(run({ DEPLOY: '2/', EPS: 'coredns-6f6b679f8f-2xk9q 172.19.0.2\ncoredns-6f6b679f8f-w8mqz 10.244.0.3' })).not.toBe(0);
    expect(run({ DEPLOY: '2/', EPS: 'dnsmasq-x 10.244.0.9\ncoredns-6f6b679f8f-w8mqz 10.244.0.3' })).not.toBe(0);
  });

  it('policies-kept: both policies as set up pass; a deleted or re-targeted policy fails', () => {
    const pod = guard('dns-egress-dropped', 'policies-kept', (v) => v.where === 'pod' && v.node === 'worker');
    expect(pod({ DENY: '1', EGRESS: 'client/worker' })).toBe(0);
    expect(pod({ DENY: '', EGRESS: 'client/worker' })).toBe(1);
    expect(pod({ DENY: '1', EGRESS: '' })).not.toBe(0);
    expect(pod({ DENY: '1', EGRESS: 'client/control-plane' })).not.toBe(0);
    // Both policies are there in every variant: the egress one was set up before the break.
    const node = guard('dns-egress-dropped', 'policies-kept', (v) => v.where === 'node' && v.node === 'control-plane');
    expect(node({ DENY: '1', EGRESS: 'client/control-plane' })).toBe(0);
    expect(node({ DENY: '', EGRESS: 'client/control-plane' })).toBe(1);
    expect(node({ DENY: '1', EGRESS: '' })).not.toBe(0);
  });

  it('default-route-unchanged: a default route through the network gateway passes; none, or one through a node, fails', () => {
    const run = guard('missing-route', 'default-route-unchanged');
    expect(run({ ROUTE: 'default via 172.19.0.1 dev eth0' })).toBe(0);
    expect(run({ ROUTE: '' })).not.toBe(0);
    expect(run({ ROUTE: 'default via 172.19.0.3 dev eth0' })).not.toBe(0);
    expect(run({ ROUTE: 'default via 172.19.0.2 dev eth0' })).not.toBe(0);
  });
});
