import { describe, expect, it } from 'vitest';
import { compareTables, formatComparison, ignoreLoopback, setCell, truthTable, type TruthTable } from '../../grader/truth-table.ts';
import { applyDefaults } from '../../server/cluster/admission/defaults.ts';
import { validate } from '../../server/cluster/admission/validate.ts';
import { allowanceMatches, allowed, podRules, worldFromObjects, type PodInfo, type Protocol, type World } from '../../server/cluster/netpol/policy.ts';
import type { KubeObject } from '../../server/cluster/object.ts';
import { expectedTable, TCP_CASES, UDP_CASES, UPSTREAM_CASES, type UpstreamCase } from './upstream-cases.ts';
import { concretePolicy, namespaceManifest, NAMESPACES, podManifest, PODS, probeCommand, SERVED, serviceManifest, splitPodRef, worldManifests, type PodIPs, type PodRef } from './world.ts';

// Every case, step by step, against the oracle: the world as the API server would store it (with
// its defaults, so namespaces carry kubernetes.io/metadata.name), fake pod IPs on two nodes' pod
// subnets, and at each probe step the oracle's verdict for all 81 pairs must be the case's table
// (self-pairs aside, as upstream). A disagreement is a mistake in the port of the case or in the
// oracle. The same tables must come out of the resolved rules a dataplane compiler renders.

const IPS: PodIPs = {
  'x/a': '10.244.1.10', 'x/b': '10.244.2.11', 'x/c': '10.244.1.12',
  'y/a': '10.244.2.13', 'y/b': '10.244.1.14', 'y/c': '10.244.2.15',
  'z/a': '10.244.1.16', 'z/b': '10.244.2.17', 'z/c': '10.244.1.18',
};

const valid = (kind: 'Namespace' | 'Pod' | 'Service' | 'NetworkPolicy', manifest: KubeObject): KubeObject => {
  const stored = applyDefaults(kind, manifest);
  expect(validate(kind, stored), `${kind} ${manifest.metadata.namespace ?? ''}/${manifest.metadata.name}`).toEqual([]);
  return stored;
};

/** The world before a case's first step: what the API server stores, pods running with their IPs. */
function initialObjects() {
  const namespaces = new Map(NAMESPACES.map((ns) => [ns, valid('Namespace', namespaceManifest(ns))]));
  const pods = new Map(PODS.map((ref) => [ref, { ...valid('Pod', podManifest(ref)), status: { phase: 'Running', podIP: IPS[ref], podIPs: [{ ip: IPS[ref] }] } }]));
  for (const ref of PODS) valid('Service', serviceManifest(ref));
  return { namespaces, pods, policies: new Map<string, KubeObject>() };
}

/** What a compiler rendering podRules would let through. */
function allowedByRules(world: World, from: PodInfo, to: PodInfo, port: number, protocol: Protocol): boolean {
  const side = (pod: PodInfo, direction: 'ingress' | 'egress', farIP: string) => {
    const r = podRules(world, pod, direction);
    return !r.isolated || r.rules.some((rule) => rule.allows.some((a) => allowanceMatches(a, farIP, port, protocol)));
  };
  return side(from, 'egress', to.ip) && side(to, 'ingress', from.ip);
}

function table(world: World, verdict: (from: PodInfo, to: PodInfo) => boolean): TruthTable {
  const byRef = (ref: PodRef) => {
    const { namespace, pod } = splitPodRef(ref);
    const p = world.pods.find((q) => q.namespace === namespace && q.name === pod);
    if (!p) throw new Error(`no pod ${ref} in the world`);
    return p;
  };
  const t = truthTable(PODS, PODS);
  for (const from of PODS) for (const to of PODS) setCell(t, from, to, verdict(byRef(from), byRef(to)));
  return t;
}

function runCase(c: UpstreamCase): void {
  const o = initialObjects();
  const policyKey = (ns: string, name: string) => `${ns}/${name}`;
  c.steps.forEach((step, i) => {
    const at = `step ${i + 1} (${step.do})`;
    switch (step.do) {
      case 'create':
      case 'update': {
        const key = policyKey(step.policy.metadata.namespace, step.policy.metadata.name);
        if (o.policies.has(key) !== (step.do === 'update')) throw new Error(`${at}: ${key} ${step.do === 'create' ? 'already exists' : 'does not exist'}`);
        o.policies.set(key, valid('NetworkPolicy', concretePolicy(step.policy, IPS)));
        return;
      }
      case 'delete':
        if (!o.policies.delete(policyKey(step.namespace, step.name))) throw new Error(`${at}: no policy ${step.namespace}/${step.name}`);
        return;
      case 'labelNamespace': {
        const ns = o.namespaces.get(step.namespace)!;
        ns.metadata.labels = { ...ns.metadata.labels, ...step.labels };
        return;
      }
      case 'labelPod': {
        const pod = o.pods.get(step.pod)!;
        pod.metadata.labels = { ...pod.metadata.labels, ...step.labels };
        return;
      }
      case 'probe': {
        const world = worldFromObjects({ namespaces: [...o.namespaces.values()], pods: [...o.pods.values()], policies: [...o.policies.values()] });
        const expected = expectedTable(step.expect);
        const observed = table(world, (from, to) => allowed(world, from, to, step.port, step.protocol));
        const what = `${at}, ${step.port}/${step.protocol}: the oracle against the case`;
        expect(compareTables(expected, observed, ignoreLoopback).wrong.length, `${what}\n${formatComparison(expected, observed, ignoreLoopback)}`).toBe(0);
        const rendered = table(world, (from, to) => allowedByRules(world, from, to, step.port, step.protocol));
        expect(compareTables(observed, rendered).wrong.length, `${at}, ${step.port}/${step.protocol}: the resolved rules against the oracle\n${formatComparison(observed, rendered)}`).toBe(0);
      }
    }
  });
}

describe('the world', () => {
  it('is upstream\'s: 3 namespaces, then 9 pods each behind its Service, serving 80 and 81 on TCP and UDP', () => {
    const m = worldManifests();
    expect(m.map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`).slice(0, 5)).toEqual(['Namespace /x', 'Namespace /y', 'Namespace /z', 'Pod x/a', 'Service x/s-x-a']);
    expect(m).toHaveLength(3 + 9 * 2);
    expect(podManifest('y/b')).toMatchObject({ metadata: { namespace: 'y', name: 'b', labels: { pod: 'b' } }, spec: { terminationGracePeriodSeconds: 0, containers: [
      { name: 'cont-80-tcp', image: 'registry.k8s.io/e2e-test-images/agnhost:2.53', imagePullPolicy: 'IfNotPresent', command: ['/agnhost', 'serve-hostname', '--tcp', '--http=false', '--port', '80'], ports: [{ containerPort: 80, name: 'serve-80-tcp', protocol: 'TCP' }] },
      { name: 'cont-80-udp', image: 'registry.k8s.io/e2e-test-images/agnhost:2.53', imagePullPolicy: 'IfNotPresent', command: ['/agnhost', 'serve-hostname', '--udp', '--http=false', '--port', '80'], ports: [{ containerPort: 80, name: 'serve-80-udp', protocol: 'UDP' }] },
      expect.objectContaining({ name: 'cont-81-tcp' }),
      expect.objectContaining({ name: 'cont-81-udp' }),
    ] } });
    expect(serviceManifest('y/b').spec).toEqual({ selector: { pod: 'b' }, ports: SERVED.map(({ port, protocol }) => ({ name: `service-port-${protocol.toLowerCase()}-${port}`, protocol, port })) });
  });

  it('probes as upstream does, from the first container to the Service', () => {
    expect(probeCommand('x/a', '10.96.12.34', 81, 'UDP')).toEqual({ namespace: 'x', pod: 'a', container: 'cont-80-tcp', command: ['/agnhost', 'connect', '10.96.12.34:81', '--timeout=1s', '--protocol=udp'] });
  });

  it('writes pod-IP CIDRs out as the network of that prefix around the pod\'s IP', () => {
    const p = concretePolicy({
      apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace: 'x', name: 'p' },
      spec: { podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: { podIPCIDR: 'x/b', prefix: 4 }, except: [{ podIPCIDR: 'x/b', prefix: 32 }, '10.0.0.0/8'] } }, { podSelector: {} }], ports: [{ port: 80 }] }], ingress: [{}] },
    }, IPS);
    expect(p.spec).toEqual({ podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/4', except: ['10.244.2.11/32', '10.0.0.0/8'] } }, { podSelector: {} }], ports: [{ port: 80 }] }], ingress: [{}] });
    expect(() => concretePolicy({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace: 'x', name: 'p' }, spec: { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: { podIPCIDR: 'x/b', prefix: 32 } } }] }] } }, { ...IPS, 'x/b': '' })).toThrow('no IPv4 address for x/b');
  });
});

describe('the upstream cases', () => {
  it('are all of upstream\'s TCP and UDP groups', () => {
    expect(TCP_CASES).toHaveLength(42);
    expect(UDP_CASES).toHaveLength(3);
    for (const group of [TCP_CASES, UDP_CASES]) expect(new Set(group.map((c) => c.title)).size).toBe(group.length);
  });

  it('probe only what the world serves, and list only its pods', () => {
    for (const c of UPSTREAM_CASES) {
      for (const s of c.steps) if (s.do === 'probe') expect(SERVED, c.title).toContainEqual({ port: s.port, protocol: s.protocol });
      for (const p of c.upstreamPods) expect(PODS, c.title).toContain(p);
      expect(c.steps.some((s) => s.do === 'probe'), c.title).toBe(true);
    }
  });

  it('flag exactly the cases whose policies name SCTP, none of which probes SCTP', () => {
    for (const c of UPSTREAM_CASES) {
      const namesSctp = c.steps.some((s) => (s.do === 'create' || s.do === 'update') && JSON.stringify(s.policy).includes('"SCTP"'));
      expect(c.sctp === 'policy', c.title).toBe(namesSctp);
      expect(c.steps.some((s) => s.do === 'probe' && s.protocol === 'SCTP'), c.title).toBe(false);
    }
  });
});

describe.each([['TCP', TCP_CASES], ['UDP', UDP_CASES]] as const)('the oracle agrees with upstream\'s %s group', (_group, cases) => {
  it.each(cases.map((c) => [c.title, c] as const))('%s', (_title, c) => runCase(c));
});
