// What the API server fills in when a client leaves a field out, so that what kubectl reads back
// (`kubectl get -o yaml`) is what a real cluster would have stored. The rules are kube-apiserver
// 1.33's defaulting functions (pkg/apis/{core,apps,networking,discovery}/v1/defaults.go), applied
// to nested types the way zz_generated.defaults.go does: PodSpec rules reach every pod template,
// the Pod-only rules (SetDefaults_Pod) do not. A few values a real cluster always shows on a Pod
// come from the default admission plugins (Priority, DefaultTolerationSeconds, ServiceAccount)
// or from the registry strategies (Namespace finalizers, Service clusterIPs); they are applied
// here too and marked as such. The ServiceAccount token volume is the exception: it needs the
// ServiceAccount object, so it is a separate step (addServiceAccountVolume).

import { randomInt } from 'node:crypto';
import type { KindName } from '../kinds.ts';
import { defaultCustomResourceDefinition } from './crd.ts';
import type { KubeObject } from '../object.ts';
import { base64ErrorOffset } from './validate.ts';

type Obj = Record<string, any>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);
/** The object at obj[key], created empty when absent (Go's non-pointer structs always exist). */
const sub = (obj: Obj, key: string): Obj => (isObj(obj[key]) ? obj[key] : (obj[key] = {}));
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);
const unset = (v: unknown) => v === undefined || v === null;
const setIfUnset = (obj: Obj, key: string, value: unknown) => { if (unset(obj[key]) || obj[key] === '') obj[key] = value; };

// ---------------------------------------------------------------------------------------------
// Containers and pod specs (SetDefaults_Container, _Probe, _HTTPGetAction, _Volume, _PodSpec)

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;

/** The tag ParseImageName finds in an image reference: "latest" when none is given, "" for a
 *  digest-only reference or one that does not parse (upper case in the path, a bad tag...). */
export function imageTag(image: string): string {
  const [name, digest] = image.split('@', 2);
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  const tag = colon > slash ? name.slice(colon + 1) : '';
  const components = (colon > slash ? name.slice(0, colon) : name).split('/');
  // A first component with a dot, a port or "localhost" is a registry host, where case is free.
  if (components.length > 1 && /[.:]|^localhost$/.test(components[0])) components.shift();
  if (!components.every((c) => PATH_COMPONENT.test(c)) || (tag && !TAG.test(tag))) return '';
  return tag || (digest === undefined ? 'latest' : '');
}

function defaultHandler(handler: Obj) {
  if (isObj(handler.httpGet)) {
    setIfUnset(handler.httpGet, 'path', '/');
    setIfUnset(handler.httpGet, 'scheme', 'HTTP');
  }
}

function defaultProbe(probe: unknown) {
  if (!isObj(probe)) return;
  // Zero means "not set" for these int32 fields, as in Go.
  for (const [f, v] of [['timeoutSeconds', 1], ['periodSeconds', 10], ['successThreshold', 1], ['failureThreshold', 3]] as const) {
    if (!probe[f]) probe[f] = v;
  }
  defaultHandler(probe);
}

function defaultContainer(c: Obj) {
  // PullPolicy is Always for :latest (or no tag), so that a moving tag is re-pulled.
  if (!c.imagePullPolicy) c.imagePullPolicy = imageTag(String(c.image ?? '')) === 'latest' ? 'Always' : 'IfNotPresent';
  setIfUnset(c, 'terminationMessagePath', '/dev/termination-log');
  setIfUnset(c, 'terminationMessagePolicy', 'File');
  for (const p of list(c.ports)) setIfUnset(p, 'protocol', 'TCP');
  for (const e of list(c.env)) if (isObj(e.valueFrom) && isObj(e.valueFrom.fieldRef)) setIfUnset(e.valueFrom.fieldRef, 'apiVersion', 'v1');
  sub(c, 'resources');
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
  if (isObj(c.lifecycle)) for (const h of ['postStart', 'preStop']) if (isObj(c.lifecycle[h])) defaultHandler(c.lifecycle[h]);
}

/** Files projected from Secrets, ConfigMaps and the downward API are 0644 unless asked. */
const DEFAULT_FILE_MODE = 0o644;

function defaultVolume(v: Obj) {
  const sources = Object.keys(v).filter((k) => k !== 'name' && !unset(v[k]));
  if (!sources.length) v.emptyDir = {};
  for (const s of ['secret', 'configMap', 'downwardAPI', 'projected']) if (isObj(v[s])) setIfUnset(v[s], 'defaultMode', DEFAULT_FILE_MODE);
  if (isObj(v.hostPath)) setIfUnset(v.hostPath, 'type', '');
  for (const item of [...list(v.downwardAPI?.items), ...list(v.projected?.sources).flatMap((src) => list(src.downwardAPI?.items))]) {
    if (isObj(item.fieldRef)) setIfUnset(item.fieldRef, 'apiVersion', 'v1');
  }
  for (const src of list(v.projected?.sources)) if (isObj(src.serviceAccountToken)) setIfUnset(src.serviceAccountToken, 'expirationSeconds', 3600);
}

/** SetDefaults_PodSpec and the nested defaults: what every pod template gets. */
function defaultPodSpec(spec: Obj) {
  setIfUnset(spec, 'dnsPolicy', 'ClusterFirst');
  setIfUnset(spec, 'restartPolicy', 'Always');
  sub(spec, 'securityContext');
  setIfUnset(spec, 'terminationGracePeriodSeconds', 30);
  setIfUnset(spec, 'schedulerName', 'default-scheduler');
  for (const v of list(spec.volumes)) defaultVolume(v);
  for (const c of [...list(spec.initContainers), ...list(spec.containers), ...list(spec.ephemeralContainers)]) defaultContainer(c);
}

function defaultPodTemplate(owner: Obj) {
  const template = sub(sub(owner, 'spec'), 'template');
  defaultPodSpec(sub(template, 'spec'));
}

/** The tolerations DefaultTolerationSeconds adds so that pods leave a dead node after 5 minutes. */
const NODE_PROBLEM_TAINTS = ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'];

function defaultPod(pod: Obj) {
  const spec = sub(pod, 'spec');
  // SetDefaults_Pod: a limit without a request requests the limit.
  for (const c of [...list(spec.containers), ...list(spec.initContainers)]) {
    const r = sub(c, 'resources');
    if (isObj(r.limits)) r.requests = { ...r.limits, ...(isObj(r.requests) ? r.requests : {}) };
  }
  setIfUnset(spec, 'enableServiceLinks', true);
  if (spec.hostNetwork === true) {
    for (const c of [...list(spec.containers), ...list(spec.initContainers)]) for (const p of list(c.ports)) if (!p.hostPort) p.hostPort = p.containerPort;
  }
  defaultPodSpec(spec);

  // Admission (Priority): no priorityClassName and no global default class means priority 0.
  const priorities: Record<string, number> = { 'system-node-critical': 2000001000, 'system-cluster-critical': 2000000000 };
  if (unset(spec.priority)) spec.priority = priorities[spec.priorityClassName] ?? 0;
  setIfUnset(spec, 'preemptionPolicy', 'PreemptLowerPriority');
  // Admission (ServiceAccount) names the default account; the deprecated serviceAccount field
  // mirrors serviceAccountName in every v1 response.
  setIfUnset(spec, 'serviceAccountName', 'default');
  spec.serviceAccount = spec.serviceAccountName;
  // Admission (DefaultTolerationSeconds), unless the pod already tolerates these taints.
  const tolerations = list(spec.tolerations);
  for (const key of NODE_PROBLEM_TAINTS) {
    const tolerated = tolerations.some((t) => (!t.key || t.key === key) && (!t.effect || t.effect === 'NoExecute'));
    if (!tolerated) tolerations.push({ effect: 'NoExecute', key, operator: 'Exists', tolerationSeconds: 300 });
  }
  spec.tolerations = tolerations;
}

// ---------------------------------------------------------------------------------------------
// The ServiceAccount admission plugin's token volume

const TOKEN_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
/** The characters of generated name suffixes (k8s.io/apimachinery/pkg/util/rand): no vowels, no look-alikes. */
const NAME_SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export const randomNameSuffix = (n = 5) => Array.from({ length: n }, () => NAME_SUFFIX_ALPHABET[randomInt(NAME_SUFFIX_ALPHABET.length)]).join('');

/** The projected volume the kubelet fills with a bound token (valid ~1h, 3607 s as requested),
 *  the cluster CA and the pod's namespace. */
const tokenVolume = (name: string) => ({
  name,
  projected: {
    defaultMode: DEFAULT_FILE_MODE,
    sources: [
      { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
      { configMap: { items: [{ key: 'ca.crt', path: 'ca.crt' }], name: 'kube-root-ca.crt' } },
      { downwardAPI: { items: [{ fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' }, path: 'namespace' }] } },
    ],
  },
});

/** What the ServiceAccount admission plugin does to a Pod on create: names the default
 *  ServiceAccount when none is set and, unless the pod or its ServiceAccount opts out with
 *  automountServiceAccountToken: false, mounts a `kube-api-access-xxxxx` projected token volume
 *  read-only at /var/run/secrets/kubernetes.io/serviceaccount in every init and regular container
 *  that does not already mount something there. Mutates and returns the pod. */
export function addServiceAccountVolume(pod: KubeObject, serviceAccount?: KubeObject, suffix = randomNameSuffix()): KubeObject {
  const spec = sub(pod, 'spec');
  setIfUnset(spec, 'serviceAccountName', 'default');
  const automount = typeof spec.automountServiceAccountToken === 'boolean' ? spec.automountServiceAccountToken
    : typeof serviceAccount?.automountServiceAccountToken === 'boolean' ? serviceAccount.automountServiceAccountToken : true;
  if (!automount || pod.metadata.annotations?.['kubernetes.io/config.mirror'] !== undefined) return pod;
  const volumes = list(spec.volumes);
  const existing = volumes.find((v) => String(v.name ?? '').startsWith('kube-api-access-'));
  const name = existing?.name ?? `kube-api-access-${suffix}`;
  let mounted = false;
  for (const c of [...list(spec.initContainers), ...list(spec.containers)]) {
    const mounts = list(c.volumeMounts);
    if (mounts.some((m) => m.mountPath === TOKEN_MOUNT_PATH)) continue;
    c.volumeMounts = [...mounts, { mountPath: TOKEN_MOUNT_PATH, name, readOnly: true }];
    mounted = true;
  }
  if (mounted && !existing) spec.volumes = [...volumes, tokenVolume(name)];
  return pod;
}

// ---------------------------------------------------------------------------------------------
// Services (SetDefaults_Service and the registry's IP family and clusterIPs handling)

function defaultService(svc: Obj) {
  const spec = sub(svc, 'spec');
  setIfUnset(spec, 'type', 'ClusterIP');
  setIfUnset(spec, 'sessionAffinity', 'None');
  if (spec.sessionAffinity === 'None') delete spec.sessionAffinityConfig;
  if (spec.sessionAffinity === 'ClientIP') {
    const clientIP = sub(sub(spec, 'sessionAffinityConfig'), 'clientIP');
    setIfUnset(clientIP, 'timeoutSeconds', 10800);
  }
  for (const p of list(spec.ports)) {
    setIfUnset(p, 'protocol', 'TCP');
    // A targetPort left out (or 0) is the port itself.
    if (unset(p.targetPort) || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
  }
  const external = spec.type === 'NodePort' || spec.type === 'LoadBalancer' || (Array.isArray(spec.externalIPs) && spec.externalIPs.length > 0);
  if (external) setIfUnset(spec, 'externalTrafficPolicy', 'Cluster');
  if (['ClusterIP', 'NodePort', 'LoadBalancer'].includes(spec.type)) setIfUnset(spec, 'internalTrafficPolicy', 'Cluster');
  if (spec.type === 'LoadBalancer') setIfUnset(spec, 'allocateLoadBalancerNodePorts', true);
  if (spec.type === 'ExternalName') return;
  // The registry keeps clusterIP and clusterIPs in step (allocation itself happens elsewhere).
  if (spec.clusterIP && !Array.isArray(spec.clusterIPs)) spec.clusterIPs = [spec.clusterIP];
  if (!spec.clusterIP && Array.isArray(spec.clusterIPs) && spec.clusterIPs.length) spec.clusterIP = spec.clusterIPs[0];
  // A single-stack IPv4 cluster, as kind's default; a headless Service without a selector asks
  // for every family the cluster might have.
  const headlessWithoutSelector = spec.clusterIP === 'None' && !(isObj(spec.selector) && Object.keys(spec.selector).length);
  setIfUnset(spec, 'ipFamilyPolicy', headlessWithoutSelector ? 'RequireDualStack' : 'SingleStack');
  if (!Array.isArray(spec.ipFamilies) || !spec.ipFamilies.length) spec.ipFamilies = headlessWithoutSelector && spec.ipFamilyPolicy !== 'SingleStack' ? ['IPv4', 'IPv6'] : ['IPv4'];
  sub(sub(svc, 'status'), 'loadBalancer');
}

// ---------------------------------------------------------------------------------------------
// Workloads (pkg/apis/apps/v1/defaults.go)

function defaultDeployment(d: Obj) {
  const spec = sub(d, 'spec');
  setIfUnset(spec, 'replicas', 1);
  const strategy = sub(spec, 'strategy');
  setIfUnset(strategy, 'type', 'RollingUpdate');
  if (strategy.type === 'RollingUpdate') {
    const ru = sub(strategy, 'rollingUpdate');
    setIfUnset(ru, 'maxUnavailable', '25%');
    setIfUnset(ru, 'maxSurge', '25%');
  }
  setIfUnset(spec, 'revisionHistoryLimit', 10);
  setIfUnset(spec, 'progressDeadlineSeconds', 600);
  defaultPodTemplate(d);
}

function defaultReplicaSet(rs: Obj) {
  setIfUnset(sub(rs, 'spec'), 'replicas', 1);
  defaultPodTemplate(rs);
}

function defaultDaemonSet(ds: Obj) {
  const spec = sub(ds, 'spec');
  const strategy = sub(spec, 'updateStrategy');
  setIfUnset(strategy, 'type', 'RollingUpdate');
  if (strategy.type === 'RollingUpdate') {
    const ru = sub(strategy, 'rollingUpdate');
    setIfUnset(ru, 'maxUnavailable', 1);
    if (unset(ru.maxSurge)) ru.maxSurge = 0;
  }
  setIfUnset(spec, 'revisionHistoryLimit', 10);
  defaultPodTemplate(ds);
}

function defaultStatefulSet(sts: Obj) {
  const spec = sub(sts, 'spec');
  setIfUnset(spec, 'podManagementPolicy', 'OrderedReady');
  const strategy = sub(spec, 'updateStrategy');
  if (!strategy.type) {
    strategy.type = 'RollingUpdate';
    sub(strategy, 'rollingUpdate');
  }
  if (strategy.type === 'RollingUpdate' && isObj(strategy.rollingUpdate) && unset(strategy.rollingUpdate.partition)) strategy.rollingUpdate.partition = 0;
  const retention = sub(spec, 'persistentVolumeClaimRetentionPolicy');
  setIfUnset(retention, 'whenDeleted', 'Retain');
  setIfUnset(retention, 'whenScaled', 'Retain');
  setIfUnset(spec, 'replicas', 1);
  setIfUnset(spec, 'revisionHistoryLimit', 10);
  for (const claim of list(spec.volumeClaimTemplates)) {
    setIfUnset(sub(claim, 'spec'), 'volumeMode', 'Filesystem');
    setIfUnset(sub(claim, 'status'), 'phase', 'Pending');
  }
  defaultPodTemplate(sts);
}

// ---------------------------------------------------------------------------------------------
// Everything else

function defaultNamespace(ns: Obj) {
  const meta = sub(ns, 'metadata');
  // Every namespace carries its own name as a label, so namespaceSelectors can pick it by name.
  if (meta.name) meta.labels = { ...(isObj(meta.labels) ? meta.labels : {}), 'kubernetes.io/metadata.name': meta.name };
  // The namespace strategy, not defaulting: the finalizer that makes deletion empty it first.
  const spec = sub(ns, 'spec');
  if (!Array.isArray(spec.finalizers)) spec.finalizers = ['kubernetes'];
  setIfUnset(sub(ns, 'status'), 'phase', 'Active');
}

function defaultSecret(secret: Obj) {
  setIfUnset(secret, 'type', 'Opaque');
  // stringData is write-only: its entries are encoded into data (winning over data's) and dropped.
  // Values come back re-encoded canonically (Go decodes to bytes and encodes again on read).
  const data: Obj = isObj(secret.data) ? secret.data : {};
  for (const [k, v] of Object.entries(data)) {
    if (typeof v === 'string' && base64ErrorOffset(v) === undefined) data[k] = Buffer.from(v, 'base64').toString('base64');
  }
  if (isObj(secret.stringData)) for (const [k, v] of Object.entries(secret.stringData)) data[k] = Buffer.from(String(v), 'utf8').toString('base64');
  delete secret.stringData;
  if (Object.keys(data).length) secret.data = data;
}

function defaultNetworkPolicy(np: Obj) {
  const spec = sub(np, 'spec');
  sub(spec, 'podSelector');
  // A policy with no policyTypes isolates ingress, and egress only if it has egress rules: an
  // egress-only policy written without policyTypes therefore also denies all ingress.
  if (!Array.isArray(spec.policyTypes) || !spec.policyTypes.length) {
    spec.policyTypes = Array.isArray(spec.egress) && spec.egress.length ? ['Ingress', 'Egress'] : ['Ingress'];
  }
  for (const rule of [...list(spec.ingress), ...list(spec.egress)]) for (const p of list(rule.ports)) setIfUnset(p, 'protocol', 'TCP');
}

function defaultEndpointSlice(slice: Obj) {
  for (const p of list(slice.ports)) {
    if (unset(p.name)) p.name = '';
    setIfUnset(p, 'protocol', 'TCP');
  }
}

function defaultEndpoints(ep: Obj) {
  for (const ss of list(ep.subsets)) for (const p of list(ss.ports)) setIfUnset(p, 'protocol', 'TCP');
}

function defaultIngressClass(ic: Obj) {
  const params = ic.spec?.parameters;
  if (isObj(params)) setIfUnset(params, 'scope', 'Cluster');
}

function defaultNode(node: Obj) {
  const status = node.status;
  if (isObj(status) && isObj(status.capacity) && unset(status.allocatable)) status.allocatable = { ...status.capacity };
}

const nothing = () => {};

const DEFAULTERS: Record<KindName, (obj: Obj) => void> = {
  Namespace: defaultNamespace,
  Node: defaultNode,
  Pod: defaultPod,
  Service: defaultService,
  Endpoints: defaultEndpoints,
  ConfigMap: nothing,
  Secret: defaultSecret,
  ServiceAccount: nothing,
  Event: nothing,
  Deployment: defaultDeployment,
  ReplicaSet: defaultReplicaSet,
  DaemonSet: defaultDaemonSet,
  StatefulSet: defaultStatefulSet,
  EndpointSlice: defaultEndpointSlice,
  NetworkPolicy: defaultNetworkPolicy,
  Ingress: nothing,
  IngressClass: defaultIngressClass,
  CustomResourceDefinition: defaultCustomResourceDefinition,
};

/** Fills in what the API server defaults, in place on a copy; returns the copy. */
export function applyDefaults(kind: KindName, obj: KubeObject): KubeObject {
  const copy = structuredClone(obj);
  DEFAULTERS[kind](copy);
  return copy;
}
