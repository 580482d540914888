import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../object.ts';
import {
  allowanceMatches, allowed, isolatedPods, parsePolicy, podInfo, podRules, selectsPod, worldFromObjects,
  type ContainerPortInfo, type Endpoint, type NamespaceInfo, type NetworkPolicy, type PodInfo, type Protocol, type World,
} from './policy.ts';

const np = (namespace: string, name: string, spec: Record<string, unknown>): KubeObject =>
  ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace, name }, spec });
const policy = (namespace: string, name: string, spec: Record<string, unknown>) => parsePolicy(np(namespace, name, spec));

const web: ContainerPortInfo[] = [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }];
const mkPod = (ref: string, ip: string, labels: Record<string, string> = {}, ports = web, hostNetwork = false): PodInfo => {
  const [namespace, name] = ref.split('/');
  return { namespace, name, labels: { app: name, ...labels }, ip, hostNetwork, ports };
};

// Two namespaces; "web" serves http on 80, "alt" names its 8080 http; a hostNetwork agent has the node's IP.
const PODS = {
  web: mkPod('prod/web', '10.244.1.2', { tier: 'front' }),
  alt: mkPod('prod/alt', '10.244.1.3', { tier: 'front' }, [{ name: 'http', port: 8080, protocol: 'TCP' }]),
  db: mkPod('prod/db', '10.244.1.4', { tier: 'back' }),
  client: mkPod('dev/client', '10.244.2.2'),
  tool: mkPod('dev/tool', '10.244.2.3', { tier: 'front' }),
  agent: mkPod('prod/agent', '172.18.0.2', { tier: 'front' }, [], true),
};
const EXTERNAL = '192.0.2.7';
const NAMESPACES: NamespaceInfo[] = [{ name: 'prod', labels: { 'kubernetes.io/metadata.name': 'prod', env: 'prod' } }, { name: 'dev', labels: { 'kubernetes.io/metadata.name': 'dev' } }];
const world = (...policies: NetworkPolicy[]): World => ({ namespaces: NAMESPACES, pods: Object.values(PODS), policies });

/** Ingress into prod/web from `from`, on TCP 80. */
const intoWeb = (w: World, from: Endpoint, port = 80, protocol: Protocol = 'TCP') => allowed(w, from, PODS.web, port, protocol);

describe('parsing a NetworkPolicy', () => {
  it('defaults policyTypes as the API server does: Ingress, and Egress when there are egress rules', () => {
    expect(policy('prod', 'p', { podSelector: {} }).policyTypes).toEqual(['ingress']);
    expect(policy('prod', 'p', { podSelector: {}, egress: [{}] }).policyTypes).toEqual(['ingress', 'egress']);
    expect(policy('prod', 'p', { podSelector: {}, egress: [] }).policyTypes).toEqual(['ingress']);
    expect(policy('prod', 'p', { podSelector: {}, policyTypes: [] }).policyTypes).toEqual(['ingress']);
    expect(policy('prod', 'p', { podSelector: {}, policyTypes: ['Egress'], ingress: [{}] }).policyTypes).toEqual(['egress']);
    expect(policy('prod', 'p', { podSelector: {}, policyTypes: ['Egress', 'Ingress'] }).policyTypes).toEqual(['ingress', 'egress']);
  });

  it('reads absent, null and empty peer and port lists as "any", and defaults protocols to TCP', () => {
    const p = policy('prod', 'p', {
      podSelector: { matchLabels: { app: 'web' } },
      ingress: [{}, { from: null, ports: [] }, { from: [{ podSelector: {} }], ports: [{ port: 80 }, { port: 'http', protocol: 'UDP' }, { port: 30000, endPort: 32767 }, { protocol: 'SCTP' }] }],
    });
    expect(p.ingress[0]).toEqual({ peers: 'any', ports: 'any' });
    expect(p.ingress[1]).toEqual({ peers: 'any', ports: 'any' });
    expect(p.ingress[2]).toEqual({
      peers: [{ kind: 'pods', namespaces: 'own', pods: [] }],
      ports: [
        { kind: 'number', protocol: 'TCP', port: 80 },
        { kind: 'name', protocol: 'UDP', name: 'http' },
        { kind: 'number', protocol: 'TCP', port: 30000, endPort: 32767 },
        { kind: 'number', protocol: 'SCTP' },
      ],
    });
  });

  it('keeps the three kinds of selector peer apart, and ipBlocks with their excepts', () => {
    const p = policy('prod', 'p', {
      podSelector: {},
      ingress: [{ from: [
        { podSelector: { matchLabels: { tier: 'front' } } },
        { namespaceSelector: {} },
        { namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'Exists' }] }, podSelector: { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['back'] }] } },
        { ipBlock: { cidr: '10.0.0.0/8', except: ['10.244.1.0/24'] } },
      ] }],
    });
    expect(p.ingress[0].peers).toEqual([
      { kind: 'pods', namespaces: 'own', pods: [{ key: 'tier', op: 'in', values: ['front'] }] },
      { kind: 'pods', namespaces: [], pods: [] },
      { kind: 'pods', namespaces: [{ key: 'env', op: 'exists' }], pods: [{ key: 'tier', op: 'notin', values: ['back'] }] },
      { kind: 'ipBlock', cidr: '10.0.0.0/8', except: ['10.244.1.0/24'] },
    ]);
  });

  it('refuses what the API server would refuse, naming the field', () => {
    const bad = (spec: Record<string, unknown>) => () => policy('prod', 'bad', spec);
    expect(bad({ podSelector: {}, ingress: [{ from: [{}] }] })).toThrow('NetworkPolicy prod/bad: spec.ingress[0].from[0]: must specify a peer');
    expect(bad({ podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] }] })).toThrow('spec.egress[0].to[0]: may not specify both ipBlock and another peer');
    expect(bad({ podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0' } }] }] })).toThrow('spec.ingress[0].from[0].ipBlock.cidr: "10.0.0.0" is not a CIDR');
    expect(bad({ podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/33'] } }] }] })).toThrow('ipBlock.except[0]');
    expect(bad({ podSelector: {}, ingress: [{ ports: [{ port: 'http', endPort: 90 }] }] })).toThrow('spec.ingress[0].ports[0].endPort: may not be specified when `port` is non-numeric');
    expect(bad({ podSelector: {}, ingress: [{ ports: [{ port: 90, endPort: 80 }] }] })).toThrow('greater than or equal');
    expect(bad({ podSelector: {}, ingress: [{ ports: [{ endPort: 80 }] }] })).toThrow('must be specified with `port`');
    expect(bad({ podSelector: {}, ingress: [{ ports: [{ port: 0 }] }] })).toThrow('spec.ingress[0].ports[0].port');
    expect(bad({ podSelector: {}, ingress: [{ ports: [{ protocol: 'ICMP' }] }] })).toThrow('spec.ingress[0].ports[0].protocol');
    expect(bad({ podSelector: { matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] } })).toThrow('spec.podSelector.matchExpressions[0].operator');
    expect(bad({ podSelector: {}, policyTypes: ['Both'] })).toThrow('spec.policyTypes[0]');
    expect(() => parsePolicy({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'p' }, spec: {} })).toThrow('metadata.namespace and metadata.name are required');
  });

  it('takes pods from the API as their address, labels and container ports', () => {
    const pod = (status: Record<string, unknown>, spec: Record<string, unknown> = {}): KubeObject => ({
      apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'prod', name: 'web', labels: { app: 'web' } },
      spec: { containers: [{ name: 'a', ports: [{ name: 'http', containerPort: 80 }] }, { name: 'b' }], ...spec }, status,
    });
    expect(podInfo(pod({ phase: 'Running', podIP: '10.244.1.2' }))).toEqual({ namespace: 'prod', name: 'web', labels: { app: 'web' }, ip: '10.244.1.2', hostNetwork: false, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] });
    expect(podInfo(pod({ phase: 'Running', podIPs: [{ ip: 'fd00::2' }, { ip: '10.244.1.2' }] }))?.ip).toBe('10.244.1.2');
    expect(podInfo(pod({ phase: 'Pending' }))).toBeUndefined();
    expect(podInfo(pod({ phase: 'Succeeded', podIP: '10.244.1.2' }))).toBeUndefined();
    expect(podInfo(pod({ phase: 'Running', podIP: '172.18.0.2' }, { hostNetwork: true }))?.hostNetwork).toBe(true);
    const w = worldFromObjects({
      namespaces: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod', labels: { env: 'prod' } } }],
      pods: [pod({ phase: 'Running', podIP: '10.244.1.2' }), pod({ phase: 'Pending' })],
      policies: [np('prod', 'deny', { podSelector: {} })],
    });
    expect(w.namespaces).toEqual([{ name: 'prod', labels: { env: 'prod' } }]);
    expect(w.pods.map((p) => p.ip)).toEqual(['10.244.1.2']);
    expect(w.policies.map((p) => p.name)).toEqual(['deny']);
  });
});

describe('which pods a policy selects', () => {
  it('selects in its own namespace only; an empty podSelector selects all of them', () => {
    const all = policy('prod', 'all', { podSelector: {} });
    expect(Object.values(PODS).filter((p) => selectsPod(all, p)).map((p) => p.name)).toEqual(['web', 'alt', 'db']);
  });

  it('matches labels and expressions: In, NotIn (also without the key), Exists, DoesNotExist', () => {
    const names = (podSelector: unknown) => Object.values(PODS).filter((p) => selectsPod(policy('prod', 'p', { podSelector }), p)).map((p) => p.name);
    expect(names({ matchLabels: { tier: 'front' } })).toEqual(['web', 'alt']);
    expect(names({ matchExpressions: [{ key: 'app', operator: 'In', values: ['db', 'web'] }] })).toEqual(['web', 'db']);
    expect(names({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['front'] }] })).toEqual(['db']);
    expect(names({ matchExpressions: [{ key: 'color', operator: 'NotIn', values: ['red'] }] })).toEqual(['web', 'alt', 'db']);
    expect(names({ matchExpressions: [{ key: 'tier', operator: 'Exists' }] })).toEqual(['web', 'alt', 'db']);
    expect(names({ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] })).toEqual([]);
    expect(names({ matchLabels: { tier: 'front' }, matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['alt'] }] })).toEqual(['web']);
  });

  it('never selects a hostNetwork pod', () => {
    expect(selectsPod(policy('prod', 'all', { podSelector: {} }), PODS.agent)).toBe(false);
  });

  it('isolates them in the directions of its policyTypes', () => {
    const w = world();
    const names = (p: NetworkPolicy) => { const r = isolatedPods(w, p); return { ingress: r.ingress.map((x) => x.name), egress: r.egress.map((x) => x.name) }; };
    expect(names(policy('prod', 'p', { podSelector: { matchLabels: { tier: 'front' } } }))).toEqual({ ingress: ['web', 'alt'], egress: [] });
    expect(names(policy('prod', 'p', { podSelector: { matchLabels: { app: 'db' } }, policyTypes: ['Egress'] }))).toEqual({ ingress: [], egress: ['db'] });
    expect(names(policy('dev', 'p', { podSelector: {}, egress: [{}] }))).toEqual({ ingress: ['client', 'tool'], egress: ['client', 'tool'] });
  });
});

describe('peers', () => {
  const only = (from: unknown[]) => world(policy('prod', 'p', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from }] }));

  it('a podSelector alone picks pods of the policy\'s namespace; empty, all of them', () => {
    const w = only([{ podSelector: { matchLabels: { tier: 'front' } } }]);
    expect([PODS.alt, PODS.db, PODS.tool].map((p) => intoWeb(w, p))).toEqual([true, false, false]);
    const any = only([{ podSelector: {} }]);
    expect([PODS.alt, PODS.db, PODS.tool, PODS.client].map((p) => intoWeb(any, p))).toEqual([true, true, false, false]);
  });

  it('a namespaceSelector alone picks every pod of the namespaces it matches; empty, every pod', () => {
    const w = only([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'dev' } } }]);
    expect([PODS.db, PODS.client, PODS.tool].map((p) => intoWeb(w, p))).toEqual([false, true, true]);
    const any = only([{ namespaceSelector: {} }]);
    expect([PODS.db, PODS.client, PODS.tool].map((p) => intoWeb(any, p))).toEqual([true, true, true]);
  });

  it('both in one peer must both match; in two peers either may', () => {
    const and = only([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'dev' } }, podSelector: { matchLabels: { tier: 'front' } } }]);
    expect([PODS.alt, PODS.client, PODS.tool].map((p) => intoWeb(and, p))).toEqual([false, false, true]);
    const or = only([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'dev' } } }, { podSelector: { matchLabels: { tier: 'front' } } }]);
    expect([PODS.alt, PODS.db, PODS.client, PODS.tool].map((p) => intoWeb(or, p))).toEqual([true, false, true, true]);
  });

  it('selectors match pods, never other addresses; an absent from matches everything', () => {
    expect(intoWeb(only([{ namespaceSelector: {} }]), EXTERNAL)).toBe(false);
    expect(intoWeb(only([{ podSelector: {}, namespaceSelector: {} }]), EXTERNAL)).toBe(false);
    const open = world(policy('prod', 'p', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{}] }));
    expect(intoWeb(open, EXTERNAL)).toBe(true);
  });

  it('an ipBlock matches addresses, pods by their IP, and not what its excepts cut out', () => {
    const w = only([{ ipBlock: { cidr: '10.244.0.0/16', except: ['10.244.1.0/24', '10.244.2.3/32'] } }, { ipBlock: { cidr: '192.0.2.0/24' } }]);
    expect([PODS.alt, PODS.client, PODS.tool].map((p) => intoWeb(w, p))).toEqual([false, true, false]);
    expect(intoWeb(w, EXTERNAL)).toBe(true);
    expect(intoWeb(w, '198.51.100.1')).toBe(false);
    // An address that is a pod's is that pod, whichever way it is named.
    expect(intoWeb(w, PODS.client.ip)).toBe(true);
  });

  it('an ipBlock with host bits set is its network; an IPv6 one matches no IPv4 address', () => {
    expect(intoWeb(only([{ ipBlock: { cidr: '10.244.2.99/24' } }]), PODS.client)).toBe(true);
    expect(intoWeb(only([{ ipBlock: { cidr: '::/0' } }]), PODS.client)).toBe(false);
  });

  it('a hostNetwork pod is its node\'s IP: only an ipBlock matches it, and no policy isolates it', () => {
    expect(intoWeb(only([{ podSelector: { matchLabels: { tier: 'front' } } }]), PODS.agent)).toBe(false);
    expect(intoWeb(only([{ ipBlock: { cidr: '172.18.0.0/16' } }]), PODS.agent)).toBe(true);
    const denyAll = world(policy('prod', 'deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }));
    expect(allowed(denyAll, PODS.client, PODS.agent, 80, 'TCP')).toBe(true);
    expect(allowed(denyAll, PODS.agent, PODS.client, 80, 'TCP')).toBe(true);
    expect(allowed(denyAll, PODS.agent, PODS.web, 80, 'TCP')).toBe(false);
  });
});

describe('ports', () => {
  const ports = (p: unknown[]) => world(policy('prod', 'p', { podSelector: {}, ingress: [{ ports: p }] }));

  it('a number on a protocol, TCP when omitted; no number is every port of the protocol', () => {
    const w = ports([{ port: 80 }, { protocol: 'UDP' }]);
    expect(intoWeb(w, PODS.client, 80, 'TCP')).toBe(true);
    expect(intoWeb(w, PODS.client, 81, 'TCP')).toBe(false);
    expect(intoWeb(w, PODS.client, 80, 'UDP')).toBe(true);
    expect(intoWeb(w, PODS.client, 5353, 'UDP')).toBe(true);
    expect(intoWeb(w, PODS.client, 80, 'SCTP')).toBe(false);
  });

  it('TCP, UDP and SCTP are told apart', () => {
    const w = ports([{ port: 80, protocol: 'SCTP' }]);
    expect(intoWeb(w, PODS.client, 80, 'SCTP')).toBe(true);
    expect(intoWeb(w, PODS.client, 80, 'TCP')).toBe(false);
    expect(intoWeb(w, PODS.client, 80, 'UDP')).toBe(false);
  });

  it('a range from port to endPort, both included', () => {
    const w = ports([{ port: 8000, endPort: 8080 }]);
    expect([7999, 8000, 8042, 8080, 8081].map((p) => intoWeb(w, PODS.client, p))).toEqual([false, true, true, true, false]);
  });

  it('a named port is the destination pod\'s container port of that name and protocol', () => {
    const w = ports([{ port: 'http' }]);
    expect(allowed(w, PODS.client, PODS.web, 80, 'TCP')).toBe(true);
    expect(allowed(w, PODS.client, PODS.web, 8080, 'TCP')).toBe(false);
    expect(allowed(w, PODS.client, PODS.alt, 8080, 'TCP')).toBe(true);
    expect(allowed(w, PODS.client, PODS.alt, 80, 'TCP')).toBe(false);
    // web's "dns" is a UDP port: as a TCP named port it resolves to nothing.
    const dns = ports([{ port: 'dns' }]);
    expect(intoWeb(dns, PODS.client, 53, 'TCP')).toBe(false);
    expect(intoWeb(dns, PODS.client, 53, 'UDP')).toBe(false);
    expect(intoWeb(ports([{ port: 'dns', protocol: 'UDP' }]), PODS.client, 53, 'UDP')).toBe(true);
  });

  it('an egress named port resolves on each destination, and never matches one that is not a pod', () => {
    const w = world(policy('dev', 'p', { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'http' }] }] }));
    expect(allowed(w, PODS.client, PODS.web, 80, 'TCP')).toBe(true);
    expect(allowed(w, PODS.client, PODS.alt, 80, 'TCP')).toBe(false);
    expect(allowed(w, PODS.client, PODS.alt, 8080, 'TCP')).toBe(true);
    expect(allowed(w, PODS.client, EXTERNAL, 80, 'TCP')).toBe(false);
    expect(allowed(w, PODS.client, PODS.agent, 80, 'TCP')).toBe(false);
  });
});

describe('the verdict', () => {
  it('needs the source\'s egress and the destination\'s ingress; an unselected pod is open both ways', () => {
    const egressOnly = world(policy('dev', 'out', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ podSelector: {} }] }] }));
    expect(allowed(egressOnly, PODS.client, PODS.tool, 80, 'TCP')).toBe(true);
    expect(allowed(egressOnly, PODS.client, PODS.web, 80, 'TCP')).toBe(false);
    expect(allowed(egressOnly, PODS.web, PODS.client, 80, 'TCP')).toBe(true);
    const both = world(egressOnly.policies[0], policy('prod', 'in', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {} }] }] }));
    expect(allowed(both, PODS.client, PODS.web, 80, 'TCP')).toBe(false);
    expect(allowed(both, PODS.tool, PODS.client, 80, 'TCP')).toBe(true);
  });

  it('adds policies up: any rule of any policy isolating the pod is enough', () => {
    const p80 = policy('prod', 'p80', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ namespaceSelector: {} }], ports: [{ port: 80 }] }] });
    const fromDb = policy('prod', 'from-db', { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'db' } } }] }] });
    const w = world(p80, fromDb);
    expect(intoWeb(w, PODS.client, 80)).toBe(true);
    expect(intoWeb(w, PODS.client, 81)).toBe(false);
    expect(intoWeb(w, PODS.db, 81)).toBe(true);
    expect(allowed(w, PODS.client, PODS.alt, 80, 'TCP')).toBe(false);
  });

  it('an Egress-only policy does not isolate ingress, and the reverse', () => {
    const w = world(policy('prod', 'p', { podSelector: {}, policyTypes: ['Egress'] }));
    expect(intoWeb(w, PODS.client)).toBe(true);
    expect(allowed(w, PODS.web, PODS.client, 80, 'TCP')).toBe(false);
    expect(allowed(w, PODS.web, EXTERNAL, 80, 'TCP')).toBe(false);
  });
});

describe('resolved rules', () => {
  it('list every rule of every isolating policy, by policy name, commented ns/policy direction[i]', () => {
    const w = world(
      policy('prod', 'zeta', { podSelector: {}, ingress: [{}, { from: [{ podSelector: { matchLabels: { app: 'nobody' } } }] }] }),
      policy('prod', 'alpha', { podSelector: { matchLabels: { app: 'web' } }, ingress: [] }),
      policy('prod', 'out', { podSelector: {}, policyTypes: ['Egress'] }),
    );
    const r = podRules(w, PODS.web, 'ingress');
    expect(r.isolated).toBe(true);
    expect(r.rules.map((x) => x.comment)).toEqual(['prod/zeta ingress[0]', 'prod/zeta ingress[1]']);
    // A policy with no rules in the direction isolates all the same.
    expect(r.policies.map((p) => p.name)).toEqual(['alpha', 'zeta']);
    expect(r.rules.map((x) => x.allows)).toEqual([[{ peers: 'any', ports: 'any' }], []]);
    expect(podRules(w, PODS.web, 'egress')).toMatchObject({ isolated: true, rules: [] });
    expect(podRules(w, PODS.client, 'ingress')).toEqual({ isolated: false, policies: [], rules: [] });
    expect(podRules(w, PODS.agent, 'ingress')).toEqual({ isolated: false, policies: [], rules: [] });
  });

  it('resolve selectors to pod IPs (each pod once, no hostNetwork pod) and keep ipBlocks as written', () => {
    const w = world(policy('prod', 'p', {
      podSelector: { matchLabels: { app: 'db' } },
      ingress: [{ from: [{ podSelector: { matchLabels: { tier: 'front' } } }, { namespaceSelector: { matchLabels: { env: 'prod' } } }, { ipBlock: { cidr: '10.0.0.0/8', except: ['10.244.0.0/16'] } }], ports: [{ port: 5432 }] }],
    }));
    expect(podRules(w, PODS.db, 'ingress').rules[0].allows).toEqual([{
      peers: [
        { kind: 'pod', namespace: 'prod', name: 'web', ip: '10.244.1.2' },
        { kind: 'pod', namespace: 'prod', name: 'alt', ip: '10.244.1.3' },
        { kind: 'pod', namespace: 'prod', name: 'db', ip: '10.244.1.4' },
        { kind: 'ipBlock', cidr: '10.0.0.0/8', except: ['10.244.0.0/16'] },
      ],
      ports: [{ protocol: 'TCP', port: 5432 }],
    }]);
  });

  it('resolve ingress named ports on the pod itself', () => {
    const w = world(policy('prod', 'p', { podSelector: {}, ingress: [{ ports: [{ port: 'http' }, { port: 9000, endPort: 9100 }, { port: 'missing' }] }] }));
    expect(podRules(w, PODS.web, 'ingress').rules[0].allows).toEqual([{ peers: 'any', ports: [{ protocol: 'TCP', port: 9000, endPort: 9100 }, { protocol: 'TCP', port: 80 }] }]);
    expect(podRules(w, PODS.alt, 'ingress').rules[0].allows).toEqual([{ peers: 'any', ports: [{ protocol: 'TCP', port: 9000, endPort: 9100 }, { protocol: 'TCP', port: 8080 }] }]);
    const named = world(policy('prod', 'p', { podSelector: {}, ingress: [{ ports: [{ port: 'missing' }] }] }));
    expect(podRules(named, PODS.web, 'ingress').rules[0].allows).toEqual([]);
  });

  it('resolve egress named ports per destination pod, grouping pods that share the numbers', () => {
    const w = world(policy('dev', 'p', {
      podSelector: { matchLabels: { app: 'client' } }, policyTypes: ['Egress'],
      egress: [{ to: [{ namespaceSelector: {} }, { ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ port: 'http' }, { port: 443 }] }],
    }));
    const pod = (p: PodInfo) => ({ kind: 'pod', namespace: p.namespace, name: p.name, ip: p.ip });
    expect(podRules(w, PODS.client, 'egress').rules[0].allows).toEqual([
      { peers: [...[PODS.web, PODS.alt, PODS.db, PODS.client, PODS.tool].map(pod), { kind: 'ipBlock', cidr: '0.0.0.0/0', except: [] }], ports: [{ protocol: 'TCP', port: 443 }] },
      { peers: [PODS.web, PODS.db, PODS.client, PODS.tool].map(pod), ports: [{ protocol: 'TCP', port: 80 }] },
      { peers: [pod(PODS.alt)], ports: [{ protocol: 'TCP', port: 8080 }] },
    ]);
  });

  it('say what the verdict says, for every pair, port and protocol of a busy world', () => {
    const w = world(
      policy('prod', 'front', { podSelector: { matchLabels: { tier: 'front' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'dev' } }, podSelector: { matchExpressions: [{ key: 'tier', operator: 'Exists' }] } }], ports: [{ port: 'http' }] }, { from: [{ ipBlock: { cidr: '10.244.1.0/24', except: ['10.244.1.4/32'] } }] }] }),
      policy('prod', 'back', { podSelector: { matchLabels: { tier: 'back' } }, policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [{ podSelector: { matchLabels: { tier: 'front' } } }], ports: [{ port: 80, endPort: 8080 }] }], egress: [{ to: [{ ipBlock: { cidr: '192.0.2.0/24' } }], ports: [{ protocol: 'UDP' }] }, { ports: [{ port: 'dns', protocol: 'UDP' }] }] }),
      policy('dev', 'out', { podSelector: {}, egress: [{ to: [{ namespaceSelector: {} }], ports: [{ port: 'http' }, { port: 53, protocol: 'UDP' }] }, { to: [{ ipBlock: { cidr: '172.18.0.0/16' } }] }] }),
    );
    const ends: Endpoint[] = [...Object.values(PODS), EXTERNAL];
    const side = (pod: PodInfo, direction: 'ingress' | 'egress', farIP: string, port: number, protocol: Protocol) => {
      const r = podRules(w, pod, direction);
      return !r.isolated || r.rules.some((rule) => rule.allows.some((a) => allowanceMatches(a, farIP, port, protocol)));
    };
    const ip = (e: Endpoint) => (typeof e === 'string' ? e : e.ip);
    let checked = 0;
    for (const from of ends) {
      for (const to of ends) {
        for (const [port, protocol] of [[80, 'TCP'], [8080, 'TCP'], [443, 'TCP'], [53, 'UDP'], [80, 'UDP'], [80, 'SCTP']] as const) {
          const rendered = (typeof from === 'string' || side(from, 'egress', ip(to), port, protocol)) && (typeof to === 'string' || side(to, 'ingress', ip(from), port, protocol));
          expect(rendered, `${ip(from)} → ${ip(to)} ${port}/${protocol}`).toBe(allowed(w, from, to, port, protocol));
          checked++;
        }
      }
    }
    expect(checked).toBe(7 * 7 * 6);
  });
});
