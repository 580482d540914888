import { isIPv4 } from 'node:net';
import { z } from 'zod';
import { inCIDR, parseCIDR } from '../../util/ipv4.ts';
import type { KubeObject } from '../object.ts';
import { fromLabelSelector, matchesLabels, type LabelSelector } from '../selectors.ts';

// What networking.k8s.io/v1 NetworkPolicy means, as plain functions over a snapshot of the cluster
// (namespaces, pods, policies). It is both the oracle tests compare a dataplane with and what a
// dataplane compiler renders from.
//
// The semantics, as the API reference states them and mattfenwick/cyclonus's matcher models them:
// - A policy selects the pods of its own namespace that its podSelector matches ({} = all of them).
//   A selected pod is isolated in each direction the policy's policyTypes name; when policyTypes
//   is omitted the API server makes it Ingress, plus Egress if the policy has egress rules.
// - Traffic from A to B is allowed iff A's egress allows it and B's ingress allows it. A pod no
//   Egress policy selects may send anything; one no Ingress policy selects may receive anything.
//   An isolated pod gets what at least one rule of at least one policy isolating it in that
//   direction allows: policies only ever add up.
// - A rule allows traffic when one of its peers matches the other end and one of its ports
//   matches the traffic's destination port. No from/to (or an empty list): every peer. No ports:
//   every port of every protocol.
// - A peer is a podSelector (pods of the policy's namespace), a namespaceSelector (every pod of
//   the matching namespaces), both (pods matching the first in namespaces matching the second) or
//   an ipBlock: a CIDR minus its excepts, matched against IP addresses. A pod's address is its pod
//   IP, so ipBlocks match pods too (upstream's e2e cases rely on it); selectors never match what
//   is not a pod.
// - A port is a number, a range (port to endPort), no number (every port), on a protocol (TCP
//   when omitted), or a name: the container port of that name and protocol on the destination
//   pod, which may be a different number on each pod. A named port never matches traffic to
//   something that is not a pod.
// - hostNetwork pods share their node's network namespace: no policy selects them, and as a peer
//   they are their IP (the node's), which only an ipBlock can match.

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type Direction = 'ingress' | 'egress';

export interface NamespaceInfo { name: string; labels: Record<string, string> }

export interface ContainerPortInfo { name?: string; port: number; protocol: Protocol }

/** A pod that has an IP (one without an IP sends and receives nothing). */
export interface PodInfo {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  ip: string;
  hostNetwork: boolean;
  /** The container ports of all its containers (what named ports resolve against). */
  ports: ContainerPortInfo[];
}

/** A rule's peer, as the API means it. */
export type PolicyPeer =
  /** `namespaces: 'own'`: the policy's namespace (a peer with no namespaceSelector). An empty
   *  selector ([]) matches everything. */
  | { kind: 'pods'; namespaces: LabelSelector | 'own'; pods: LabelSelector }
  | { kind: 'ipBlock'; cidr: string; except: string[] };

/** A rule's port. A numbered port without `port` is every port of the protocol. */
export type PolicyPort =
  | { kind: 'number'; protocol: Protocol; port?: number; endPort?: number }
  | { kind: 'name'; protocol: Protocol; name: string };

export interface PolicyRule {
  /** 'any': the rule names no peers, so it matches every source (ingress) or destination (egress). */
  peers: 'any' | PolicyPeer[];
  /** 'any': the rule names no ports, so it matches every port of every protocol. */
  ports: 'any' | PolicyPort[];
}

/** A NetworkPolicy, validated and defaulted. */
export interface NetworkPolicy {
  namespace: string;
  name: string;
  podSelector: LabelSelector;
  /** spec.policyTypes as the API server defaults it: the directions it isolates selected pods in. */
  policyTypes: Direction[];
  ingress: PolicyRule[];
  egress: PolicyRule[];
}

export interface World {
  namespaces: NamespaceInfo[];
  pods: PodInfo[];
  policies: NetworkPolicy[];
}

/** One end of some traffic: a pod, or an IP address (a pod's IP is that pod). */
export type Endpoint = PodInfo | string;

// ---- parsing ----------------------------------------------------------------------------------

/** Absent and null mean the same in the API (YAML `from:` with nothing after it is null). */
const opt = <T extends z.ZodType>(t: T) => t.nullish().transform((v) => v ?? undefined);

const selectorSchema = z.object({
  matchLabels: opt(z.record(z.string(), z.string())),
  matchExpressions: opt(z.array(z.object({
    key: z.string(),
    operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
    values: opt(z.array(z.string())),
  }))),
});
const protocolSchema = z.enum(['TCP', 'UDP', 'SCTP']);
const portSchema = z.object({
  protocol: opt(protocolSchema),
  port: opt(z.union([z.int().min(1).max(65535), z.string().min(1)])),
  endPort: opt(z.int().min(1).max(65535)),
});
const peerSchema = z.object({
  podSelector: opt(selectorSchema),
  namespaceSelector: opt(selectorSchema),
  ipBlock: opt(z.object({ cidr: z.string(), except: opt(z.array(z.string())) })),
});
const specSchema = z.object({
  podSelector: opt(selectorSchema),
  policyTypes: opt(z.array(z.enum(['Ingress', 'Egress']))),
  ingress: opt(z.array(z.object({ from: opt(z.array(peerSchema)), ports: opt(z.array(portSchema)) }))),
  egress: opt(z.array(z.object({ to: opt(z.array(peerSchema)), ports: opt(z.array(portSchema)) }))),
});

class PolicyError extends Error {}

function parsePeer(p: z.infer<typeof peerSchema>, path: string): PolicyPeer {
  if (p.ipBlock) {
    if (p.podSelector || p.namespaceSelector) throw new PolicyError(`${path}: may not specify both ipBlock and another peer`);
    const { cidr, except = [] } = p.ipBlock;
    for (const [c, at] of [[cidr, `${path}.ipBlock.cidr`], ...except.map((e, i) => [e, `${path}.ipBlock.except[${i}]`])]) {
      if (parseCIDR(c) === undefined) throw new PolicyError(`${at}: "${c}" is not a CIDR`);
    }
    return { kind: 'ipBlock', cidr, except };
  }
  if (!p.podSelector && !p.namespaceSelector) throw new PolicyError(`${path}: must specify a peer`);
  return { kind: 'pods', namespaces: p.namespaceSelector ? fromLabelSelector(p.namespaceSelector) : 'own', pods: fromLabelSelector(p.podSelector) };
}

function parsePort(p: z.infer<typeof portSchema>, path: string): PolicyPort {
  const protocol = p.protocol ?? 'TCP';
  if (typeof p.port === 'string') {
    if (p.endPort !== undefined) throw new PolicyError(`${path}.endPort: may not be specified when \`port\` is non-numeric`);
    return { kind: 'name', protocol, name: p.port };
  }
  if (p.endPort !== undefined && (p.port === undefined || p.endPort < p.port)) {
    throw new PolicyError(`${path}.endPort: must be specified with \`port\` and be greater than or equal to it`);
  }
  return { kind: 'number', protocol, ...(p.port !== undefined ? { port: p.port } : {}), ...(p.endPort !== undefined ? { endPort: p.endPort } : {}) };
}

function parseRule(peers: z.infer<typeof peerSchema>[] | undefined, ports: z.infer<typeof portSchema>[] | undefined, path: string, peersField: string): PolicyRule {
  return {
    peers: peers?.length ? peers.map((p, i) => parsePeer(p, `${path}.${peersField}[${i}]`)) : 'any',
    ports: ports?.length ? ports.map((p, i) => parsePort(p, `${path}.ports[${i}]`)) : 'any',
  };
}

/** The typed view of a NetworkPolicy object; throws, naming the field, when it is not valid. */
export function parsePolicy(obj: KubeObject): NetworkPolicy {
  const { namespace, name } = obj.metadata;
  const what = `NetworkPolicy ${namespace}/${name}`;
  if (!namespace || !name) throw new Error(`${what}: metadata.namespace and metadata.name are required`);
  const r = specSchema.safeParse(obj.spec ?? {});
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(`${what}: spec${issue.path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('')}: ${issue.message}`);
  }
  const spec = r.data;
  try {
    const ingress = (spec.ingress ?? []).map((rule, i) => parseRule(rule.from, rule.ports, `spec.ingress[${i}]`, 'from'));
    const egress = (spec.egress ?? []).map((rule, i) => parseRule(rule.to, rule.ports, `spec.egress[${i}]`, 'to'));
    const types = spec.policyTypes?.length ? spec.policyTypes : spec.egress?.length ? ['Ingress', 'Egress'] : ['Ingress'];
    const policyTypes = (['ingress', 'egress'] as const).filter((d) => types.includes(d === 'ingress' ? 'Ingress' : 'Egress'));
    return { namespace, name, podSelector: fromLabelSelector(spec.podSelector), policyTypes, ingress, egress };
  } catch (e) {
    if (e instanceof PolicyError) throw new Error(`${what}: ${e.message}`);
    throw e;
  }
}

const metaSchema = z.object({ name: z.string(), namespace: opt(z.string()), labels: opt(z.record(z.string(), z.string())) });
const podSchema = z.object({
  metadata: metaSchema,
  spec: z.object({
    hostNetwork: opt(z.boolean()),
    containers: z.array(z.object({
      ports: opt(z.array(z.object({ name: opt(z.string()), containerPort: z.int(), protocol: opt(protocolSchema) }))),
    })),
  }),
  status: opt(z.object({ phase: opt(z.string()), podIP: opt(z.string()), podIPs: opt(z.array(z.object({ ip: z.string() }))) })),
});

/** A Pod object as the policies see it; undefined for a pod with no IPv4 address yet, or one that
 *  has finished (its IP may already be another pod's). */
export function podInfo(obj: KubeObject): PodInfo | undefined {
  const r = podSchema.safeParse(obj);
  if (!r.success) throw new Error(`Pod ${obj.metadata.namespace}/${obj.metadata.name}: ${r.error.issues[0].message}`);
  const { metadata, spec, status } = r.data;
  if (status?.phase === 'Succeeded' || status?.phase === 'Failed') return undefined;
  const ip = [status?.podIP, ...(status?.podIPs ?? []).map((p) => p.ip)].find((a) => a !== undefined && isIPv4(a));
  if (!ip || !metadata.namespace) return undefined;
  return {
    namespace: metadata.namespace,
    name: metadata.name,
    labels: metadata.labels ?? {},
    ip,
    hostNetwork: spec.hostNetwork ?? false,
    ports: spec.containers.flatMap((c) => (c.ports ?? []).map((p) => ({ ...(p.name ? { name: p.name } : {}), port: p.containerPort, protocol: p.protocol ?? 'TCP' }))),
  };
}

/** The world as the API stores it: Namespace, Pod and NetworkPolicy objects. */
export function worldFromObjects(objects: { namespaces: KubeObject[]; pods: KubeObject[]; policies: KubeObject[] }): World {
  return {
    namespaces: objects.namespaces.map((o) => ({ name: o.metadata.name ?? '', labels: o.metadata.labels ?? {} })),
    pods: objects.pods.map(podInfo).filter((p): p is PodInfo => p !== undefined),
    policies: objects.policies.map(parsePolicy),
  };
}

// ---- addresses --------------------------------------------------------------------------------

/** Whether an address is in an ipBlock: inside its CIDR and outside all its excepts. */
export function inIPBlock(ip: string, block: { cidr: string; except: string[] }): boolean {
  return inCIDR(ip, block.cidr) && !block.except.some((e) => inCIDR(ip, e));
}

// ---- semantics --------------------------------------------------------------------------------

/** Whether the policy selects the pod: same namespace, podSelector matches, not hostNetwork. */
export function selectsPod(policy: NetworkPolicy, pod: PodInfo): boolean {
  return !pod.hostNetwork && pod.namespace === policy.namespace && matchesLabels(policy.podSelector, pod.labels);
}

/** The pods the policy isolates, in each direction. */
export function isolatedPods(world: World, policy: NetworkPolicy): Record<Direction, PodInfo[]> {
  const selected = world.pods.filter((p) => selectsPod(policy, p));
  return {
    ingress: policy.policyTypes.includes('ingress') ? selected : [],
    egress: policy.policyTypes.includes('egress') ? selected : [],
  };
}

/** The policies isolating the pod in a direction, by namespace and name. */
function isolating(world: World, pod: PodInfo, direction: Direction): NetworkPolicy[] {
  return world.policies
    .filter((p) => p.policyTypes.includes(direction) && selectsPod(p, pod))
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

/** An endpoint as traffic sees it: an address, and the pod behind it if it is a pod's. */
interface End { ip: string; pod?: PodInfo }

function end(world: World, e: Endpoint): End {
  if (typeof e === 'string') return { ip: e, pod: world.pods.find((p) => !p.hostNetwork && p.ip === e) };
  return e.hostNetwork ? { ip: e.ip } : { ip: e.ip, pod: e };
}

function namespaceLabels(world: World, namespace: string): Record<string, string> {
  return world.namespaces.find((n) => n.name === namespace)?.labels ?? {};
}

function peerMatches(world: World, policy: NetworkPolicy, peer: PolicyPeer, other: End): boolean {
  if (peer.kind === 'ipBlock') return inIPBlock(other.ip, peer);
  const pod = other.pod;
  if (!pod) return false;
  const inNamespace = peer.namespaces === 'own' ? pod.namespace === policy.namespace : matchesLabels(peer.namespaces, namespaceLabels(world, pod.namespace));
  return inNamespace && matchesLabels(peer.pods, pod.labels);
}

/** The number a named port has on a pod: its container port of that name and protocol. */
function namedPort(pod: PodInfo, name: string, protocol: Protocol): number | undefined {
  return pod.ports.find((p) => p.name === name && p.protocol === protocol)?.port;
}

function portMatches(p: PolicyPort, port: number, protocol: Protocol, destination: PodInfo | undefined): boolean {
  if (p.protocol !== protocol) return false;
  if (p.kind === 'name') return destination !== undefined && namedPort(destination, p.name, protocol) === port;
  return p.port === undefined || (port >= p.port && port <= (p.endPort ?? p.port));
}

/** Whether `subject`'s side lets the traffic through in `direction`; `other` is the far end. */
function sideAllows(world: World, direction: Direction, subject: PodInfo, other: End, port: number, protocol: Protocol, destination: PodInfo | undefined): boolean {
  const policies = isolating(world, subject, direction);
  return !policies.length || policies.some((policy) => policy[direction].some((rule) =>
    (rule.peers === 'any' || rule.peers.some((peer) => peerMatches(world, policy, peer, other)))
    && (rule.ports === 'any' || rule.ports.some((p) => portMatches(p, port, protocol, destination)))));
}

/**
 * Whether traffic from `from` to `to` on the destination port and protocol is allowed: by the
 * source's egress and by the destination's ingress. The port is the one the destination receives
 * on: for traffic to a Service, the pod's port after the Service's DNAT.
 */
export function allowed(world: World, from: Endpoint, to: Endpoint, port: number, protocol: Protocol): boolean {
  const src = end(world, from);
  const dst = end(world, to);
  return (!src.pod || sideAllows(world, 'egress', src.pod, dst, port, protocol, dst.pod))
    && (!dst.pod || sideAllows(world, 'ingress', dst.pod, src, port, protocol, dst.pod));
}

// ---- resolved rules, for a dataplane compiler --------------------------------------------------

/** A peer as addresses: one pod's IP, or an ipBlock. */
export type ResolvedPeer =
  | { kind: 'pod'; namespace: string; name: string; ip: string }
  | { kind: 'ipBlock'; cidr: string; except: string[] };

/** A destination port match: `port` to `endPort`, one port without `endPort`, every port without `port`. */
export interface ResolvedPort { protocol: Protocol; port?: number; endPort?: number }

/** Traffic to (egress) or from (ingress) one of `peers`, to one of `ports`. */
export interface Allowance {
  peers: 'any' | ResolvedPeer[];
  ports: 'any' | ResolvedPort[];
}

/** Whether an allowance lets through traffic whose far end has this address, to this destination port. */
export function allowanceMatches(a: Allowance, ip: string, port: number, protocol: Protocol): boolean {
  return (a.peers === 'any' || a.peers.some((p) => (p.kind === 'pod' ? p.ip === ip : inIPBlock(ip, p))))
    && (a.ports === 'any' || a.ports.some((p) => p.protocol === protocol && (p.port === undefined || (port >= p.port && port <= (p.endPort ?? p.port)))));
}

export interface ResolvedRule {
  policy: NetworkPolicy;
  direction: Direction;
  /** The rule's index in the policy's spec.ingress or spec.egress. */
  index: number;
  /** `<namespace>/<policy> <direction>[<index>]`, to comment the dataplane's rules with. */
  comment: string;
  /** What the rule lets through for this pod: the union of these, nothing when empty (its
   *  selectors match no pod, or its named ports resolve on no pod). */
  allows: Allowance[];
}

export interface PodRules {
  /** Whether a policy isolates the pod in this direction; if not, everything passes and there are no rules. */
  isolated: boolean;
  /** The policies that isolate it in this direction (a default-deny has no rules, but isolates). */
  policies: NetworkPolicy[];
  /** Every rule of every policy isolating the pod, by policy namespace and name, then index. */
  rules: ResolvedRule[];
}

/** The pods and ipBlocks a rule's peers stand for, each pod once. */
function resolvePeers(world: World, policy: NetworkPolicy, peers: PolicyPeer[]): ResolvedPeer[] {
  const out: ResolvedPeer[] = [];
  for (const peer of peers) {
    if (peer.kind === 'ipBlock') { out.push({ kind: 'ipBlock', cidr: peer.cidr, except: peer.except }); continue; }
    for (const pod of world.pods) {
      if (!pod.hostNetwork && peerMatches(world, policy, peer, { ip: pod.ip, pod }) && !out.some((p) => p.kind === 'pod' && p.namespace === pod.namespace && p.name === pod.name)) {
        out.push({ kind: 'pod', namespace: pod.namespace, name: pod.name, ip: pod.ip });
      }
    }
  }
  return out;
}

const numbered = (ports: PolicyPort[]): ResolvedPort[] =>
  ports.flatMap((p) => (p.kind === 'number' ? [{ protocol: p.protocol, ...(p.port !== undefined ? { port: p.port } : {}), ...(p.endPort !== undefined ? { endPort: p.endPort } : {}) }] : []));

/** The named ports resolved on a destination pod, as single ports. */
const named = (ports: PolicyPort[], pod: PodInfo): ResolvedPort[] =>
  ports.flatMap((p) => {
    const n = p.kind === 'name' ? namedPort(pod, p.name, p.protocol) : undefined;
    return n === undefined ? [] : [{ protocol: p.protocol, port: n }];
  });

function allowances(world: World, policy: NetworkPolicy, rule: PolicyRule, direction: Direction, pod: PodInfo): Allowance[] {
  const peers = rule.peers === 'any' ? 'any' : resolvePeers(world, policy, rule.peers);
  if (peers !== 'any' && !peers.length) return [];
  if (rule.ports === 'any') return [{ peers, ports: 'any' }];
  // Ingress: the destination is the pod itself, so its named ports are numbers like the others.
  if (direction === 'ingress') {
    const ports = [...numbered(rule.ports), ...named(rule.ports, pod)];
    return ports.length ? [{ peers, ports }] : [];
  }
  // Egress: a named port resolves on each destination pod, to a number that may differ from pod
  // to pod; destinations with the same numbers share an allowance.
  const out: Allowance[] = [];
  const ports = numbered(rule.ports);
  if (ports.length) out.push({ peers, ports });
  const byPorts = new Map<string, Allowance>();
  for (const dst of world.pods) {
    if (dst.hostNetwork || (rule.peers !== 'any' && !rule.peers.some((peer) => peerMatches(world, policy, peer, { ip: dst.ip, pod: dst })))) continue;
    const resolved = named(rule.ports, dst);
    if (!resolved.length) continue;
    const key = JSON.stringify(resolved);
    const peer: ResolvedPeer = { kind: 'pod', namespace: dst.namespace, name: dst.name, ip: dst.ip };
    const a = byPorts.get(key);
    if (a && a.peers !== 'any') a.peers.push(peer);
    else byPorts.set(key, { peers: [peer], ports: resolved });
  }
  return [...out, ...byPorts.values()];
}

/**
 * For one pod and direction: whether it is isolated, and what each rule of each policy isolating
 * it allows, with selectors resolved to pod IPs and named ports to numbers. A dataplane renders
 * this directly: for an isolated pod, accept what an allowance matches and drop the rest.
 */
export function podRules(world: World, pod: PodInfo, direction: Direction): PodRules {
  const policies = isolating(world, pod, direction);
  return {
    isolated: policies.length > 0,
    policies,
    rules: policies.flatMap((policy) => policy[direction].map((rule, index) => ({
      policy,
      direction,
      index,
      comment: `${policy.namespace}/${policy.name} ${direction}[${index}]`,
      allows: allowances(world, policy, rule, direction, pod),
    }))),
  };
}
