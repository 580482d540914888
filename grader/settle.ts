import type { Settledness } from '../server/cluster/settled.ts';
import type { Cause } from './classify.ts';
import type { State } from './types.ts';

// When a check's result is final. Pure: from what the attempts so far observed to "final" or "probe
// again", so the rule is unit-tested without a lab.
//
// A failure is either the network's own answer or what a network still converging looks like. After
// a learner's fix, kube-proxy rewrites its chains, EndpointSlices follow pods' readiness, CoreDNS
// pods restart, kindnet re-renders NetworkPolicy: for a moment the old failure can still show. So
// even a definite answer (a RST, an authoritative NXDOMAIN, an ICMP error at once, a guard's exit
// status) is final only once it repeats over `confirmMs` of attempts; a converging one (silence, a
// SERVFAIL, the wrong backends) keeps being probed for the whole retry window.
//
// A lab that has settled (nothing written for the length of the window, every pod and node Ready:
// cluster/settled.ts) has nothing left to converge: there the first answer of the network is
// final, definite or not. A sampled observation is one draw of a random choice (kube-proxy's
// load balancing missed a backend): on a settled lab it is final once a second attempt drew the
// same, elsewhere it is converging. An inconclusive observation says nothing about the network (the
// probe run failed, a failure nobody recognises) and is probed again for the whole window, settled
// or not.

export type Finality = 'definite' | 'converging' | 'sampled' | 'inconclusive';

interface CauseRow {
  finality: Finality;
  /** What the observation means on the wire, and why it can or cannot still be settling. */
  why: string;
}

/** One row per cause (classify.ts): a cause without its row does not compile. */
export const CAUSES: { [C in Cause]: CauseRow } = {
  ok: {
    finality: 'converging',
    why: 'the probe got what a pass needs; it is a failure only where a check must fail (verify right after a break), and a break may still be taking effect',
  },
  blocked: {
    finality: 'converging',
    why: 'a connection that must stay blocked was; where it must get through (verify after a break), a policy may still be re-rendering',
  },
  connected: {
    finality: 'definite',
    why: 'the handshake completed: a path exists. Where it must be blocked, a NetworkPolicy applied a moment ago is enforced within about a second, which the confirmation covers',
  },
  refused: {
    finality: 'definite',
    why: 'a RST, or ICMP port unreachable (kube-proxy\'s REJECT for a Service without ready endpoints): something answered no. Endpoints appear within a second or two of a pod becoming Ready, which the confirmation covers',
  },
  reset: {
    finality: 'definite',
    why: 'the peer reset the connection: a host answered',
  },
  unreachable: {
    finality: 'definite',
    why: 'an ICMP unreachable, or the local routing table\'s verdict, came back at once: the route or a REJECT says no',
  },
  'unreachable-late': {
    finality: 'converging',
    why: 'unreachable only after a second or more: neighbour resolution (ARP) gave up, as for a next hop that is not there yet (a pod being recreated)',
  },
  'message-too-long': {
    finality: 'definite',
    why: 'the kernel refused to send a don\'t-fragment packet larger than the route\'s MTU',
  },
  timeout: {
    finality: 'converging',
    why: 'no answer at all: packets dropped, or a path still being programmed (iptables rules, routes, conntrack)',
  },
  'no-reply': {
    finality: 'converging',
    why: 'the DNS server did not answer: dropped queries, or CoreDNS restarting',
  },
  'name-unresolved': {
    finality: 'converging',
    why: 'the resolver library failed without saying why (curl and bash cannot tell NXDOMAIN from no reply); the DNS checks say which',
  },
  nxdomain: {
    finality: 'definite',
    why: 'an authoritative answer that the name does not exist; CoreDNS serves a new Service or a fixed Corefile within about a second, which the confirmation covers',
  },
  servfail: {
    finality: 'converging',
    why: 'the server could not answer: CoreDNS restarting or reloading its Corefile, or an upstream it cannot reach yet',
  },
  'dns-refused': {
    finality: 'definite',
    why: 'the server answered REFUSED: it will not serve this name',
  },
  'dns-rcode': {
    finality: 'definite',
    why: 'the server answered with another error code (NOTIMP, FORMERR...)',
  },
  'no-address': {
    finality: 'converging',
    why: 'NOERROR without an address: a headless Service or StatefulSet member whose endpoints are not ready yet',
  },
  'wrong-address': {
    finality: 'converging',
    why: 'the name resolves to another address set: endpoints still updating (a headless Service\'s pods coming and going)',
  },
  'http-status': {
    finality: 'definite',
    why: 'the server answered with its own status (404, 403...): routing or the app said no. An Ingress or route change is rendered within about a second, which the confirmation covers',
  },
  'http-unavailable': {
    finality: 'converging',
    why: '502, 503 or 504: a proxy with no ready upstream yet, as while a Service\'s endpoints come up',
  },
  'empty-reply': {
    finality: 'converging',
    why: 'the server closed without a response: a backend restarting',
  },
  'wrong-backend': {
    finality: 'converging',
    why: 'another pod answered: the endpoint set is still changing (a rollout, a selector being fixed)',
  },
  'wrong-body': {
    finality: 'definite',
    why: 'the server answered, with something that is not the expected byte count',
  },
  'some-failed': {
    finality: 'converging',
    why: 'some requests were answered and some not: endpoints behind the Service still changing',
  },
  'backend-missing': {
    finality: 'sampled',
    why: 'a listed backend never answered: it may be joining the endpoints, or the random choice of kube-proxy passed it over in this sample',
  },
  stalled: {
    finality: 'converging',
    why: 'bytes arrived, then the transfer stalled (the path MTU blackhole signature, or a path still changing)',
  },
  'guard-failed': {
    finality: 'definite',
    why: 'the guard script exited non-zero: the state it guards does not hold. Status fields (readyReplicas, EndpointSlices) follow a change within about a second, which the confirmation covers',
  },
  'tool-missing': {
    finality: 'definite',
    why: 'the probe tool is missing in the source (exit 126/127): no retry brings it',
  },
  unrecognized: {
    finality: 'inconclusive',
    why: 'a failure the classifier does not recognise: probed again while the window lasts',
  },
  'grader-error': {
    finality: 'inconclusive',
    why: 'the probe run itself failed (exec lost, no sentinel): probed again while the window lasts',
  },
};

export const finalityOf = (cause: Cause): Finality => CAUSES[cause].finality;

/** One attempt's observation of a check; `at`: when the attempt started (ms, any origin). */
export interface Seen { state: State; cause: Cause; at: number }

/** A lab whose cluster has written nothing for a whole retry window, with every pod and node Ready. */
export const hasSettled = (s: Settledness | undefined, windowMs: number): boolean =>
  !!s && s.quietMs >= windowMs && s.unsettled.length === 0;

/** The attempt of a check that may come soonest: a confirmation (definite, or sampled on a settled lab), or a retry. */
export const confirming = (cause: Cause, settled: boolean): boolean =>
  finalityOf(cause) === 'definite' || (settled && finalityOf(cause) === 'sampled');

/**
 * Final now (before the retry window ends): the state is an expected one; or the lab has settled
 * and the observation is neither inconclusive nor a sample not yet drawn twice; or a definite
 * failure has shown the same state and cause on every attempt of the last `confirmMs` (at least
 * two attempts). The retry window bounds everything else; that is the caller's loop.
 */
export function isFinal(history: readonly Seen[], expected: readonly State[], confirmMs: number, settled = false): boolean {
  const last = history.at(-1);
  if (!last) return false;
  if (expected.includes(last.state)) return true;
  const finality = finalityOf(last.cause);
  if (settled && finality === 'sampled') {
    const before = history.at(-2);
    return !!before && before.state === last.state && before.cause === last.cause;
  }
  if (settled && finality !== 'inconclusive') return true;
  if (finality !== 'definite') return false;
  let first = history.length - 1;
  while (first > 0 && history[first - 1].state === last.state && history[first - 1].cause === last.cause) first--;
  return first < history.length - 1 && last.at - history[first].at >= confirmMs;
}
