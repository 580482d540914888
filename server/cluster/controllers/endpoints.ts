import type { KubeObject } from '../object.ts';
import { objectKey, splitKey, type ControllerContext, type ControllerSpec, type ReconcileResult } from './controller.ts';
import { canonicalJson } from './hash.ts';
import { findPort, isHeadless, isManaged, LAST_CHANGE_TRIGGER_TIME, podIPv4, selectedPods, serviceKeysForPod, serviceLabels, shouldPodBeInEndpoints, shouldSetHostname, triggerTimeTracker, type Service } from './endpointutil.ts';
import { isPodReady } from './podutil.ts';
import type { Pod } from './types.ts';

// The Endpoints controller (pkg/controller/endpoint): for every Service with a selector, an
// Endpoints object of the same name listing the selected pods that have an IP: ready ones under
// `addresses`, the others under `notReadyAddresses` (all under addresses with
// publishNotReadyAddresses), grouped into subsets by the ports they resolve (a named targetPort
// may be a different number, or absent, on each pod). Terminating pods are left out unless
// publishNotReadyAddresses is set. A Service without a selector keeps the Endpoints its user writes.

export interface EndpointAddress { ip: string; hostname?: string; nodeName?: string; targetRef: { kind: 'Pod'; namespace: string; name: string; uid: string } }
export interface EndpointPort { name?: string; port: number; protocol: string; appProtocol?: string }
export interface EndpointSubset { addresses?: EndpointAddress[]; notReadyAddresses?: EndpointAddress[]; ports?: EndpointPort[] }

export function endpointsController(): ControllerSpec {
  const triggers = triggerTimeTracker();
  return {
    name: 'endpoints',
    watches: ['Service', 'Pod', 'Endpoints'],
    initialKeys: (ctx) => (ctx.api.store.list('Service') as Service[]).filter(isManaged).map(objectKey),
    keysFor(e, ctx) {
      if (e.kind === 'Service') return [objectKey(e.object)];
      if (e.kind === 'Pod') return serviceKeysForPod(ctx.api, e.object);
      // Someone edited or deleted an Endpoints object this controller owns: write it again.
      const svc = ctx.api.tryGet('Service', e.object.metadata.namespace, e.object.metadata.name!) as Service | undefined;
      return isManaged(svc) ? [objectKey(e.object)] : [];
    },
    reconcile(key, ctx): ReconcileResult {
      const { namespace, name } = splitKey(key);
      const svc = ctx.api.tryGet('Service', namespace, name) as Service | undefined;
      if (!svc) {
        // The Service is gone: so are its endpoints.
        triggers.forget({ apiVersion: 'v1', kind: 'Service', metadata: { namespace, name } });
        if (ctx.api.tryGet('Endpoints', namespace, name)) ctx.api.delete('Endpoints', namespace, name);
        return;
      }
      if (!isManaged(svc)) return;
      const pods = selectedPods(ctx.api, svc);
      const subsets = endpointSubsets(svc, pods);
      syncEndpoints(ctx, svc, subsets, triggers.compute(svc, pods));
    },
  };
}

function address(pod: Pod, svc: Service): EndpointAddress {
  return {
    ip: podIPv4(pod)!,
    ...(shouldSetHostname(pod, svc) ? { hostname: pod.spec.hostname } : {}),
    ...(pod.spec.nodeName ? { nodeName: pod.spec.nodeName } : {}),
    targetRef: { kind: 'Pod', namespace: pod.metadata.namespace!, name: pod.metadata.name!, uid: pod.metadata.uid! },
  };
}

/** The Service's ports as they resolve on a pod; a port the pod cannot resolve is left out. */
function resolvedPorts(svc: Service, pod: Pod): EndpointPort[] {
  const out: EndpointPort[] = [];
  for (const sp of svc.spec.ports ?? []) {
    const port = findPort(pod, sp);
    if (port !== undefined) out.push({ ...(sp.name ? { name: sp.name } : {}), port, protocol: sp.protocol ?? 'TCP', ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}) });
  }
  return out.sort((x, y) => (x.name ?? '').localeCompare(y.name ?? '') || x.port - y.port || x.protocol.localeCompare(y.protocol));
}

/** Addresses of the selected pods, in subsets of the pods that resolve the same ports (RepackSubsets). */
export function endpointSubsets(svc: Service, pods: Pod[]): EndpointSubset[] {
  const tolerateUnready = !!svc.spec.publishNotReadyAddresses;
  const subsets = new Map<string, { ports: EndpointPort[]; ready: EndpointAddress[]; notReady: EndpointAddress[] }>();
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, tolerateUnready)) continue;
    const ports = resolvedPorts(svc, pod);
    // A pod resolving none of the ports is no endpoint; a headless Service without ports lists bare addresses.
    if (!ports.length && (svc.spec.ports?.length || !isHeadless(svc))) continue;
    const key = canonicalJson(ports);
    const s = subsets.get(key) ?? { ports, ready: [], notReady: [] };
    subsets.set(key, s);
    (tolerateUnready || isPodReady(pod) ? s.ready : s.notReady).push(address(pod, svc));
  }
  return [...subsets.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, s]) => ({
    ...(s.ready.length ? { addresses: s.ready.sort(byIP) } : {}),
    ...(s.notReady.length ? { notReadyAddresses: s.notReady.sort(byIP) } : {}),
    ...(s.ports.length ? { ports: s.ports } : {}),
  }));
}

const ipBytes = (ip: string) => ip.split('.').map((n) => n.padStart(3, '0')).join('.');
const byIP = (a: EndpointAddress, b: EndpointAddress) => ipBytes(a.ip).localeCompare(ipBytes(b.ip)) || a.targetRef.uid.localeCompare(b.targetRef.uid);

/** Writes the Endpoints when its subsets or labels differ from what is stored. */
function syncEndpoints(ctx: ControllerContext, svc: Service, subsets: EndpointSubset[], triggerTime: string | undefined): void {
  const { namespace, name } = svc.metadata;
  const current = ctx.api.tryGet('Endpoints', namespace, name!);
  const labels = serviceLabels(svc);
  if (current && canonicalJson(current.subsets ?? []) === canonicalJson(subsets) && canonicalJson(current.metadata.labels ?? {}) === canonicalJson(labels)) return;
  const annotations = { ...current?.metadata.annotations };
  if (triggerTime) annotations[LAST_CHANGE_TRIGGER_TIME] = triggerTime; else delete annotations[LAST_CHANGE_TRIGGER_TIME];
  const body: KubeObject = {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { ...current?.metadata, name, namespace, labels, annotations },
    ...(subsets.length ? { subsets } : {}),
  };
  if (!Object.keys(annotations).length) delete body.metadata.annotations;
  if (!Object.keys(labels).length) delete body.metadata.labels;
  if (current) ctx.api.update('Endpoints', namespace, name!, body);
  else ctx.api.create('Endpoints', namespace, body);
}

/**
 * The `kubernetes` Service and its endpoints, which the API server itself keeps (its endpoint
 * reconciler), not this controller: the Service in front of the API server (10.96.0.1:443), the
 * Endpoints naming the control plane's address, and its EndpointSlice, both marked so that no
 * controller mirrors or manages them.
 */
export function kubernetesEndpoints(apiServer: { ip: string; port: number } = { ip: '172.18.0.2', port: 6443 }): { service: KubeObject; endpoints: KubeObject; endpointSlice: KubeObject } {
  const port = { name: 'https', protocol: 'TCP', port: apiServer.port };
  return {
    service: {
      apiVersion: 'v1', kind: 'Service',
      metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } },
      spec: { type: 'ClusterIP', clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1'], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', sessionAffinity: 'None', internalTrafficPolicy: 'Cluster',
        ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: apiServer.port }] },
    },
    endpoints: {
      apiVersion: 'v1', kind: 'Endpoints',
      metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
      subsets: [{ addresses: [{ ip: apiServer.ip }], ports: [{ name: port.name, port: port.port, protocol: port.protocol }] }],
    },
    endpointSlice: {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [apiServer.ip], conditions: { ready: true } }],
      ports: [port],
    },
  };
}
