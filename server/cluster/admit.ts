import type { AdmitOptions, ClusterApi } from './api.ts';
import { addServiceAccountVolume, applyDefaults } from './admission/defaults.ts';
import { admitIngressClass } from './admission/ingressclass.ts';
import { invalidError, secretDecodeError, SERVICE_CLUSTER_IP_RANGE, SERVICE_NODE_PORT_RANGE, validate } from './admission/validate.ts';
import { preparedDefinitionStatus } from './admission/crd.ts';
import { admitCustomResource } from './admission/custom-resource.ts';
import { isBuiltin } from './kinds.ts';
import { ApiError, type KubeObject } from './object.ts';
import type { ResourceKind } from './registry.ts';
import { intToIp, ipToInt } from '../util/ipv4.ts';
import { podQOSClass } from './resources.ts';

// The admission chain of a lab's API server, in kube-apiserver's order: decode checks, defaulting,
// the mutating plugins that matter here (ServiceAccount; DefaultIngressClass; the registry's
// ClusterIP and NodePort allocators; a new Pod starts Pending), then validation. ClusterIPs are drawn at random from the
// Service range as the allocator does, so they look like a real cluster's (10.96.x.y).

interface ServiceSpec {
  type?: string; clusterIP?: string; clusterIPs?: string[]; ipFamilies?: string[]; ipFamilyPolicy?: string; externalIPs?: string[];
  ports?: { nodePort?: number }[]; externalTrafficPolicy?: string; healthCheckNodePort?: number;
  allocateLoadBalancerNodePorts?: boolean; loadBalancerClass?: string;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const needsNodePorts = (s: ServiceSpec) => s.type === 'NodePort' || (s.type === 'LoadBalancer' && s.allocateLoadBalancerNodePorts !== false);
const externallyAccessible = (s: ServiceSpec) => s.type === 'NodePort' || s.type === 'LoadBalancer' || (s.externalIPs ?? []).length > 0;

/**
 * A Service changing type drops what the old type had and the new one cannot have, where the user
 * left it as it was (the registry's dropTypeDependentFields): so `kubectl patch` to type ClusterIP
 * works without naming nodePorts, and the load balancer's status goes at once.
 */
function dropTypeDependentFields(obj: KubeObject, spec: ServiceSpec, before: ServiceSpec): void {
  if (before.type !== 'ExternalName' && spec.type === 'ExternalName') {
    if (same(spec.clusterIP, before.clusterIP)) { delete spec.clusterIP; delete spec.clusterIPs; }
    if (same(spec.ipFamilies, before.ipFamilies)) delete spec.ipFamilies;
    if (same(spec.ipFamilyPolicy, before.ipFamilyPolicy)) delete spec.ipFamilyPolicy;
  }
  if (needsNodePorts(before) && !needsNodePorts(spec) && same(spec.ports?.map((p) => p.nodePort), before.ports?.map((p) => p.nodePort))) {
    for (const p of spec.ports ?? []) delete p.nodePort;
  }
  const needsHealthCheck = (s: ServiceSpec) => s.type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local';
  if (needsHealthCheck(before) && !needsHealthCheck(spec) && same(spec.healthCheckNodePort, before.healthCheckNodePort)) delete spec.healthCheckNodePort;
  if (before.type === 'LoadBalancer' && spec.type !== 'LoadBalancer') {
    if (same(spec.allocateLoadBalancerNodePorts, before.allocateLoadBalancerNodePorts)) delete spec.allocateLoadBalancerNodePorts;
    if (same(spec.loadBalancerClass, before.loadBalancerClass)) delete spec.loadBalancerClass;
  }
  if (externallyAccessible(before) && !externallyAccessible(spec) && same(spec.externalTrafficPolicy, before.externalTrafficPolicy)) delete spec.externalTrafficPolicy;
  if (spec.type !== 'LoadBalancer' && obj.status) obj.status = { ...(obj.status as object), loadBalancer: {} };
}

function allocateClusterIP(api: ClusterApi, random: () => number): string {
  const [base, len] = SERVICE_CLUSTER_IP_RANGE.split('/');
  const size = 2 ** (32 - Number(len));
  const used = new Set(api.list('Service', undefined).items.map((s) => (s.spec as ServiceSpec).clusterIP));
  // The first address is the `kubernetes` Service's; the range's first 1/16 is for static IPs.
  for (let attempt = 0; attempt < 4096; attempt++) {
    const ip = intToIp(ipToInt(base) + Math.floor(size / 16) + Math.floor(random() * (size - size / 16 - 1)));
    if (!used.has(ip)) return ip;
  }
  throw new ApiError(500, 'InternalError', 'Internal error occurred: failed to allocate a serviceIP: range is full');
}

function allocateNodePort(api: ClusterApi, random: () => number, taken: Set<number>): number {
  for (const s of api.list('Service', undefined).items) {
    const spec = s.spec as ServiceSpec;
    for (const p of spec.ports ?? []) if (p.nodePort) taken.add(p.nodePort);
    if (spec.healthCheckNodePort) taken.add(spec.healthCheckNodePort);
  }
  for (let attempt = 0; attempt < 4096; attempt++) {
    const port = SERVICE_NODE_PORT_RANGE.base + Math.floor(random() * SERVICE_NODE_PORT_RANGE.size);
    if (!taken.has(port)) { taken.add(port); return port; }
  }
  throw new ApiError(500, 'InternalError', 'Internal error occurred: failed to allocate a nodePort: range is full');
}

function allocateService(obj: KubeObject, old: KubeObject | undefined, api: ClusterApi, random: () => number): void {
  const spec = (obj.spec ?? {}) as ServiceSpec;
  const before = old?.spec as ServiceSpec | undefined;
  if (before) dropTypeDependentFields(obj, spec, before);
  if (spec.type === 'ExternalName') return;
  if (!spec.clusterIP) spec.clusterIP = before?.clusterIP && before.clusterIP !== 'None' ? before.clusterIP : allocateClusterIP(api, random);
  else if (!old && spec.clusterIP !== 'None') {
    const owner = api.list('Service', undefined).items.find((s) => (s.spec as ServiceSpec).clusterIP === spec.clusterIP);
    if (owner) {
      throw new ApiError(422, 'Invalid', `Service "${obj.metadata.name}" is invalid: spec.clusterIPs: Invalid value: []string{"${spec.clusterIP}"}: failed to allocate IP ${spec.clusterIP}: provided IP is already allocated`,
        { name: obj.metadata.name, kind: 'Service', causes: [{ reason: 'FieldValueInvalid', message: `Invalid value: []string{"${spec.clusterIP}"}: failed to allocate IP ${spec.clusterIP}: provided IP is already allocated`, field: 'spec.clusterIPs' }] });
    }
  }
  spec.clusterIPs = [spec.clusterIP];
  if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') {
    const taken = new Set<number>();
    (spec.ports ?? []).forEach((p, i) => { if (!p.nodePort) p.nodePort = before?.ports?.[i]?.nodePort ?? allocateNodePort(api, random, taken); });
  }
  // A LoadBalancer keeping the client's address gets a port where kube-proxy answers whether this
  // node has endpoints, for the cloud's health checks.
  if (spec.type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local') {
    if (!spec.healthCheckNodePort) spec.healthCheckNodePort = before?.healthCheckNodePort ?? allocateNodePort(api, random, new Set());
  }
  obj.spec = spec;
}

export function admit(kind: ResourceKind, input: KubeObject, old: KubeObject | undefined, api: ClusterApi, opts: AdmitOptions = {}, random: () => number = Math.random): KubeObject {
  if (!isBuiltin(kind)) return admitCustomResource(api.kinds.requireCustom(kind), input, old, opts);
  if (kind === 'Secret') {
    const bad = secretDecodeError(input);
    if (bad) throw bad;
  }
  const obj = applyDefaults(kind, input);
  if (kind === 'Service') allocateService(obj, old, api, random);
  if (kind === 'Pod' && !old) {
    addServiceAccountVolume(obj, api.tryGet('ServiceAccount', obj.metadata.namespace, String((obj.spec as { serviceAccountName?: string } | undefined)?.serviceAccountName ?? 'default')));
    // A new pod is Pending until the kubelet reports otherwise.
    obj.status = { phase: 'Pending', qosClass: podQOSClass(obj.spec as Parameters<typeof podQOSClass>[0]), ...(obj.status as object) };
  }
  if (kind === 'Ingress' && !old) admitIngressClass(obj, api.list('IngressClass', undefined).items);
  if (kind === 'CustomResourceDefinition') obj.status = preparedDefinitionStatus(obj, !old);
  if (kind === 'Namespace') obj.metadata.labels = { ...obj.metadata.labels, 'kubernetes.io/metadata.name': obj.metadata.name! };
  // The ephemeralcontainers subresource is validated as that: the rest of the pod is as stored.
  const errors = opts.ephemeral ? [] : validate(kind, obj, old);
  if (errors.length) throw invalidError(kind, obj.metadata.name ?? '', errors);
  return obj;
}
