import type { Check, State } from './types.ts';

// Generic hints, one per failing state: what the state means on the wire and where to look next.
// A scenario's own hints (check.hints[state], then check.hints.default) come first; these cover
// every state a scenario did not anticipate, so a failing check always says something useful.

export const GENERIC_HINTS: Record<Exclude<State, 'PASS'>, string> = {
  TIMEOUT: 'Packets leave but nothing comes back: something drops them silently. Look for DROP rules (iptables -S, also in FORWARD on the nodes), a missing or wrong route on the way, or a path MTU problem.',
  REFUSED: 'The target answered "connection refused": the path works but nothing listens there (a stopped server, a Service without endpoints, a wrong port), or a REJECT rule answers for it.',
  UNREACHABLE: 'An ICMP "unreachable" came back or the source has no route: check routes on the pod and on each node (ip route), and REJECT rules on the way.',
  DNS_NOREPLY: 'The DNS query got no answer: DNS traffic (UDP and TCP port 53) is dropped on the way to the DNS Service, or the DNS server is not running. Check the kube-dns ClusterIP path and its endpoints.',
  DNS_NXDOMAIN: 'The DNS server answered that the name does not exist: check the name, the Service and its namespace, and the pod\'s search path in /etc/resolv.conf.',
  DNS_SERVFAIL: 'The DNS server failed to answer (SERVFAIL): it runs but cannot resolve; check its configuration and what it forwards to.',
  WRONG_ANSWER: 'An answer came back, but not the expected one: a different address, backend or status. Check Service selectors and endpoints, DNS records, and what actually listens there.',
  PARTIAL: 'Only part of it works: some bytes or some backends got through, then not the rest. Large transfers that stall point to MTU (compare interface MTUs, ICMP "fragmentation needed"); missing backends point to one unreachable node or endpoint.',
  UNEXPECTED_ALLOW: 'This connection must stay blocked, and it got through: the fix removed more than it should. Restore the isolating rule or policy and fix only what was broken.',
  ERROR: 'The grader itself could not run this check (the probe did not finish or its tools are missing). This is not your fault: retry, and if it persists, report it.',
};

/** The hint for a check in a state: the scenario's own first, then the generic one. None for a pass. */
export function hintFor(check: Pick<Check, 'hints'>, state: State): string | undefined {
  if (state === 'PASS') return undefined;
  const own = check.hints ?? {};
  return own[state] ?? own.default ?? GENERIC_HINTS[state];
}
