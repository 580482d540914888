import { chainHash } from '../../util/chain-hash.ts';

// NetworkPolicy as a node's iptables: what the lab's kindnet writes for the pods of its node, so
// that a learner reads every decision with `iptables-save` on the node.
//
// Where packets are judged. kind's kindnet (kube-network-policies) judges in a filter hook at
// POSTROUTING, after DNAT: a packet to a Service ClusterIP is judged by the pod it was sent to and
// that pod's container port. Locally generated traffic from root (kubelet probes, the node's own
// processes, hostNetwork pods run as root) is let through, and traffic to the node's own addresses
// never reaches that hook. Here the same packets are judged in filter FORWARD, which pod-to-pod
// traffic crosses on both nodes (bridged traffic too: the node sets bridge-nf-call-iptables), and
// which node-local traffic never enters: the same outcome, in a chain people know.
//
// What is judged. Each node judges its own pods: egress where the sender runs, ingress where the
// receiver runs (for two pods on one node, both in one pass). Only pods a policy isolates in a
// direction get a chain for it; every other pod is open, as the API says.
//
// Established connections. kindnet puts a conntrack label on a connection whose first packet it
// accepted, and lets the rest of that connection through without judging it again: a new policy
// does not cut a connection it had already let through. The connection mark here plays the
// label's part, set on every forwarded connection that passes, so a policy judges the connections
// that start after it. (kindnet judges packet by packet a connection it never saw, one that began
// before any policy selected either of its pods; here such a connection is marked and stays.)

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

/** Who a rule allows: anyone, one pod by its IP, or a CIDR minus its exceptions. */
export type Peer =
  | { kind: 'any' }
  | { kind: 'pod'; ip: string; pod: string }
  | { kind: 'cidr'; cidr: string; except: string[] };

/** A port (range) of a protocol; no port means every port of the protocol. */
export interface PortMatch { protocol: Protocol; port?: number; endPort?: number }

/** One thing a policy rule lets through, resolved to addresses and numbers. */
export interface Allow {
  /** "namespace/name" of the policy. */
  policy: string;
  /** The rule within the policy, as `kubectl describe` counts: "ingress[0]", "egress[1]". */
  rule: string;
  peer: Peer;
  /** No port: every port and protocol (ICMP too). */
  port?: PortMatch;
}

/** A pod of this node that policies isolate in one direction, and everything they allow it. */
export interface IsolatedPod {
  /** "namespace/name" */
  pod: string;
  ip: string;
  direction: 'ingress' | 'egress';
  /** The policies that isolate it ("namespace/name"), for the chain's comments. */
  policies: string[];
  allow: Allow[];
}

/** The jump from FORWARD, kept first so that kube-proxy's ACCEPTs cannot pre-empt a verdict. */
export const MAIN_CHAIN = 'KUBE-NETWORK-POLICIES';
export const FORWARD_JUMP = `-m comment --comment "kindnet: network policies" -j ${MAIN_CHAIN}`;

/** Per direction, the chain that sends each isolated pod of the node to its own chain. */
const DISPATCH = { egress: 'KUBE-NP-EGRESS', ingress: 'KUBE-NP-INGRESS' } as const;

/** The packet mark a pod's chain sets when some rule allows the packet (cleared first). */
const ALLOWED_MARK = '0x20000/0x20000';
/** The connection mark for "a policy accepted this connection" (kindnet's conntrack label). */
const ACCEPTED_CONN = '0x20000/0x20000';

/** A rule comment: iptables takes at most 255 characters (a long list of policies is cut). */
const q = (s: string) => {
  const text = s.replace(/["\\]/g, '');
  return `"${text.length > 255 ? `${text.slice(0, 252)}...` : text}"`;
};

export const podChain = (pod: string, direction: 'ingress' | 'egress') =>
  `KUBE-NP-${direction === 'ingress' ? 'IN' : 'EG'}-${chainHash(`${pod} ${direction}`)}`;
const blockChain = (pod: string, direction: string, peer: { cidr: string; except: string[] }) =>
  `KUBE-NP-IPB-${chainHash(`${pod} ${direction} ${peer.cidr} ${peer.except.join(',')}`)}`;

const describePeer = (p: Peer) => p.kind === 'any' ? 'anywhere' : p.kind === 'pod' ? p.pod : `${p.cidr}${p.except.length ? ` except ${p.except.join(',')}` : ''}`;
const describePort = (p?: PortMatch) => !p ? 'any port' : `${p.protocol}${p.port === undefined ? '' : `/${p.port}${p.endPort !== undefined ? `-${p.endPort}` : ''}`}`;

function portMatch(p?: PortMatch): string {
  if (!p) return '';
  const proto = p.protocol.toLowerCase();
  if (p.port === undefined) return ` -p ${proto}`;
  return ` -p ${proto} -m ${proto} --dport ${p.port}${p.endPort !== undefined && p.endPort !== p.port ? `:${p.endPort}` : ''}`;
}

export interface RenderedPolicies { rules: string; chains: Set<string> }

/**
 * The node's policy chains for these isolated pods, as iptables-restore input for `--noflush`.
 * `previous` are the chains the last sync wrote: those no longer needed are flushed and deleted.
 */
export function renderPolicies(pods: IsolatedPod[], podCIDR: string, previous: Set<string> = new Set()): RenderedPolicies {
  const chains = new Set<string>();
  const main: string[] = [
    `-A ${MAIN_CHAIN} -m connmark --mark ${ACCEPTED_CONN} -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment ${q('a connection a policy accepted stays accepted')} -j RETURN`,
  ];
  // Only traffic from (or to) this node's pods can concern its chains: the pod rules sit behind
  // one test of the node's pod CIDR per direction, so other traffic passes two rules, not all.
  const dispatch = { egress: [] as string[], ingress: [] as string[] };
  const body: string[] = [];
  const sorted = [...pods].sort((a, b) => a.pod.localeCompare(b.pod) || a.direction.localeCompare(b.direction));
  for (const p of sorted) {
    const chain = podChain(p.pod, p.direction);
    chains.add(chain);
    const side = p.direction === 'egress' ? '-s' : '-d';
    const peerSide = p.direction === 'egress' ? '-d' : '-s';
    dispatch[p.direction].push(`-A ${DISPATCH[p.direction]} ${side} ${p.ip}/32 -m comment --comment ${q(`${p.pod} is isolated for ${p.direction} by ${p.policies.join(', ')}`)} -j ${chain}`);
    body.push(`-A ${chain} -j MARK --set-xmark 0x0/${ALLOWED_MARK.split('/')[1]}`);
    // Policies that allow the same thing (they add up) give one rule, commented with all of them:
    // every new connection walks these chains, so each rule costs every connection.
    const same = new Map<string, Allow[]>();
    for (const a of p.allow) {
      const key = `${describePeer(a.peer)} ${describePort(a.port)}`;
      same.set(key, [...(same.get(key) ?? []), a]);
    }
    for (const [first, ...more] of same.values()) {
      const a = first;
      const also = more.length ? ` (also ${more.map((m) => `${m.policy} ${m.rule}`).join(', ')})` : '';
      const comment = `-m comment --comment ${q(`${a.policy} ${a.rule}: ${p.direction === 'egress' ? 'to' : 'from'} ${describePeer(a.peer)}, ${describePort(a.port)}${also}`)}`;
      const ports = portMatch(a.port);
      if (a.peer.kind === 'cidr' && a.peer.except.length) {
        // "In the CIDR but in none of its exceptions" takes a chain: the exceptions return early.
        const ipb = blockChain(p.pod, p.direction, a.peer);
        if (!chains.has(ipb)) {
          chains.add(ipb);
          body.push(...a.peer.except.map((e) => `-A ${ipb} ${peerSide} ${e} -m comment --comment ${q(`except ${e}`)} -j RETURN`));
          body.push(`-A ${ipb} -j MARK --set-xmark ${ALLOWED_MARK}`);
        }
        body.push(`-A ${chain} ${peerSide} ${a.peer.cidr}${ports} ${comment} -j ${ipb}`);
        continue;
      }
      const addr = a.peer.kind === 'pod' ? ` ${peerSide} ${a.peer.ip}/32` : a.peer.kind === 'cidr' ? ` ${peerSide} ${a.peer.cidr}` : '';
      body.push(`-A ${chain}${addr}${ports} ${comment} -j MARK --set-xmark ${ALLOWED_MARK}`);
    }
    body.push(`-A ${chain} -m mark --mark ${ALLOWED_MARK} -j RETURN`);
    body.push(`-A ${chain} -m comment --comment ${q(`no policy allows this ${p.direction} ${p.direction === 'egress' ? 'from' : 'to'} ${p.pod}`)} -j DROP`);
  }
  if (dispatch.egress.length) main.push(`-A ${MAIN_CHAIN} -s ${podCIDR} -m comment --comment ${q("from this node's pods")} -j ${DISPATCH.egress}`);
  if (dispatch.ingress.length) main.push(`-A ${MAIN_CHAIN} -d ${podCIDR} -m comment --comment ${q("to this node's pods")} -j ${DISPATCH.ingress}`);
  main.push(...dispatch.egress, ...dispatch.ingress);
  // Whatever got this far is allowed: mark the connection, whichever end opened it (the replies
  // of a connection an ingress-isolated pod opened come back to it, and must pass). One rule for
  // every connection: each rule here costs every new connection.
  main.push(`-A ${MAIN_CHAIN} -m comment --comment ${q('allowed: the connection stays accepted')} -j CONNMARK --set-xmark ${ACCEPTED_CONN}`);
  const stale = [...previous].filter((c) => !chains.has(c));
  const rules = [
    '*filter',
    `:${MAIN_CHAIN} - [0:0]`,
    `:${DISPATCH.egress} - [0:0]`,
    `:${DISPATCH.ingress} - [0:0]`,
    ...[...chains, ...stale].map((c) => `:${c} - [0:0]`),
    ...main,
    ...body,
    ...stale.map((c) => `-X ${c}`),
    'COMMIT',
    '',
  ].join('\n');
  return { rules, chains };
}

/** Shell that puts the FORWARD jump first unless it is there already (`-C` cannot say "first"). */
export function ensureForwardJumpScript(): string {
  const rule = `-A FORWARD ${FORWARD_JUMP}`;
  return `[ "$(iptables -w -S FORWARD | sed -n 2p)" = '${rule}' ] || { while iptables -w -D FORWARD ${FORWARD_JUMP} 2>/dev/null; do :; done; iptables -w -I FORWARD 1 ${FORWARD_JUMP}; }`;
}
