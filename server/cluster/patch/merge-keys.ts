// Which lists a strategic merge patch merges, and by which key, for every served kind.
//
// Upstream reads this from Go struct tags (`patchStrategy:"merge" patchMergeKey:"name"`) in
// k8s.io/api {core,apps,networking,discovery}/v1/types.go and apimachinery's meta/v1/types.go; the
// same facts are `x-kubernetes-patch-strategy`/`-merge-key` in the OpenAPI. Only fields that carry a
// strategy, or lead to one, are listed. Everything else follows the defaults: maps merge key by key,
// lists are replaced whole. So, as on a real cluster: tolerations, Node taints, Endpoints subsets,
// EndpointSlice endpoints, NetworkPolicy rules and Ingress rules are replaced, not merged.
// Alpha-only fields (PodSpec.evictionResponders, DRA node-allocatable statuses) are left out.

import type { KindName } from '../kinds.ts';

export interface FieldPatchMeta {
  /** "merge": list items are matched and merged (by `mergeKey`, or as a set for primitives). */
  strategy?: 'merge';
  mergeKey?: string;
  /** The fields of the value (of each item, for a list) that have strategies of their own. */
  fields?: PatchSchema;
}

export type PatchSchema = Readonly<Record<string, FieldPatchMeta>>;

const mergeBy = (mergeKey: string, fields?: PatchSchema): FieldPatchMeta => ({ strategy: 'merge', mergeKey, ...(fields ? { fields } : {}) });
/** A list of strings merged as a set (finalizers, podCIDRs). */
const mergeAsSet: FieldPatchMeta = { strategy: 'merge' };
const object = (fields: PatchSchema): FieldPatchMeta => ({ fields });

// metav1.ObjectMeta
const objectMeta: PatchSchema = {
  ownerReferences: mergeBy('uid'),
  finalizers: mergeAsSet,
};

const withMeta = (fields: PatchSchema = {}): PatchSchema => ({ metadata: object(objectMeta), ...fields });

// core/v1 Container and EphemeralContainerCommon
const container: PatchSchema = {
  ports: mergeBy('containerPort'),
  env: mergeBy('name'),
  volumeMounts: mergeBy('mountPath'),
  volumeDevices: mergeBy('devicePath'),
};

// core/v1 PodSpec (volumes and resourceClaims are "merge,retainKeys": retainKeys matters only to
// the client that computes a patch; the server honours $retainKeys wherever it appears)
const podSpec: PatchSchema = {
  volumes: mergeBy('name'),
  initContainers: mergeBy('name', container),
  containers: mergeBy('name', container),
  ephemeralContainers: mergeBy('name', container),
  imagePullSecrets: mergeBy('name'),
  hostAliases: mergeBy('ip'),
  topologySpreadConstraints: mergeBy('topologyKey'),
  schedulingGates: mergeBy('name'),
  resourceClaims: mergeBy('name'),
};

// status.conditions, in every kind that has them
const conditionsByType: PatchSchema = { conditions: mergeBy('type') };

// core/v1 PodStatus (containerStatuses has no strategy: it is replaced whole)
const podStatus: PatchSchema = {
  ...conditionsByType,
  hostIPs: mergeBy('ip'),
  podIPs: mergeBy('ip'),
  resourceClaimStatuses: mergeBy('name'),
};

// core/v1 PodTemplateSpec, embedded by every workload
const podTemplate: FieldPatchMeta = object(withMeta({ spec: object(podSpec) }));

// apps/v1 {Deployment,ReplicaSet,DaemonSet,StatefulSet}: spec.template, status.conditions by type
const workload: PatchSchema = withMeta({
  spec: object({ template: podTemplate }),
  status: object(conditionsByType),
});

export const PATCH_SCHEMAS = {
  Namespace: withMeta({ status: object(conditionsByType) }),
  Node: withMeta({
    spec: object({ podCIDRs: mergeAsSet }),
    status: object({ ...conditionsByType, addresses: mergeBy('type') }),
  }),
  Pod: withMeta({ spec: object(podSpec), status: object(podStatus) }),
  Service: withMeta({ spec: object({ ports: mergeBy('port') }), status: object(conditionsByType) }),
  Endpoints: withMeta(),
  ConfigMap: withMeta(),
  Secret: withMeta(),
  ServiceAccount: withMeta({ secrets: mergeBy('name') }),
  Event: withMeta(),
  Deployment: workload,
  ReplicaSet: workload,
  DaemonSet: workload,
  StatefulSet: workload,
  EndpointSlice: withMeta(),
  NetworkPolicy: withMeta(),
  Ingress: withMeta(),
  IngressClass: withMeta(),
  CustomResourceDefinition: withMeta(),
} satisfies Record<KindName, PatchSchema>;

/** A custom resource's: the API server knows no merge keys for its fields (only metadata's). */
export const CUSTOM_RESOURCE_PATCH_SCHEMA: PatchSchema = withMeta();

/** The same facts by OpenAPI schema name, as `x-kubernetes-patch-strategy` and `-merge-key`
 * carry them: a client computing a patch (kubectl apply, edit) reads them from /openapi/v3. */
export const PATCH_META_BY_SCHEMA: Readonly<Record<string, PatchSchema>> = {
  'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta': objectMeta,
  'io.k8s.api.core.v1.Container': container,
  'io.k8s.api.core.v1.EphemeralContainer': container,
  'io.k8s.api.core.v1.PodSpec': podSpec,
  'io.k8s.api.core.v1.PodStatus': podStatus,
  'io.k8s.api.core.v1.NamespaceStatus': conditionsByType,
  'io.k8s.api.core.v1.NodeSpec': { podCIDRs: mergeAsSet },
  'io.k8s.api.core.v1.NodeStatus': { ...conditionsByType, addresses: mergeBy('type') },
  'io.k8s.api.core.v1.ServiceSpec': { ports: mergeBy('port') },
  'io.k8s.api.core.v1.ServiceStatus': conditionsByType,
  'io.k8s.api.core.v1.ServiceAccount': { secrets: mergeBy('name') },
  'io.k8s.api.apps.v1.DeploymentStatus': conditionsByType,
  'io.k8s.api.apps.v1.ReplicaSetStatus': conditionsByType,
  'io.k8s.api.apps.v1.DaemonSetStatus': conditionsByType,
  'io.k8s.api.apps.v1.StatefulSetStatus': conditionsByType,
};
