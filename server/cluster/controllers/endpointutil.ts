import type { ClusterApi } from '../api.ts';
import type { KubeObject } from '../object.ts';
import { fromLabelSelector, matchesLabels } from '../selectors.ts';
import { objectKey } from './controller.ts';
import { isTerminal, readyCondition, timestamp } from './podutil.ts';
import type { IntOrString, Pod } from './types.ts';

// What the Endpoints and EndpointSlice controllers share (pkg/controller/util/endpoint and
// endpointslice/util): which Services they manage (those with a selector), which pods back them
// (selected, with an IP, not finished), how a Service port resolves on a pod (a named targetPort
// is looked up in the pod's container ports), and the trigger time of a change.

export interface ServicePort { name?: string; protocol?: string; port: number; targetPort?: IntOrString; appProtocol?: string }

export interface Service extends KubeObject {
  spec: { selector?: Record<string, string>; ports?: ServicePort[]; clusterIP?: string; publishNotReadyAddresses?: boolean; type?: string; ipFamilies?: string[] };
}

/** Services with a selector are the controllers'; without one, their endpoints are the user's. */
export const isManaged = (svc: Service | undefined): svc is Service => !!svc && !!svc.spec?.selector && Object.keys(svc.spec.selector).length > 0 && svc.spec.type !== 'ExternalName';

export const isHeadless = (svc: Service) => svc.spec.clusterIP === 'None';

/** The pods a Service's selector picks, in its namespace. */
export function selectedPods(api: ClusterApi, svc: Service): Pod[] {
  const sel = fromLabelSelector({ matchLabels: svc.spec.selector });
  return api.store.list('Pod', svc.metadata.namespace, (p) => matchesLabels(sel, p.metadata.labels)) as Pod[];
}

/** Keys of the managed Services in a pod's namespace: a pod's change may concern any of them (its labels may just have changed). */
export function serviceKeysForPod(api: ClusterApi, pod: KubeObject): string[] {
  return (api.store.list('Service', pod.metadata.namespace) as Service[]).filter(isManaged).map(objectKey);
}

export function podIPv4(pod: Pod): string | undefined {
  const ips = [pod.status?.podIP, ...(pod.status?.podIPs ?? []).map((p) => p.ip)].filter((ip): ip is string => !!ip);
  return ips.find((ip) => /^\d+\.\d+\.\d+\.\d+$/.test(ip));
}

/** A pod is an endpoint once it has an IP and until it finishes; a terminating one only where asked. */
export function shouldPodBeInEndpoints(pod: Pod, includeTerminating: boolean): boolean {
  if (isTerminal(pod)) return false;
  if (!podIPv4(pod)) return false;
  return includeTerminating || !pod.metadata.deletionTimestamp;
}

/** The port a Service port reaches on a pod: a number as is, a name through the pod's container ports. */
export function findPort(pod: Pod, sp: ServicePort): number | undefined {
  const target = sp.targetPort ?? sp.port;
  if (typeof target === 'number') return target;
  if (/^\d+$/.test(target)) return Number(target);
  const protocol = sp.protocol ?? 'TCP';
  for (const c of pod.spec.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === target && (p.protocol ?? 'TCP') === protocol) return p.containerPort;
  }
  return undefined;
}

/** A pod's hostname is published for a headless Service that is its subdomain. */
export const shouldSetHostname = (pod: Pod, svc: Service) =>
  !!pod.spec.hostname && pod.spec.subdomain === svc.metadata.name && pod.metadata.namespace === svc.metadata.namespace;

/** The labels of a managed Endpoints or EndpointSlice: the Service's, plus the headless marker. */
export function serviceLabels(svc: Service): Record<string, string> {
  const labels = { ...svc.metadata.labels };
  if (isHeadless(svc)) labels['service.kubernetes.io/headless'] = '';
  return labels;
}

export const LAST_CHANGE_TRIGGER_TIME = 'endpoints.kubernetes.io/last-change-trigger-time';

/**
 * The `last-change-trigger-time` of a sync (endpoints.TriggerTimeTracker): the earliest of the
 * times of the changes seen since the previous sync, a pod's being its Ready condition's last
 * transition and the Service's its creation. Undefined when nothing new triggered the sync
 * (a pod was deleted), and the annotation is then removed.
 */
export function triggerTimeTracker() {
  const state = new Map<string, { service?: string; pods: Map<string, string> }>();
  return {
    compute(svc: Service, pods: Pod[]): string | undefined {
      const key = objectKey(svc);
      const s = state.get(key) ?? { pods: new Map<string, string>() };
      const changed: string[] = [];
      const created = svc.metadata.creationTimestamp;
      if (created && (!s.service || created > s.service)) changed.push(created);
      const next = new Map<string, string>();
      for (const p of pods) {
        const t = readyCondition(p)?.lastTransitionTime;
        if (!t) continue;
        const before = s.pods.get(p.metadata.name!);
        if (!before || t > before) changed.push(t);
        next.set(p.metadata.name!, t);
      }
      state.set(key, { service: created, pods: next });
      return changed.length ? timestamp(new Date(Math.min(...changed.map((t) => Date.parse(t))))) : undefined;
    },
    forget(svc: KubeObject): void { state.delete(objectKey(svc)); },
  };
}
