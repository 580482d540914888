import { setCell, truthTable, type TruthTable } from '../../grader/truth-table.ts';
import type { Protocol } from '../../server/cluster/netpol/policy.ts';
import { PODS, splitPodRef, type Namespace, type PodName, type PodRef, type PolicyTemplate } from './world.ts';

// Kubernetes' NetworkPolicy e2e cases (test/e2e/network/netpol/network_policy.go) as data: the
// "NetworkPolicy between server and client" group (TCP, with two cases whose policies name SCTP)
// and the "... using UDP" group. Each case is upstream's steps in order, each probe step with its
// expected reachability over the 9 pods of the world (world.ts), written as upstream writes it: all
// allowed (or all blocked), then edits. Only pod IPs that upstream reads at run time are symbolic
// (`{ podIPCIDR: 'y/b', prefix: 32 }` in an ipBlock; concretePolicy in world.ts writes them out).
//
// The expectations are those of upstream's suite as it was when every case ran in the full 9-pod
// world. Upstream now creates only the pods a case needs (recorded as `upstreamPods`) and dropped
// the expectations about the others; the verdict for a pair of pods does not depend on which other
// pods exist, so these tables restricted to `upstreamPods` are what upstream checks today.
//
// Every case starts from the world as world.ts creates it, with no policies: upstream gives each
// case fresh namespaces, and undoes its label changes when it ends.

/** Upstream's Peer: an absent namespace or pod matches every one. */
export interface PeerMatch { namespace?: Namespace; pod?: PodName }

/** An edit of the expected table, named after upstream's Reachability methods. */
export type Edit =
  /** ExpectPeer: every pair from a pod `from` matches to a pod `to` matches. */
  | { expect: 'peer'; from: PeerMatch; to: PeerMatch; allowed: boolean }
  /** Expect: one pair. */
  | { expect: 'pair'; from: PodRef; to: PodRef; allowed: boolean }
  /** ExpectAllIngress: every pair into `to`. */
  | { expect: 'allIngress'; to: PodRef; allowed: boolean }
  /** ExpectAllEgress: every pair out of `from`. */
  | { expect: 'allEgress'; from: PodRef; allowed: boolean };

export interface Reachability { start: boolean; edits: Edit[] }

export type Step =
  /** Create the policy (its namespace is in its metadata). */
  | { do: 'create'; policy: PolicyTemplate }
  /** Replace the policy of that namespace and name with this one. */
  | { do: 'update'; policy: PolicyTemplate }
  | { do: 'delete'; namespace: Namespace; name: string }
  /** Add (or overwrite) labels on a namespace. */
  | { do: 'labelNamespace'; namespace: Namespace; labels: Record<string, string> }
  /** Add (or overwrite) labels on a pod. */
  | { do: 'labelPod'; pod: PodRef; labels: Record<string, string> }
  /** Probe every pair of pods, from each pod to the other's Service, on this port and protocol. */
  | { do: 'probe'; port: number; protocol: Protocol; expect: Reachability };

export interface UpstreamCase {
  /** Which upstream context the case is in: tcp is "NetworkPolicy between server and client",
   *  udp is "NetworkPolicy between server and client using UDP". */
  group: 'tcp' | 'udp';
  /** Upstream's title (the It text). */
  title: string;
  /** The pods upstream creates for this case today. */
  upstreamPods: PodRef[];
  /** 'policy': a policy names SCTP but every probe is TCP. The API must accept the policy and the
   *  dataplane must not take its SCTP ports for TCP; no SCTP traffic is needed. */
  sctp?: 'policy';
  steps: Step[];
}

/** The expected table of a probe step: rows are sources, columns destinations. */
export function expectedTable(r: Reachability): TruthTable {
  const t = truthTable(PODS, PODS, r.start);
  const matches = (m: PeerMatch, ref: PodRef) => {
    const { namespace, pod } = splitPodRef(ref);
    return (m.namespace === undefined || m.namespace === namespace) && (m.pod === undefined || m.pod === pod);
  };
  for (const e of r.edits) {
    for (const from of PODS) {
      for (const to of PODS) {
        const hit = e.expect === 'peer' ? matches(e.from, from) && matches(e.to, to)
          : e.expect === 'pair' ? e.from === from && e.to === to
            : e.expect === 'allIngress' ? e.to === to
              : e.from === from;
        if (hit) setCell(t, from, to, e.allowed);
      }
    }
  }
  return t;
}

// ---- writing them down -------------------------------------------------------------------------

const NS_NAME = 'kubernetes.io/metadata.name';

const netpol = (namespace: Namespace, name: string, spec: PolicyTemplate['spec']): PolicyTemplate =>
  ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace, name }, spec });
const create = (policy: PolicyTemplate): Step => ({ do: 'create', policy });
const update = (policy: PolicyTemplate): Step => ({ do: 'update', policy });
const probe = (port: number, protocol: Protocol, start: boolean, ...edits: Edit[]): Step => ({ do: 'probe', port, protocol, expect: { start, edits } });
const peer = (from: PeerMatch, to: PeerMatch, allowed: boolean): Edit => ({ expect: 'peer', from, to, allowed });
const pair = (from: PodRef, to: PodRef, allowed: boolean): Edit => ({ expect: 'pair', from, to, allowed });
const allIngress = (to: PodRef, allowed: boolean): Edit => ({ expect: 'allIngress', to, allowed });
const allEgress = (from: PodRef, allowed: boolean): Edit => ({ expect: 'allEgress', from, allowed });

const pod = (name: PodName) => ({ matchLabels: { pod: name } });
const namespaceNamed = (ns: Namespace) => ({ matchLabels: { [NS_NAME]: ns } });
const namespaceNotNamed = (ns: Namespace) => ({ matchExpressions: [{ key: NS_NAME, operator: 'NotIn' as const, values: [ns] }] });

/** The ingress-on-81-from-y policy two cases share. */
const allowPort81FromY = netpol('x', 'allow-client-a-via-ns-selector', {
  podSelector: pod('a'), policyTypes: ['Ingress'],
  ingress: [{ from: [{ namespaceSelector: namespaceNamed('y') }], ports: [{ protocol: 'TCP', port: 81 }] }],
});
const fromYOnlyToXA = [peer({ namespace: 'x' }, { namespace: 'x', pod: 'a' }, false), peer({ namespace: 'y' }, { namespace: 'x', pod: 'a' }, true), peer({ namespace: 'z' }, { namespace: 'x', pod: 'a' }, false)];

/** Egress from x/a to a /4 around x/b's IP except x/b itself. Upstream writes the /4 as x/a's IP
 *  with /4 (older) or the /4 network containing x/b's IP (newer); both are this network when the
 *  pod IPs share their first 4 bits, as the expectations assume: every other pod is inside it. */
const egressAroundXBExceptXB = netpol('x', 'allow-client-a-via-cidr-egress-rule', {
  podSelector: pod('a'), policyTypes: ['Egress'],
  egress: [{ to: [{ ipBlock: { cidr: { podIPCIDR: 'x/b', prefix: 4 }, except: [{ podIPCIDR: 'x/b', prefix: 32 }] } }] }],
});

export const TCP_CASES: UpstreamCase[] = [
  {
    group: 'tcp', title: "should support a 'default-deny-ingress' policy", upstreamPods: ['x/a', 'x/b', 'y/a', 'y/b'],
    steps: [
      create(netpol('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'], ingress: [] })),
      probe(80, 'TCP', true, peer({}, { namespace: 'x' }, false)),
    ],
  },
  {
    group: 'tcp', title: "should support a 'default-deny-all' policy", upstreamPods: ['x/a', 'x/b', 'y/a'],
    steps: [
      create(netpol('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [], egress: [] })),
      probe(80, 'TCP', true, peer({}, { namespace: 'x' }, false), peer({ namespace: 'x' }, {}, false)),
    ],
  },
  {
    group: 'tcp', title: 'should enforce policy to allow traffic from pods within server namespace based on PodSelector', upstreamPods: ['x/a', 'x/b', 'x/c', 'y/a'],
    steps: [
      create(netpol('x', 'x-a-allows-x-b', { podSelector: pod('a'), policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: pod('b') }] }] })),
      probe(80, 'TCP', true, allIngress('x/a', false), pair('x/b', 'x/a', true)),
    ],
  },
  {
    // Upstream today has no x/c here and so no longer says that deny-all blocks it too.
    group: 'tcp', title: 'should enforce policy to allow ingress traffic for a target', upstreamPods: ['x/a', 'x/b', 'y/a'],
    steps: [
      create(netpol('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress'], ingress: [] })),
      create(netpol('x', 'allow-all-to-a', { podSelector: pod('a'), policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: {}, namespaceSelector: {} }] }] })),
      probe(80, 'TCP', true, allIngress('x/a', true), allIngress('x/b', false), allIngress('x/c', false)),
    ],
  },
  {
    group: 'tcp', title: 'should enforce policy to allow ingress traffic from pods in all namespaces', upstreamPods: ['x/a', 'x/b', 'y/a', 'z/a'],
    steps: [
      create(netpol('x', 'allow-from-another-ns', { podSelector: pod('a'), policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: {} }] }] })),
      probe(80, 'TCP', true),
    ],
  },
  {
    group: 'tcp', title: 'should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector', upstreamPods: ['x/a', 'x/b', 'y/a', 'z/a'],
    steps: [
      create(netpol('x', 'allow-client-a-via-ns-selector', { podSelector: pod('a'), policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: namespaceNamed('y') }] }] })),
      probe(80, 'TCP', true, peer({ namespace: 'x' }, { namespace: 'x', pod: 'a' }, false), peer({ namespace: 'z' }, { namespace: 'x', pod: 'a' }, false)),
    ],
  },
  {
    group: 'tcp', title: 'should enforce policy based on PodSelector with MatchExpressions', upstreamPods: ['x/a', 'x/b', 'y/a'],
    steps: [
      create(netpol('x', 'x-a-allows-x-b', {
        podSelector: pod('a'), policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['b'] }] } }] }],
      })),
      probe(80, 'TCP', true, allIngress('x/a', false), pair('x/b', 'x/a', true)),
    ],
  },
  {
    group: 'tcp', title: 'should enforce policy based on NamespaceSelector with MatchExpressions', upstreamPods: ['x/a', 'x/b', 'y/a', 'z/a'],
    steps: [
      create(netpol('x', 'allow-ns-y-match-selector', {
        podSelector: pod('a'), policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: NS_NAME, operator: 'In', values: ['y'] }] } }] }],
      })),
      probe(80, 'TCP', true, peer({ namespace: 'x' }, { namespace: 'x', pod: 'a' }, false), peer({ namespace: 'z' }, { namespace: 'x', pod: 'a' }, false)),
    ],
  },
  {
    group: 'tcp', title: 'should enforce policy based on PodSelector or NamespaceSelector', upstreamPods: ['x/a', 'x/b', 'x/c', 'y/a'],
    steps: [
      create(netpol('x', 'allow-ns-y-match-selector', {
        podSelector: pod('a'), policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: namespaceNotNamed('x') }, { podSelector: pod('b') }] }],
      })),
      probe(80, 'TCP', true, pair('x/a', 'x/a', false), pair('x/c', 'x/a', false)),
    ],
  },
  {
    group: 'tcp', title: 'should enforce policy based on PodSelector and NamespaceSelector', upstreamPods: ['x/a', 'x/b', 'y/a', 'y/b', 'z/b'],
    steps: [
      create(netpol('x', 'allow-ns-y-podselector-and-nsselector', {
        podSelector: pod('a'), policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: namespaceNotNamed('x'), podSelector: pod('b') }] }],
      })),
      probe(80, 'TCP', true, allIngress('x/a', false), pair('y/b', 'x/a', true), pair('z/b', 'x/a', true)),
    ],
  },
  {
    // Upstream today has no z pods here and so no longer says that z/a is blocked.
    group: 'tcp', title: 'should enforce policy based on Multiple PodSelectors and NamespaceSelectors', upstreamPods: ['x/a', 'x/b', 'y/a', 'y/b', 'y/c'],
    steps: [
      create(netpol('x', 'allow-ns-y-z-pod-b-c', {
        podSelector: pod('a'), policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: namespaceNotNamed('x'), podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['b', 'c'] }] } }] }],
      })),
      probe(80, 'TCP', true, peer({ namespace: 'x' }, { namespace: 'x', pod: 'a' }, false), pair('y/a', 'x/a', false), pair('z/a', 'x/a', false)),
    ],
  },
  {
    group: 'tcp', title: 'should enforce policy based on any PodSelectors', upstreamPods: ['x/a', 'x/b', 'x/c'],
    steps: [
      create(netpol('x', 'allow-ns-x-pod-b-c', { podSelector: pod('a'), policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: pod('b') }, { podSelector: pod('c') }] }] })),
      probe(80, 'TCP', true, allIngress('x/a', false), pair('x/b', 'x/a', true), pair('x/c', 'x/a', true)),
    ],
  },
  {
    group: 'tcp', title: 'should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector', upstreamPods: ['x/a', 'x/b', 'y/a', 'y/b', 'z/a'],
    steps: [
      create(netpol('x', 'allow-ns-y-pod-a-via-namespace-pod-selector', {
        podSelector: pod('a'), policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: namespaceNamed('y'), podSelector: pod('a') }] }],
      })),
      probe(80, 'TCP', true, allIngress('x/a', false), pair('y/a', 'x/a', true)),
    ],
  },
  {
    group: 'tcp', title: 'should enforce policy based on Ports', upstreamPods: ['x/a', 'x/b', 'y/a', 'y/b', 'z/a'],
    steps: [
      create(allowPort81FromY),
      probe(81, 'TCP', true, ...fromYOnlyToXA),
    ],
  },
  {
    group: 'tcp', title: 'should enforce multiple, stacked policies with overlapping podSelectors', upstreamPods: ['x/a', 'x/b', 'y/a', 'y/b', 'z/a'],
    steps: [
      create(allowPort81FromY),
      probe(81, 'TCP', true, ...fromYOnlyToXA),
      probe(80, 'TCP', true, allIngress('x/a', false)),
      create(netpol('x', 'allow-client-a-via-ns-selector-80', {
        podSelector: pod('a'), policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: namespaceNamed('y') }], ports: [{ protocol: 'TCP', port: 80 }] }],
      })),
      probe(80, 'TCP', true, ...fromYOnlyToXA),
    ],
  },
  {
    group: 'tcp', title: 'should support allow-all policy', upstreamPods: ['x/a', 'x/b', 'y/a'],
    steps: [
      create(netpol('x', 'allow-all', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{}] })),
      probe(80, 'TCP', true),
      probe(81, 'TCP', true),
    ],
  },
  {
    group: 'tcp', title: 'should allow ingress access on one named port', upstreamPods: ['x/a', 'x/b', 'y/a'],
    steps: [
      create(netpol('x', 'allow-all', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ ports: [{ port: 'serve-81-tcp' }] }] })),
      probe(81, 'TCP', true),
      probe(80, 'TCP', true, peer({}, { namespace: 'x' }, false)),
    ],
  },
  {
    group: 'tcp', title: 'should allow ingress access from namespace on one named port', upstreamPods: ['x/a', 'x/b', 'y/a', 'z/a'],
    steps: [
      create(netpol('x', 'allow-client-a-via-ns-selector-80', {
        podSelector: pod('a'), policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: namespaceNamed('y') }], ports: [{ protocol: 'TCP', port: 'serve-80-tcp' }] }],
      })),
      probe(80, 'TCP', true, peer({ namespace: 'x' }, { namespace: 'x', pod: 'a' }, false), peer({ namespace: 'z' }, { namespace: 'x', pod: 'a' }, false)),
      probe(81, 'TCP', true, allIngress('x/a', false)),
    ],
  },
  {
    // The named port of an egress rule resolves on each destination pod: every pod names its TCP
    // port 80 serve-80-tcp, so x may send to every pod on 80 and to none on 81.
    group: 'tcp', title: 'should allow egress access on one named port', upstreamPods: ['x/a', 'y/a'],
    steps: [
      create(netpol('x', 'allow-egress', { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'serve-80-tcp' }] }] })),
      probe(80, 'TCP', true),
      probe(81, 'TCP', true, peer({ namespace: 'x' }, {}, false)),
    ],
  },
  {
    group: 'tcp', title: 'should enforce updated policy', upstreamPods: ['x/a', 'y/a'],
    steps: [
      create(netpol('x', 'allow-all-mutate-to-deny-all', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{}] })),
      probe(81, 'TCP', true),
      update(netpol('x', 'allow-all-mutate-to-deny-all', { podSelector: {}, policyTypes: ['Ingress'], ingress: [] })),
      probe(81, 'TCP', true, peer({}, { namespace: 'x' }, false)),
    ],
  },
  {
    group: 'tcp', title: 'should allow ingress access from updated namespace', upstreamPods: ['x/a', 'y/a'],
    steps: [
      create(netpol('x', 'allow-client-a-via-ns-selector', { podSelector: pod('a'), policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns2: 'updated' } } }] }] })),
      probe(80, 'TCP', true, allIngress('x/a', false)),
      { do: 'labelNamespace', namespace: 'y', labels: { ns2: 'updated' } },
      probe(80, 'TCP', true, allIngress('x/a', false), peer({ namespace: 'y' }, {}, true)),
    ],
  },
  {
    group: 'tcp', title: 'should allow ingress access from updated pod', upstreamPods: ['x/a', 'x/b'],
    steps: [
      create(netpol('x', 'allow-client-a-via-pod-selector', { podSelector: pod('a'), policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b', pod2: 'updated' } } }] }] })),
      probe(80, 'TCP', true, allIngress('x/a', false)),
      { do: 'labelPod', pod: 'x/b', labels: { pod: 'b', pod2: 'updated' } },
      probe(80, 'TCP', true, allIngress('x/a', false), pair('x/b', 'x/a', true)),
    ],
  },
  {
    group: 'tcp', title: 'should deny ingress from pods on other namespaces', upstreamPods: ['x/a', 'x/b', 'y/a', 'z/a'],
    steps: [
      create(netpol('x', 'deny-empty-policy', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: {} }] }] })),
      probe(80, 'TCP', true, peer({ namespace: 'y' }, { namespace: 'x' }, false), peer({ namespace: 'z' }, { namespace: 'x' }, false)),
    ],
  },
  {
    group: 'tcp', title: 'should deny ingress access to updated pod', upstreamPods: ['x/a', 'y/a'],
    steps: [
      create(netpol('x', 'deny-ingress-via-label-selector', { podSelector: { matchLabels: { target: 'isolated' } }, policyTypes: ['Ingress'], ingress: [] })),
      probe(80, 'TCP', true),
      { do: 'labelPod', pod: 'x/a', labels: { target: 'isolated' } },
      probe(80, 'TCP', true, allIngress('x/a', false)),
    ],
  },
  {
    group: 'tcp', title: 'should deny egress from pods based on PodSelector', upstreamPods: ['x/a', 'x/b', 'y/a'],
    steps: [
      create(netpol('x', 'deny-egress-pod-a', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [] })),
      probe(80, 'TCP', true, allEgress('x/a', false)),
    ],
  },
  {
    group: 'tcp', title: 'should deny egress from all pods in a namespace', upstreamPods: ['x/a', 'x/b', 'y/a'],
    steps: [
      create(netpol('x', 'deny-egress-ns-x', { podSelector: {}, policyTypes: ['Egress'], egress: [] })),
      probe(80, 'TCP', true, peer({ namespace: 'x' }, {}, false)),
    ],
  },
  {
    group: 'tcp', title: 'should work with Ingress, Egress specified together', upstreamPods: ['x/a', 'x/b', 'x/c', 'y/a'],
    steps: [
      create(netpol('x', 'allow-client-a-via-pod-selector', {
        podSelector: pod('a'), policyTypes: ['Egress', 'Ingress'],
        ingress: [{ from: [{ podSelector: pod('b') }] }],
        egress: [{ ports: [{ port: 80 }] }],
      })),
      probe(80, 'TCP', true, allIngress('x/a', false), pair('x/b', 'x/a', true)),
      probe(81, 'TCP', true, allIngress('x/a', false), allEgress('x/a', false), pair('x/b', 'x/a', true)),
    ],
  },
  {
    group: 'tcp', title: 'should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)', upstreamPods: ['x/a', 'y/a', 'y/b'],
    steps: [
      create(netpol('x', 'allow-to-ns-y-pod-a', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: namespaceNamed('y'), podSelector: pod('a') }] }] })),
      create(netpol('y', 'allow-from-xa-on-ya-match-selector', { podSelector: pod('a'), policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: namespaceNamed('x'), podSelector: pod('a') }] }] })),
      create(netpol('y', 'allow-from-xa-on-yb-match-selector', { podSelector: pod('b'), policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: namespaceNamed('x'), podSelector: pod('a') }] }] })),
      probe(80, 'TCP', true,
        peer({ namespace: 'x', pod: 'a' }, {}, false),
        peer({}, { namespace: 'y', pod: 'a' }, false),
        peer({ namespace: 'x', pod: 'a' }, { namespace: 'y', pod: 'a' }, true),
        peer({}, { namespace: 'y', pod: 'b' }, false)),
    ],
  },
  {
    group: 'tcp', title: 'should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector', upstreamPods: ['x/a', 'y/a', 'y/b'],
    steps: [
      create(netpol('x', 'allow-to-ns-y-pod-a', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: namespaceNamed('y'), podSelector: pod('a') }] }] })),
      probe(80, 'TCP', true, allEgress('x/a', false), pair('x/a', 'y/a', true)),
    ],
  },
  {
    group: 'tcp', title: 'should enforce ingress policy allowing any port traffic to a server on a specific protocol', upstreamPods: ['x/a', 'y/a'],
    steps: [
      create(netpol('x', 'allow-ingress-by-proto', { podSelector: pod('a'), policyTypes: ['Ingress'], ingress: [{ ports: [{ protocol: 'TCP' }] }] })),
      probe(80, 'TCP', true),
      probe(80, 'UDP', true, peer({}, { namespace: 'x', pod: 'a' }, false)),
    ],
  },
  {
    group: 'tcp', title: 'should enforce multiple ingress policies with ingress allow-all policy taking precedence', upstreamPods: ['x/a', 'y/a'],
    steps: [
      create(netpol('x', 'allow-ingress-port-80', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ ports: [{ port: 80 }] }] })),
      probe(81, 'TCP', true, peer({}, { namespace: 'x' }, false)),
      create(netpol('x', 'allow-ingress', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{}] })),
      probe(81, 'TCP', true),
    ],
  },
  {
    group: 'tcp', title: 'should enforce multiple egress policies with egress allow-all policy taking precedence', upstreamPods: ['x/a', 'y/a'],
    steps: [
      create(netpol('x', 'allow-egress-port-80', { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ port: 80 }] }] })),
      probe(81, 'TCP', true, peer({ namespace: 'x' }, {}, false)),
      create(netpol('x', 'allow-egress', { podSelector: {}, policyTypes: ['Egress'], egress: [{}] })),
      probe(81, 'TCP', true),
    ],
  },
  {
    // Upstream deletes every policy in the three namespaces; deny-all is the only one.
    group: 'tcp', title: 'should stop enforcing policies after they are deleted', upstreamPods: ['x/a', 'y/a'],
    steps: [
      create(netpol('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [], egress: [] })),
      probe(80, 'TCP', true, peer({ namespace: 'x' }, {}, false), peer({}, { namespace: 'x' }, false)),
      { do: 'delete', namespace: 'x', name: 'deny-all' },
      probe(80, 'TCP', true),
    ],
  },
  {
    // y/b's pod IP, read once the pod runs, as a host CIDR.
    group: 'tcp', title: 'should allow egress access to server in CIDR block', upstreamPods: ['x/a', 'y/a', 'y/b'],
    steps: [
      create(netpol('x', 'allow-client-a-via-cidr-egress-rule', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: { podIPCIDR: 'y/b', prefix: 32 } } }] }] })),
      probe(80, 'TCP', true, allEgress('x/a', false), pair('x/a', 'y/b', true)),
    ],
  },
  {
    // The /4 is an interpretation (see egressAroundXBExceptXB).
    group: 'tcp', title: 'should enforce except clause while egress access to server in CIDR block', upstreamPods: ['x/a', 'x/b', 'x/c'],
    steps: [
      create(egressAroundXBExceptXB),
      probe(80, 'TCP', true, pair('x/a', 'x/b', false)),
    ],
  },
  {
    // The /4 as in the previous case. The second policy has the first one's name and upstream
    // applies it with an update (its source wonders whether it should be a create): it replaces
    // the first, so x/a may then reach x/b and nothing else. Created alongside instead, x/a could
    // also still reach every other pod.
    group: 'tcp', title: 'should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed', upstreamPods: ['x/a', 'x/b', 'x/c'],
    steps: [
      create(egressAroundXBExceptXB),
      probe(80, 'TCP', true, pair('x/a', 'x/b', false)),
      update(netpol('x', 'allow-client-a-via-cidr-egress-rule', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: { podIPCIDR: 'x/b', prefix: 32 } } }] }] })),
      probe(80, 'TCP', true, allEgress('x/a', false), pair('x/a', 'x/b', true)),
    ],
  },
  {
    group: 'tcp', title: 'should enforce policies to check ingress and egress policies can be controlled independently based on PodSelector', upstreamPods: ['x/a', 'x/b', 'y/a'],
    steps: [
      create(netpol('x', 'allow-egress-for-target', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{}] })),
      probe(80, 'TCP', true),
      create(netpol('x', 'deny-ingress-via-label-selector', { podSelector: pod('a'), policyTypes: ['Ingress'], ingress: [] })),
      probe(80, 'TCP', true, allIngress('x/a', false)),
    ],
  },
  {
    group: 'tcp', title: "should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the plugin doesn't support SCTP", upstreamPods: ['x/a', 'y/a'], sctp: 'policy',
    steps: [
      create(netpol('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'], ingress: [] })),
      create(netpol('x', 'allow-only-sctp-ingress-on-port-81', { podSelector: pod('a'), policyTypes: ['Ingress'], ingress: [{ ports: [{ protocol: 'SCTP', port: 81 }] }] })),
      probe(81, 'TCP', true, peer({}, { namespace: 'x' }, false)),
    ],
  },
  {
    group: 'tcp', title: "should properly isolate pods that are selected by a policy allowing SCTP, even if the plugin doesn't support SCTP", upstreamPods: ['x/a', 'y/a'], sctp: 'policy',
    steps: [
      create(netpol('x', 'allow-only-sctp-ingress-on-port-80', { podSelector: pod('a'), policyTypes: ['Ingress'], ingress: [{ ports: [{ protocol: 'SCTP', port: 80 }] }] })),
      probe(81, 'TCP', true, allIngress('x/a', false)),
    ],
  },
  {
    group: 'tcp', title: 'should not allow access by TCP when a policy specifies only UDP', upstreamPods: ['x/a', 'y/a'],
    steps: [
      create(netpol('x', 'allow-only-udp-ingress-on-port-81', { podSelector: pod('a'), policyTypes: ['Ingress'], ingress: [{ ports: [{ protocol: 'UDP', port: 81 }] }] })),
      probe(81, 'TCP', true, allIngress('x/a', false)),
    ],
  },
  {
    group: 'tcp', title: 'should enforce policy to allow traffic based on NamespaceSelector with MatchLabels using default ns label', upstreamPods: ['x/a', 'x/b', 'y/a', 'z/a'],
    steps: [
      create(netpol('x', 'allow-client-a-via-ns-selector-for-immutable-ns-label', { podSelector: pod('a'), policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: namespaceNamed('y') }] }] })),
      probe(80, 'TCP', true, peer({ namespace: 'x' }, { namespace: 'x', pod: 'a' }, false), peer({ namespace: 'z' }, { namespace: 'x', pod: 'a' }, false)),
    ],
  },
  {
    group: 'tcp', title: 'should enforce policy based on NamespaceSelector with MatchExpressions using default ns label', upstreamPods: ['x/a', 'x/b', 'y/a', 'z/a'],
    steps: [
      create(netpol('x', 'allow-ns-y-match-selector-for-immutable-ns-label', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: namespaceNotNamed('y') }] }] })),
      probe(80, 'TCP', true, peer({ namespace: 'x', pod: 'a' }, { namespace: 'y' }, false)),
    ],
  },
];

export const UDP_CASES: UpstreamCase[] = [
  {
    group: 'udp', title: "should support a 'default-deny-ingress' policy", upstreamPods: ['x/a', 'x/b', 'y/a', 'y/b'],
    steps: [
      create(netpol('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress'], ingress: [] })),
      probe(80, 'UDP', true, peer({}, { namespace: 'x' }, false)),
    ],
  },
  {
    group: 'udp', title: 'should enforce policy based on Ports', upstreamPods: ['x/a', 'x/b', 'y/a', 'z/a'],
    steps: [
      create(netpol('x', 'allow-ingress-on-port-81-ns-x', {
        podSelector: pod('a'), policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: namespaceNamed('y') }], ports: [{ protocol: 'UDP', port: 81 }] }],
      })),
      probe(81, 'UDP', true, peer({ namespace: 'x' }, { namespace: 'x', pod: 'a' }, false), peer({ namespace: 'z' }, { namespace: 'x', pod: 'a' }, false)),
    ],
  },
  {
    group: 'udp', title: 'should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector', upstreamPods: ['x/a', 'x/b', 'y/a'],
    steps: [
      create(netpol('x', 'allow-ns-y-pod-a-via-namespace-pod-selector', {
        podSelector: pod('a'), policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: namespaceNamed('y'), podSelector: pod('a') }] }],
      })),
      probe(80, 'UDP', true, allIngress('x/a', false), pair('y/a', 'x/a', true)),
    ],
  },
];

export const UPSTREAM_CASES: UpstreamCase[] = [...TCP_CASES, ...UDP_CASES];
