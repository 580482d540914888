import type { KubeObject } from '../object.ts';
import { objectKey, splitKey, type ControllerContext, type ControllerSpec, type ReconcileResult } from './controller.ts';
import { canonicalJson } from './hash.ts';
import { findPort, isManaged, LAST_CHANGE_TRIGGER_TIME, podIPv4, selectedPods, serviceKeysForPod, serviceLabels, shouldPodBeInEndpoints, shouldSetHostname, triggerTimeTracker, type Service } from './endpointutil.ts';
import { isPodReady } from './podutil.ts';
import type { Node, Pod } from './types.ts';

// The EndpointSlice controller (pkg/controller/endpointslice): for every Service with a selector,
// EndpointSlices `<service>-<5 chars>` owned by the Service, one per set of resolved ports (at most
// 100 endpoints each), labelled with the Service's name and this controller as manager. Each
// selected pod with an IP is an endpoint with its conditions: serving is readiness, terminating is
// the deletion mark, ready is serving and not terminating (both true with
// publishNotReadyAddresses). A Service with no endpoints keeps one empty placeholder slice.

const SERVICE_NAME = 'kubernetes.io/service-name';
const MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
const CONTROLLER = 'endpointslice-controller.k8s.io';
const MAX_ENDPOINTS = 100;

export interface SliceEndpoint {
  addresses: string[];
  conditions: { ready: boolean; serving: boolean; terminating: boolean };
  hostname?: string;
  targetRef: { kind: 'Pod'; namespace: string; name: string; uid: string };
  nodeName?: string;
  zone?: string;
}

export interface SlicePort { name: string; protocol: string; port: number; appProtocol?: string }

interface EndpointSlice extends KubeObject { addressType: string; endpoints: SliceEndpoint[]; ports?: SlicePort[] }

export function endpointSliceController(): ControllerSpec {
  const triggers = triggerTimeTracker();
  return {
    name: 'endpointslice',
    watches: ['Service', 'Pod', 'EndpointSlice'],
    initialKeys: (ctx) => (ctx.api.store.list('Service') as Service[]).filter(isManaged).map(objectKey),
    keysFor(e, ctx) {
      if (e.kind === 'Service') return [objectKey(e.object)];
      if (e.kind === 'Pod') return serviceKeysForPod(ctx.api, e.object);
      const labels = e.object.metadata.labels ?? {};
      return labels[MANAGED_BY] === CONTROLLER && labels[SERVICE_NAME] ? [`${e.object.metadata.namespace}/${labels[SERVICE_NAME]}`] : [];
    },
    reconcile(key, ctx): ReconcileResult {
      const { namespace, name } = splitKey(key);
      const svc = ctx.api.tryGet('Service', namespace, name) as Service | undefined;
      // A deleted Service's slices go with it: the garbage collector follows their owner reference.
      if (!svc) { triggers.forget({ apiVersion: 'v1', kind: 'Service', metadata: { namespace, name } }); return; }
      if (!isManaged(svc)) return;
      const pods = selectedPods(ctx.api, svc);
      reconcileSlices(ctx, svc, pods, triggers.compute(svc, pods));
    },
  };
}

function slicePorts(svc: Service, pod: Pod): SlicePort[] {
  const out: SlicePort[] = [];
  for (const sp of svc.spec.ports ?? []) {
    const port = findPort(pod, sp);
    if (port !== undefined) out.push({ name: sp.name ?? '', protocol: sp.protocol ?? 'TCP', port, ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}) });
  }
  return out;
}

function podToEndpoint(pod: Pod, svc: Service, nodes: Map<string, Node>): SliceEndpoint {
  const serving = !!svc.spec.publishNotReadyAddresses || isPodReady(pod);
  const terminating = !!pod.metadata.deletionTimestamp;
  // For compatibility, ready is never true for a terminating pod unless publishNotReadyAddresses is set.
  const ready = !!svc.spec.publishNotReadyAddresses || (serving && !terminating);
  const zone = pod.spec.nodeName ? nodes.get(pod.spec.nodeName)?.metadata.labels?.['topology.kubernetes.io/zone'] : undefined;
  return {
    addresses: [podIPv4(pod)!],
    conditions: { ready, serving, terminating },
    ...(shouldSetHostname(pod, svc) ? { hostname: pod.spec.hostname } : {}),
    targetRef: { kind: 'Pod', namespace: pod.metadata.namespace!, name: pod.metadata.name!, uid: pod.metadata.uid! },
    ...(pod.spec.nodeName ? { nodeName: pod.spec.nodeName } : {}),
    ...(zone ? { zone } : {}),
  };
}

/** The slices a Service should have: endpoints grouped by their ports, in chunks of 100. */
function desiredSlices(svc: Service, pods: Pod[], nodes: Map<string, Node>): { ports?: SlicePort[]; endpoints: SliceEndpoint[] }[] {
  const groups = new Map<string, { ports: SlicePort[]; endpoints: SliceEndpoint[] }>();
  for (const pod of [...pods].sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!))) {
    if (!shouldPodBeInEndpoints(pod, true)) continue;
    const ports = slicePorts(svc, pod);
    const key = canonicalJson(ports);
    const g = groups.get(key) ?? { ports, endpoints: [] };
    groups.set(key, g);
    g.endpoints.push(podToEndpoint(pod, svc, nodes));
  }
  const out: { ports?: SlicePort[]; endpoints: SliceEndpoint[] }[] = [];
  for (const g of groups.values()) {
    for (let i = 0; i < g.endpoints.length; i += MAX_ENDPOINTS) out.push({ ports: g.ports, endpoints: g.endpoints.slice(i, i + MAX_ENDPOINTS) });
  }
  // No endpoints at all: one placeholder, without ports.
  return out.length ? out : [{ endpoints: [] }];
}

function sliceLabels(svc: Service): Record<string, string> {
  const labels = serviceLabels(svc);
  delete labels[MANAGED_BY];
  return { ...labels, [SERVICE_NAME]: svc.metadata.name!, [MANAGED_BY]: CONTROLLER };
}

const portsKey = (ports: SlicePort[] | undefined) => canonicalJson(ports ?? null);

/**
 * Converges the stored slices on the desired ones: a slice with the same ports is updated in
 * place, missing ones are created, the rest (and slices of an earlier Service of the same name)
 * are deleted.
 */
function reconcileSlices(ctx: ControllerContext, svc: Service, pods: Pod[], triggerTime: string | undefined): void {
  const { namespace } = svc.metadata;
  const nodes = new Map((ctx.api.store.list('Node') as Node[]).map((n) => [n.metadata.name!, n]));
  const existing = (ctx.api.store.list('EndpointSlice', namespace) as EndpointSlice[]).filter((s) =>
    s.metadata.labels?.[SERVICE_NAME] === svc.metadata.name && s.metadata.labels?.[MANAGED_BY] === CONTROLLER);
  const owned = existing.filter((s) => s.metadata.ownerReferences?.some((r) => r.uid === svc.metadata.uid) && s.addressType === 'IPv4');
  const unused = new Set(owned);
  const labels = sliceLabels(svc);
  for (const want of desiredSlices(svc, pods, nodes)) {
    const match = [...unused].find((s) => portsKey(s.ports) === portsKey(want.ports));
    const annotations = { ...match?.metadata.annotations, ...(triggerTime ? { [LAST_CHANGE_TRIGGER_TIME]: triggerTime } : {}) };
    const body: EndpointSlice = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        ...(match ? match.metadata : { generateName: `${svc.metadata.name}-`, namespace }),
        labels,
        ...(Object.keys(annotations).length ? { annotations } : {}),
        ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: svc.metadata.name!, uid: svc.metadata.uid!, controller: true, blockOwnerDeletion: true }],
      },
      addressType: 'IPv4',
      endpoints: want.endpoints,
      ...(want.ports ? { ports: want.ports } : {}),
    };
    if (!match) { ctx.api.create('EndpointSlice', namespace, body); continue; }
    unused.delete(match);
    const same = canonicalJson(match.endpoints ?? []) === canonicalJson(body.endpoints) && canonicalJson(match.metadata.labels ?? {}) === canonicalJson(labels);
    if (!same) ctx.api.update('EndpointSlice', namespace, match.metadata.name!, body);
  }
  for (const s of [...unused, ...existing.filter((s) => !owned.includes(s))]) ctx.api.delete('EndpointSlice', namespace, s.metadata.name!);
}
