import { isIPv4 } from 'node:net';
import type { Protocol } from '../../server/cluster/netpol/policy.ts';
import type { KubeObject } from '../../server/cluster/object.ts';
import { intToIp, ipToInt } from '../../server/util/ipv4.ts';

// The world Kubernetes' NetworkPolicy e2e suite runs its cases in (test/e2e/network/netpol,
// model.go and kubemanager.go): namespaces x, y and z, pods a, b and c in each, labelled
// `pod=<name>`, every pod serving ports 80 and 81 over TCP and UDP from one agnhost container per
// port and protocol, and every pod behind a Service of its own whose ports are the container ports.
// (Upstream serves, in each case, only the ports and protocols that case probes.)
//
// Upstream's namespaces are named netpol-x-<random> and so on; policies reach them through the
// `kubernetes.io/metadata.name` label the API server puts on every namespace, which is the only
// namespace label any case selects on (upstream's namespaces also carry the e2e framework's run
// and pod-security labels, which no case looks at). Here the namespaces are plainly x, y and z.
//
// Upstream also serves SCTP (agnhost porter) in the cases that probe it; the lab's agnhost serves
// no SCTP, and none of the TCP and UDP cases sends SCTP traffic, so there are no SCTP containers.
//
// Probes go from a pod's first container to the destination's Service ClusterIP, so policies see
// the traffic after the Service's DNAT: destination pod IP, port = container port (upstream's
// Service ports equal the container ports, so there is no targetPort to translate).

export const NAMESPACES = ['x', 'y', 'z'] as const;
export const POD_NAMES = ['a', 'b', 'c'] as const;
export type Namespace = (typeof NAMESPACES)[number];
export type PodName = (typeof POD_NAMES)[number];
/** A pod of the world as upstream writes it: `x/a`. */
export type PodRef = `${Namespace}/${PodName}`;

/** The 9 pods, in upstream's order (x/a, x/b, x/c, y/a, ... z/c): the rows and columns of every truth table. */
export const PODS: PodRef[] = NAMESPACES.flatMap((ns) => POD_NAMES.map((pod): PodRef => `${ns}/${pod}`));

export function splitPodRef(ref: PodRef): { namespace: Namespace; pod: PodName } {
  const namespace = NAMESPACES.find((n) => ref.startsWith(`${n}/`));
  const pod = POD_NAMES.find((p) => ref.endsWith(`/${p}`));
  if (!namespace || !pod) throw new Error(`not a pod of the world: ${ref}`);
  return { namespace, pod };
}

/** What every pod serves, in upstream's container order (ports, then protocols). */
export const SERVED: readonly { port: number; protocol: Protocol }[] = [80, 81].flatMap((port) => (['TCP', 'UDP'] as const).map((protocol) => ({ port, protocol })));

export const AGNHOST_IMAGE = 'registry.k8s.io/e2e-test-images/agnhost:2.53';

const lower = (p: Protocol) => p.toLowerCase();
export const containerName = (port: number, protocol: Protocol) => `cont-${port}-${lower(protocol)}`;
/** The container port's name, what named-port cases refer to: `serve-80-tcp`. */
export const portName = (port: number, protocol: Protocol) => `serve-${port}-${lower(protocol)}`;
export const serviceName = (ref: PodRef) => { const { namespace, pod } = splitPodRef(ref); return `s-${namespace}-${pod}`; };

/** The container probes run in: the pod's first. */
export const PROBE_CONTAINER = containerName(SERVED[0].port, SERVED[0].protocol);

export function namespaceManifest(ns: Namespace): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } };
}

export function podManifest(ref: PodRef): KubeObject {
  const { namespace, pod } = splitPodRef(ref);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: pod, namespace, labels: { pod } },
    spec: {
      terminationGracePeriodSeconds: 0,
      containers: SERVED.map(({ port, protocol }) => ({
        name: containerName(port, protocol),
        image: AGNHOST_IMAGE,
        imagePullPolicy: 'IfNotPresent',
        command: ['/agnhost', 'serve-hostname', protocol === 'TCP' ? '--tcp' : '--udp', '--http=false', '--port', String(port)],
        ports: [{ containerPort: port, name: portName(port, protocol), protocol }],
      })),
    },
  };
}

export function serviceManifest(ref: PodRef): KubeObject {
  const { namespace, pod } = splitPodRef(ref);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: serviceName(ref), namespace },
    spec: {
      selector: { pod },
      ports: SERVED.map(({ port, protocol }) => ({ name: `service-port-${lower(protocol)}-${port}`, protocol, port })),
    },
  };
}

/** Everything to apply, namespaces first. */
export function worldManifests(): KubeObject[] {
  return [...NAMESPACES.map(namespaceManifest), ...PODS.flatMap((ref) => [podManifest(ref), serviceManifest(ref)])];
}

/** How upstream probes: a 1 s connect, retried every second for up to 10 s until it gives the
 *  expected answer (so a dataplane still converging is not a failure), 3 probes at a time, and
 *  the whole table probed a second time when anything was wrong after the first. */
export const UPSTREAM_PROBING = { timeoutSeconds: 1, pollIntervalSeconds: 1, pollTimeoutSeconds: 10, workers: 3, tries: 2 } as const;

/** The exec that probes `to`'s Service from `from`: `kubectl exec -n <namespace> <pod> -c <container> -- <command...>`. */
export function probeCommand(from: PodRef, serviceIP: string, port: number, protocol: Protocol, timeoutSeconds: number = UPSTREAM_PROBING.timeoutSeconds) {
  const { namespace, pod } = splitPodRef(from);
  return {
    namespace,
    pod,
    container: PROBE_CONTAINER,
    command: ['/agnhost', 'connect', `${serviceIP}:${port}`, `--timeout=${timeoutSeconds}s`, `--protocol=${lower(protocol)}`],
  };
}

// ---- policies written against pod IPs ----------------------------------------------------------

/**
 * A CIDR upstream builds from a pod's IP at run time: the `prefix`-bit network that contains it.
 * `{ podIPCIDR: 'y/b', prefix: 32 }` is y/b alone; upstream's "large CIDR" is a /4 around a pod's IP.
 */
export interface PodIPCIDR { podIPCIDR: PodRef; prefix: number }
export type CIDRValue = string | PodIPCIDR;

export interface LabelSelectorSpec {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}
export interface PolicyPortSpec { protocol?: Protocol; port?: number | string; endPort?: number }
export interface PolicyPeerSpec { podSelector?: LabelSelectorSpec; namespaceSelector?: LabelSelectorSpec; ipBlock?: { cidr: CIDRValue; except?: CIDRValue[] } }

/** A networking.k8s.io/v1 NetworkPolicy whose ipBlocks may name pod IPs symbolically. */
export interface PolicyTemplate {
  apiVersion: 'networking.k8s.io/v1';
  kind: 'NetworkPolicy';
  metadata: { namespace: Namespace; name: string };
  spec: {
    podSelector: LabelSelectorSpec;
    policyTypes?: ('Ingress' | 'Egress')[];
    ingress?: { from?: PolicyPeerSpec[]; ports?: PolicyPortSpec[] }[];
    egress?: { to?: PolicyPeerSpec[]; ports?: PolicyPortSpec[] }[];
  };
}

/** The pods' IPs (IPv4), once the lab has given them. */
export type PodIPs = Record<PodRef, string>;

function concreteCIDR(c: CIDRValue, ips: PodIPs): string {
  if (typeof c === 'string') return c;
  const ip = ips[c.podIPCIDR];
  if (!ip || !isIPv4(ip)) throw new Error(`no IPv4 address for ${c.podIPCIDR}`);
  const mask = c.prefix === 0 ? 0 : (~0 << (32 - c.prefix)) >>> 0;
  return `${intToIp((ipToInt(ip) & mask) >>> 0)}/${c.prefix}`;
}

/** The policy to apply, its pod-IP CIDRs written out. */
export function concretePolicy(t: PolicyTemplate, ips: PodIPs): KubeObject {
  const peers = (list: PolicyPeerSpec[] | undefined) => list?.map(({ ipBlock, ...rest }) => (ipBlock ? {
    ...rest,
    ipBlock: { cidr: concreteCIDR(ipBlock.cidr, ips), ...(ipBlock.except ? { except: ipBlock.except.map((e) => concreteCIDR(e, ips)) } : {}) },
  } : rest));
  const { ingress, egress, ...spec } = t.spec;
  return {
    apiVersion: t.apiVersion,
    kind: t.kind,
    metadata: { ...t.metadata },
    spec: {
      ...spec,
      ...(ingress ? { ingress: ingress.map(({ from, ...r }) => ({ ...r, ...(from ? { from: peers(from) } : {}) })) } : {}),
      ...(egress ? { egress: egress.map(({ to, ...r }) => ({ ...r, ...(to ? { to: peers(to) } : {}) })) } : {}),
    },
  };
}
