import type { App, LabFacts, Role, ServicePort } from '../../lab/types.ts';
import type { KNode, KPod, KService } from './kube.ts';

// The facts a kind lab reports (`up --json`, briefings, checks), read from the live cluster and
// named the way the learner sees them: nodes by their short names (control-plane, worker).

export function appOf(p: KPod): App | undefined {
  const l = p.metadata.labels ?? {};
  if (p.metadata.namespace === 'kube-system' && l['k8s-app'] === 'kube-dns') return 'coredns';
  if (p.metadata.namespace === 'default' && l.app === 'web') return 'web';
  if (p.metadata.namespace === 'default' && l.app === 'client') return 'client';
  return undefined;
}

export function shortNodeName(cluster: string, kubeName: string): string {
  return kubeName.startsWith(`${cluster}-`) ? kubeName.slice(cluster.length + 1) : kubeName;
}

const APP_ORDER: Record<App, number> = { coredns: 0, web: 1, client: 2 };

export function factsFrom(input: {
  id: string; scenario: string; seed: number; cluster: string;
  nodes: KNode[]; pods: KPod[]; services: KService[]; domain?: string;
}): LabFacts {
  const nodes = input.nodes
    .map((n) => ({
      name: shortNodeName(input.cluster, n.metadata.name),
      role: (n.metadata.labels?.['node-role.kubernetes.io/control-plane'] !== undefined ? 'control-plane' : 'worker') as Role,
      ip: n.status.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '',
      podCIDR: n.spec.podCIDR ?? '',
    }))
    .sort((a, b) => (a.role === b.role ? a.name.localeCompare(b.name) : a.role === 'control-plane' ? -1 : 1));
  const nodeIndex = new Map(nodes.map((n, i) => [n.name, i]));
  const pods = input.pods
    .filter((p) => !p.metadata.deletionTimestamp && p.status.podIP && appOf(p))
    .map((p) => ({
      target: `${p.metadata.namespace}/${p.metadata.name}`,
      node: shortNodeName(input.cluster, p.spec.nodeName ?? ''),
      ip: p.status.podIP!,
      app: appOf(p)!,
    }))
    .sort((a, b) => APP_ORDER[a.app] - APP_ORDER[b.app] || (nodeIndex.get(a.node) ?? 99) - (nodeIndex.get(b.node) ?? 99) || a.target.localeCompare(b.target));
  const services = input.services
    .filter((s) => s.spec.clusterIP && s.spec.clusterIP !== 'None' && !(s.metadata.namespace === 'default' && s.metadata.name === 'kubernetes'))
    .filter((s) => s.metadata.namespace === 'default' || (s.metadata.namespace === 'kube-system' && s.metadata.name === 'kube-dns'))
    .map((s) => ({
      target: `${s.metadata.namespace}/${s.metadata.name}`,
      clusterIP: s.spec.clusterIP!,
      ports: (s.spec.ports ?? []).map((p): ServicePort => ({
        name: p.name ?? '',
        port: p.port,
        targetPort: typeof p.targetPort === 'number' ? p.targetPort : p.port,
        protocol: (p.protocol ?? 'TCP') as ServicePort['protocol'],
      })),
    }))
    .sort((a, b) => a.target.localeCompare(b.target));
  const dns = services.find((s) => s.target === 'kube-system/kube-dns');
  return {
    id: input.id,
    scenario: input.scenario,
    provider: 'kind',
    seed: input.seed,
    nodes,
    pods,
    services,
    dns: { clusterIP: dns?.clusterIP ?? '', domain: input.domain ?? 'cluster.local' },
  };
}
