import type { ControllerContext, ControllerSpec } from '../controllers/controller.ts';
import type { KubeObject } from '../object.ts';
import type { PodRuntime } from '../kubelet/runtime.ts';
import { ensureJumpsScript, renderRules, type ProxyService } from './iptables.ts';

// kube-proxy, one per node, as its DaemonSet pod would run it: while the node's kube-proxy pod is
// running, every change to Services or EndpointSlices is written to the node's iptables; when the
// pod is gone (DaemonSet deleted, pod crashed), the node's rules stay as they were and go stale, as
// on a real node. A new kube-proxy pod (`kubectl rollout restart daemonset kube-proxy`) first puts
// back the built-in chains' jumps, then resyncs everything.

interface SlicePort { name?: string; port?: number; protocol?: string }
interface SliceEndpoint { addresses: string[]; conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean } }
interface ServicePortSpec { name?: string; port: number; protocol?: 'TCP' | 'UDP' | 'SCTP' }

/** Services and their ready endpoints, per port, from Services and EndpointSlices. */
export function proxyServices(services: KubeObject[], slices: KubeObject[]): ProxyService[] {
  const bySvc = new Map<string, KubeObject[]>();
  for (const s of slices) {
    const svc = s.metadata.labels?.['kubernetes.io/service-name'];
    if (!svc) continue;
    const k = `${s.metadata.namespace}/${svc}`;
    bySvc.set(k, [...(bySvc.get(k) ?? []), s]);
  }
  return services.flatMap((svc): ProxyService[] => {
    const spec = (svc.spec ?? {}) as { clusterIP?: string; type?: string; ports?: ServicePortSpec[] };
    if (!spec.clusterIP || spec.clusterIP === 'None' || spec.type === 'ExternalName') return [];
    const mine = bySvc.get(`${svc.metadata.namespace}/${svc.metadata.name}`) ?? [];
    return [{
      namespace: svc.metadata.namespace!, name: svc.metadata.name!, clusterIP: spec.clusterIP,
      ports: (spec.ports ?? []).map((p) => {
        const protocol = p.protocol ?? 'TCP';
        const endpoints = mine.flatMap((slice) => {
          const sp = ((slice.ports ?? []) as SlicePort[]).find((x) => (x.name ?? '') === (p.name ?? '') && (x.protocol ?? 'TCP') === protocol);
          if (!sp?.port) return [];
          return ((slice.endpoints ?? []) as SliceEndpoint[]).flatMap((e) =>
            e.addresses.map((ip) => ({ ip, port: sp.port!, ready: e.conditions?.ready !== false })));
        });
        return { name: p.name ?? '', port: p.port, protocol, endpoints };
      }),
    }];
  });
}

export interface KubeProxyOptions {
  runtime: PodRuntime;
  nodes: () => string[];
  podCIDR: string;
}

/** The node's running kube-proxy pod, if any: its uid and container restart count. */
function proxyPodOn(ctx: ControllerContext, node: string): string | undefined {
  const pod = ctx.api.list('Pod', 'kube-system', { labelSelector: 'k8s-app=kube-proxy' }).items.find((p) =>
    (p.spec as { nodeName?: string }).nodeName === node && !p.metadata.deletionTimestamp);
  const status = pod?.status as { phase?: string; containerStatuses?: { state?: { running?: object }; restartCount?: number }[] } | undefined;
  const cs = status?.containerStatuses?.[0];
  if (!pod || status?.phase !== 'Running' || !cs?.state?.running) return undefined;
  return `${pod.metadata.uid}/${cs.restartCount ?? 0}`;
}

export function kubeProxy(o: KubeProxyOptions): ControllerSpec {
  // Per node: the kube-proxy instance that synced last, and the chains it wrote.
  const synced = new Map<string, { instance: string; chains: Set<string>; rules: string }>();
  return {
    name: 'kube-proxy',
    watches: ['Service', 'EndpointSlice', 'Pod'],
    keysFor(e) {
      if (e.kind === 'Pod' && e.object.metadata.labels?.['k8s-app'] !== 'kube-proxy') return [];
      if (e.kind === 'Pod') return [(e.object.spec as { nodeName?: string }).nodeName ?? ''].filter(Boolean);
      return o.nodes();
    },
    initialKeys: () => o.nodes(),
    async reconcile(node, ctx) {
      const instance = proxyPodOn(ctx, node);
      if (!instance) return;
      const prev = synced.get(node);
      const fresh = prev?.instance !== instance;
      const services = proxyServices(ctx.api.list('Service', undefined).items, ctx.api.list('EndpointSlice', undefined).items);
      const { rules, chains } = renderRules(services, o.podCIDR, prev?.chains ?? new Set());
      if (!fresh && prev?.rules === rules) return;
      // The chains first (a jump into a chain that does not exist yet fails), then the jumps.
      const script = `set -e\niptables-restore -w --noflush <<'NETDOJO_RULES'\n${rules}NETDOJO_RULES\n${fresh ? `${ensureJumpsScript()}\n` : ''}` +
        // Flows pinned to endpoints that went away would outlive them; kube-proxy clears UDP ones.
        'conntrack -D -p udp >/dev/null 2>&1 || true';
      const r = await o.runtime.inNode(node, script);
      if (r.code !== 0) throw new Error(`kube-proxy on ${node}: ${(r.stdout + r.stderr).trim()}`);
      synced.set(node, { instance, chains, rules });
    },
  };
}
