import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { loadScenario, type LoadedScenario } from '../../scenario/load.ts';
import { renderScenario } from '../../scenario/render.ts';
import { Step } from '../../scenario/schema.ts';
import { factsFrom } from './facts.ts';
import { KindLab } from './lab.ts';
import { parseYamlDocs, renderBaseManifests } from './render.ts';
import { baseTopology } from '../../lab/topology.ts';

// The kind steps for the seed scenarios (scenario-steps.yaml), checked the way the scenario loader
// will use them: schema, rendering with the real renderer and helpers for every seeded variant on
// the facts of a kind cluster, targets that exist on kind, shell syntax, and the manifests and
// patches they apply.

const here = import.meta.dirname;
const steps = parseYaml(readFileSync(join(here, 'scenario-steps.yaml'), 'utf8')) as Record<string, any>;
const fx = JSON.parse(readFileSync(join(here, '..', '..', '..', 'test', 'fixtures', 'kind', 'cluster-readback.json'), 'utf8'));
const facts = factsFrom({ id: 'labfix01', scenario: 'x', seed: 1, cluster: fx.cluster, nodes: fx.nodes.items, pods: fx.pods.items, services: fx.services.items });
const lab = new KindLab({ id: 'labfix01', provider: 'kind', scenario: 'x', seed: 1, cluster: fx.cluster, network: fx.cluster, mtu: 1500, createdAt: '', state: 'ready', pid: 1, host: 'h', facts }, { destroy: async () => {} });
const targets = lab.targets();
const base = parseYamlDocs(renderBaseManifests(baseTopology(), { labId: 'labfix01' }));
const clientLabels = (node: string) => base.find((d) => d.kind === 'Pod' && d.metadata.name === `client-${node}`)!.metadata.labels as Record<string, string>;
const webLabels = base.find((d) => d.kind === 'Deployment')!.spec.template.metadata.labels as Record<string, string>;
const selects = (sel: Record<string, string>, labels: Record<string, string>) => Object.entries(sel).every(([k, v]) => labels[k] === v);

const SCENARIOS = ['dns-egress-dropped', 'mtu-blackhole', 'coredns-down', 'missing-route'];

function withKindSteps(loaded: LoadedScenario, mine: Record<string, any>): LoadedScenario {
  const attempts = (list: any[] = []) => list.map((a) => ({ name: a.name, fails: a.fails, steps: { kind: a.steps } }));
  return {
    ...loaded,
    brief: '',
    solution: '',
    spec: {
      ...loaded.spec,
      providers: ['netns', 'kind'],
      checks: [],
      hints: [],
      setup: { kind: mine.setup },
      break: { kind: mine.break },
      solution: { kind: mine.solution },
      // Guards are rendered like steps, to check their templates and shell too.
      accepts: [...attempts(mine.accepts), ...((steps.guards[loaded.spec.id] ?? []) as any[]).map((g) => ({ name: `guard ${g.id}`, steps: { kind: [{ on: g.on, run: g.run }] } }))],
      rejects: attempts(mine.rejects),
    } as LoadedScenario['spec'],
  };
}

function heredocs(script: string): string[] {
  return [...script.matchAll(/<<'EOF'\n([\s\S]*?)\nEOF/g)].map((m) => m[1]);
}

describe.each(SCENARIOS)('kind steps for %s', (id) => {
  const mine = steps[id];

  it('are valid steps for the scenario schema', () => {
    expect(mine, `scenario-steps.yaml has no ${id}`).toBeDefined();
    const list = z.array(Step);
    for (const part of ['setup', 'break', 'solution'] as const) if (mine[part]) list.parse(mine[part]);
    expect(mine.break.length).toBeGreaterThan(0);
    expect(mine.solution.length).toBeGreaterThan(0);
    for (const a of [...(mine.accepts ?? []), ...(mine.rejects ?? [])]) list.parse(a.steps);
  });

  it('render for every seeded variant on a kind lab, on kind targets, as valid bash', async () => {
    const loaded = withKindSteps(await loadScenario(id), mine);
    const keys = Object.keys(loaded.spec.variants);
    const combos = new Set<string>();
    const expected = Object.values(loaded.spec.variants).reduce((n, vs) => n * vs.length, 1);
    for (let seed = 1; seed <= 200 && combos.size < expected; seed++) {
      const r = renderScenario(loaded, facts, seed, 'kind', targets);
      combos.add(keys.map((k) => r.variant[k]).join('/'));
      const all = [...r.setup, ...r.break, ...r.solution.steps, ...r.accepts.flatMap((a) => a.steps), ...r.rejects.flatMap((a) => a.steps)];
      for (const s of all) {
        expect([...targets, 'admin']).toContain(s.on);
        const syntax = spawnSync('bash', ['-n'], { input: `set -e\n${s.run}`, encoding: 'utf8' });
        expect(syntax.status, `${id} ${JSON.stringify(r.variant)} on ${s.on}: ${syntax.stderr}\n${s.run}`).toBe(0);
        expect(s.run).not.toContain('{{'); // nothing left unrendered
      }
    }
    expect(combos.size).toBe(expected);
  });
});

describe('what the kind steps apply', () => {
  const render = async (id: string, seed: number) => renderScenario(withKindSteps(await loadScenario(id), steps[id]), facts, seed, 'kind', targets);
  const seedWhere = async (id: string, pred: (v: Record<string, string | number>) => boolean) => {
    for (let seed = 1; seed < 500; seed++) {
      const r = await render(id, seed);
      if (pred(r.variant)) return r;
    }
    throw new Error('no seed gives that variant');
  };

  it('dns-egress-dropped: the egress policy selects only the client on the broken node, and lets it reach web but not DNS', async () => {
    for (const node of ['control-plane', 'worker']) {
      const r = await seedWhere('dns-egress-dropped', (v) => v.where === 'pod' && v.node === node);
      const [pol] = parseYamlDocs(heredocs(r.break[0].run)[0]);
      expect(pol).toMatchObject({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace: 'default' }, spec: { policyTypes: ['Egress'] } });
      const sel = pol.spec.podSelector.matchLabels;
      const other = node === 'worker' ? 'control-plane' : 'worker';
      expect(selects(sel, clientLabels(node))).toBe(true);
      expect(selects(sel, clientLabels(other))).toBe(false);
      expect(selects(sel, webLabels)).toBe(false);
      // Egress allowed to the web pods only (every port and ICMP): not to CoreDNS, not on port 53.
      expect(pol.spec.egress).toHaveLength(1);
      expect(pol.spec.egress[0].ports).toBeUndefined();
      const peers = pol.spec.egress[0].to;
      expect(peers.every((p: any) => !p.namespaceSelector && !p.ipBlock)).toBe(true);
      expect(peers.some((p: any) => selects(p.podSelector.matchLabels, webLabels))).toBe(true);
      expect(peers.some((p: any) => selects(p.podSelector.matchLabels, { 'k8s-app': 'kube-dns' }))).toBe(false);

      // The reference fix adds DNS to that policy; the alternative adds a policy for the same pods.
      const patch = r.solution.steps[0].run.match(/-p '(\[.*\])'/)![1];
      const ops = JSON.parse(patch);
      expect(ops[0]).toMatchObject({ op: 'add', path: '/spec/egress/-' });
      expect(ops[0].value.ports).toEqual([{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }]);
      expect(ops[0].value.to[0].podSelector.matchLabels).toEqual({ 'k8s-app': 'kube-dns' });
      const [allow] = parseYamlDocs(heredocs(r.accepts[0].steps[0].run)[0]);
      expect(allow.spec.podSelector.matchLabels).toEqual(sel);
      expect(allow.spec.egress[0].ports.map((p: any) => `${p.protocol}/${p.port}`)).toEqual(['UDP/53', 'TCP/53']);
    }
  });

  it('dns-egress-dropped: the admin-port policy keeps 9090 closed and 8080 open on the web pods', async () => {
    const r = await render('dns-egress-dropped', 1);
    const [pol] = parseYamlDocs(heredocs(r.setup[0].run)[0]);
    expect(selects(pol.spec.podSelector.matchLabels, webLabels)).toBe(true);
    expect(pol.spec.ingress.flatMap((i: any) => i.ports.map((p: any) => p.port))).toEqual([8080]);
  });

  it('dns-egress-dropped on a node: the drop rule matches the pre-DNAT destination, and the fix deletes exactly it', async () => {
    const r = await seedWhere('dns-egress-dropped', (v) => v.where === 'node');
    expect(r.break[0].on).toBe(r.variant.node);
    expect(r.break[0].run).toContain('--ctorigdst 10.96.0.10 --ctorigdstport 53');
    expect(r.solution.steps[0].run.replace(/-D FORWARD/g, '-I FORWARD')).toBe(r.break[0].run.replace('# FORWARD sees packets after kube-proxy\'s DNAT: match the original destination.\n', ''));
  });

  it('missing-route: reads the other node\'s podCIDR from the API and the fix restores the kindnet route', async () => {
    const r = await seedWhere('missing-route', (v) => v.node === 'worker' && v.how === 'deleted');
    expect(r.break[0].run).toContain('delete daemonset kindnet --cascade=foreground');
    expect(r.break[0].run).toContain('kubectl get node "$NETDOJO_CLUSTER-control-plane" -o jsonpath=\'{.spec.podCIDR}\'');
    expect(r.break[0].run).toContain('docker exec "$NETDOJO_CLUSTER-worker" ip route del "$cidr"');
    expect(r.solution.steps[0]).toEqual({ name: "restore the route to control-plane's pod CIDR, as kindnet programs it", on: 'worker', run: 'ip route replace 10.244.0.0/24 via 172.19.0.2 dev eth0' });
  });

  it('mtu-blackhole and coredns-down act where the fault lives', async () => {
    const m = await seedWhere('mtu-blackhole', (v) => v.node === 'worker' && v.mtu === 1380);
    expect(m.break[0].on).toBe('worker');
    expect(m.break[0].run).toContain('ip link set eth0 mtu 1380');
    expect(m.solution.steps.map((s) => s.on)).toEqual(['worker', 'default/client-worker', 'default/client-control-plane']);
    const c = await seedWhere('coredns-down', (v) => v.mode === 'scaled-to-zero');
    expect(c.break[0].run).toContain('kubectl -n kube-system scale deployment/coredns --replicas=0');
    expect(c.solution.steps[0].run).toContain('--replicas=2');
  });
});
