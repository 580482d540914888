import type { ControllerSpec } from '../controllers/controller.ts';
import { runningDaemonPod } from '../controllers/daemonpod.ts';
import type { KubeObject } from '../object.ts';
import type { PodRuntime } from '../kubelet/runtime.ts';
import { staleUdpFlows } from './conntrack.ts';
import { ensureJumpsScript, renderRules, type ProxyService } from './iptables.ts';

// kube-proxy, one per node, as its DaemonSet pod would run it: while the node's kube-proxy pod is
// running, every change to Services or EndpointSlices is written to the node's iptables; when the
// pod is gone (DaemonSet deleted, pod crashed), the node's rules stay as they were and go stale, as
// on a real node. A new kube-proxy pod (`kubectl rollout restart daemonset kube-proxy`) first puts
// back the built-in chains' jumps, then resyncs everything.

interface SlicePort { name?: string; port?: number; protocol?: string }
interface SliceEndpoint { addresses: string[]; nodeName?: string; conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean } }
interface ServicePortSpec { name?: string; port: number; protocol?: 'TCP' | 'UDP' | 'SCTP'; nodePort?: number }
interface ServiceSpec {
  clusterIP?: string; type?: string; ports?: ServicePortSpec[]; externalIPs?: string[]; loadBalancerSourceRanges?: string[];
  externalTrafficPolicy?: string; internalTrafficPolicy?: string;
  sessionAffinity?: string; sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
}
interface ServiceStatus { loadBalancer?: { ingress?: { ip?: string; ipMode?: string }[] } }

/** Services and their endpoints, per port, from Services and EndpointSlices. */
export function proxyServices(services: KubeObject[], slices: KubeObject[]): ProxyService[] {
  const bySvc = new Map<string, KubeObject[]>();
  for (const s of slices) {
    const svc = s.metadata.labels?.['kubernetes.io/service-name'];
    if (!svc) continue;
    const k = `${s.metadata.namespace}/${svc}`;
    bySvc.set(k, [...(bySvc.get(k) ?? []), s]);
  }
  return services.flatMap((svc): ProxyService[] => {
    const spec = (svc.spec ?? {}) as ServiceSpec;
    if (!spec.clusterIP || spec.clusterIP === 'None' || spec.type === 'ExternalName') return [];
    const mine = bySvc.get(`${svc.metadata.namespace}/${svc.metadata.name}`) ?? [];
    const exposed = spec.type === 'NodePort' || spec.type === 'LoadBalancer';
    // kube-proxy takes load-balancer addresses in VIP mode only; "Proxy" ones are the balancer's job.
    const lbIPs = spec.type === 'LoadBalancer'
      ? ((svc.status as ServiceStatus | undefined)?.loadBalancer?.ingress ?? []).filter((i) => i.ip && i.ipMode !== 'Proxy').map((i) => i.ip!)
      : [];
    return [{
      namespace: svc.metadata.namespace!, name: svc.metadata.name!, clusterIP: spec.clusterIP,
      externalIPs: spec.externalIPs ?? [], loadBalancerIPs: lbIPs, sourceRanges: spec.loadBalancerSourceRanges ?? [],
      externalTrafficLocal: (exposed || (spec.externalIPs ?? []).length > 0) && spec.externalTrafficPolicy === 'Local',
      internalTrafficLocal: spec.internalTrafficPolicy === 'Local',
      affinitySeconds: spec.sessionAffinity === 'ClientIP' ? spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800 : undefined,
      ports: (spec.ports ?? []).map((p) => {
        const protocol = p.protocol ?? 'TCP';
        const endpoints = mine.flatMap((slice) => {
          const sp = ((slice.ports ?? []) as SlicePort[]).find((x) => (x.name ?? '') === (p.name ?? '') && (x.protocol ?? 'TCP') === protocol);
          if (!sp?.port) return [];
          return ((slice.endpoints ?? []) as SliceEndpoint[]).flatMap((e) =>
            e.addresses.map((ip) => ({
              ip, port: sp.port!, node: e.nodeName,
              ready: e.conditions?.ready !== false, serving: e.conditions?.serving ?? e.conditions?.ready !== false, terminating: e.conditions?.terminating === true,
            })));
        });
        return { name: p.name ?? '', port: p.port, protocol, nodePort: exposed ? p.nodePort : undefined, endpoints };
      }),
    }];
  });
}

export interface KubeProxyOptions {
  runtime: PodRuntime;
  nodes: () => { name: string; ip: string }[];
  /** The cluster's pod CIDR (kube-proxy's clusterCIDR). */
  clusterCIDR: string;
}

export function kubeProxy(o: KubeProxyOptions): ControllerSpec {
  // Per node: the kube-proxy instance that synced last, the chains it wrote and what they served.
  const synced = new Map<string, { instance: string; chains: Set<string>; rules: string; services: ProxyService[] }>();
  return {
    name: 'kube-proxy',
    watches: ['Service', 'EndpointSlice', 'Pod'],
    keysFor(e) {
      if (e.kind === 'Pod' && e.object.metadata.labels?.['k8s-app'] !== 'kube-proxy') return [];
      if (e.kind === 'Pod') return [(e.object.spec as { nodeName?: string }).nodeName ?? ''].filter(Boolean);
      return o.nodes().map((n) => n.name);
    },
    initialKeys: () => o.nodes().map((n) => n.name),
    async reconcile(node, ctx) {
      const instance = runningDaemonPod(ctx, 'kube-proxy', node);
      if (!instance) return;
      const prev = synced.get(node);
      const fresh = prev?.instance !== instance;
      const services = proxyServices(ctx.api.list('Service', undefined).items, ctx.api.list('EndpointSlice', undefined).items);
      const ip = o.nodes().find((n) => n.name === node)?.ip ?? '';
      const { rules, chains } = renderRules(services, { name: node, ip, clusterCIDR: o.clusterCIDR }, prev?.chains ?? new Set());
      // The UDP flows the change left stale (a kube-proxy that just started remembers nothing): an
      // endpoint can stop serving without changing the rules (one that was not in them any more).
      const stale = staleUdpFlows(fresh ? [] : prev?.services ?? [], services);
      if (!fresh && prev?.rules === rules && !stale.length) { synced.set(node, { ...prev, services }); return; }
      // The chains first (a jump into a chain that does not exist yet fails), then the jumps, then
      // the flows; conntrack exits 1 when nothing matched.
      const script = `set -e\niptables-restore -w --noflush <<'NETDOJO_RULES'\n${rules}NETDOJO_RULES\n${fresh ? `${ensureJumpsScript()}\n` : ''}${stale.map((c) => `${c} >/dev/null 2>&1 || true\n`).join('')}`;
      const r = await o.runtime.inNode(node, script);
      if (r.code !== 0) throw new Error(`kube-proxy on ${node}: ${(r.stdout + r.stderr).trim()}`);
      synced.set(node, { instance, chains, rules, services });
    },
  };
}
