import { clone } from '../store.ts';
import type { KubeObject, OwnerReference } from '../object.ts';
import type { Condition, IntOrString, Pod, PodTemplate } from './types.ts';

// What the workload controllers agree a pod's state means (k8s.io/kubernetes/pkg/api/v1/pod and
// pkg/controller's helpers): ready is the Ready condition being True; available is ready for at
// least minReadySeconds; active is neither finished nor being deleted.

/** Timestamps as the API server writes them: RFC 3339, whole seconds, UTC. */
export const timestamp = (d: Date) => d.toISOString().replace(/\.\d+Z$/, 'Z');

export const condition = (conditions: Condition[] | undefined, type: string) => conditions?.find((c) => c.type === type);

export const readyCondition = (pod: Pod) => condition(pod.status?.conditions, 'Ready');

export const isPodReady = (pod: Pod) => readyCondition(pod)?.status === 'True';

export function isPodAvailable(pod: Pod, minReadySeconds: number, now: Date): boolean {
  if (!isPodReady(pod)) return false;
  if (!minReadySeconds) return true;
  const since = readyCondition(pod)?.lastTransitionTime;
  return !!since && Date.parse(since) + minReadySeconds * 1000 <= now.getTime();
}

export const isTerminal = (pod: Pod) => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';

export const isTerminating = (o: KubeObject) => !!o.metadata.deletionTimestamp;

/** Counted by a ReplicaSet: not finished and not on its way out. */
export const isPodActive = (pod: Pod) => !isTerminal(pod) && !isTerminating(pod);

/** The owner reference a controller puts on what it creates (and adopts). */
export function controllerRef(owner: KubeObject): OwnerReference {
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name!, uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

/**
 * A pod for a workload: the template's labels, annotations, finalizers and spec, the owner's
 * namespace, a controller reference to the owner, and a generated name `<owner>-<5 chars>` unless
 * the controller names it (StatefulSets).
 */
export function podFromTemplate(template: PodTemplate, owner: KubeObject): Pod {
  const meta = template.metadata ?? {};
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: `${owner.metadata.name}-`,
      namespace: owner.metadata.namespace,
      labels: { ...meta.labels },
      ownerReferences: [controllerRef(owner)],
    },
    spec: clone(template.spec),
  };
  if (meta.annotations && Object.keys(meta.annotations).length) pod.metadata.annotations = { ...meta.annotations };
  if (meta.finalizers?.length) pod.metadata.finalizers = [...meta.finalizers];
  return pod;
}

/**
 * An int-or-percent scaled against a total (intstr.GetScaledValueFromIntOrPercent): "25%" of 10 is
 * 3 rounding up, 2 rounding down.
 */
export function scaledValue(v: IntOrString | undefined, total: number, roundUp: boolean, fallback: IntOrString): number {
  const value = v ?? fallback;
  if (typeof value === 'number') return value;
  const m = /^(\d+)%$/.exec(value);
  if (!m) {
    if (/^\d+$/.test(value)) return Number(value);
    throw new Error(`invalid value for IntOrString: invalid type: string is not a percentage`);
  }
  const exact = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

/** Drops the listed counters when zero: status fields upstream marks `omitempty`. */
export function omitZero<T extends object>(status: T, keys: (keyof T)[]): T {
  for (const k of keys) if (status[k] === 0 || status[k] === undefined) delete status[k];
  return status;
}

/** Pods by creation time, oldest first (name breaks ties, as the store lists them). */
export const byCreation = (a: KubeObject, b: KubeObject) =>
  (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
