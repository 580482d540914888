import type { PodSpec, ServiceSpec, Topology } from './types.ts';

// The cluster every lab starts from: a 2-node kind cluster's addressing (kind's defaults) with the
// workloads the scenarios probe. Both CoreDNS replicas sit on the control-plane, as they do in kind
// (they are scheduled before the worker joins).
export const UNDERLAY = { cidr: '172.18.0.0/16', gateway: '172.18.0.1', mtu: 1500 } as const;
export const POD_CIDR = '10.244.0.0/16';
export const SERVICE_CIDR = '10.96.0.0/16';
export const DNS_CLUSTER_IP = '10.96.0.10';
export const CLUSTER_DOMAIN = 'cluster.local';
export const WEB_CLUSTER_IP = '10.96.124.51';
export const WEB_PORT = 8080;
/** Not selected by the web Service: the scenarios' "must stay blocked" target. */
export const ADMIN_PORT = 9090;

const pod = (namespace: string, name: string, node: string, ip: string, app: PodSpec['app'], labels: Record<string, string>, workload?: string): PodSpec =>
  ({ namespace, name, node, ip, app, labels, workload });

export function baseTopology(): Topology {
  const nodes = [
    { name: 'control-plane', role: 'control-plane' as const, ip: '172.18.0.2', podCIDR: '10.244.0.0/24' },
    { name: 'worker', role: 'worker' as const, ip: '172.18.0.3', podCIDR: '10.244.1.0/24' },
  ];
  const pods: PodSpec[] = [
    pod('kube-system', 'coredns-0', 'control-plane', '10.244.0.2', 'coredns', { 'k8s-app': 'kube-dns' }, 'kube-system/coredns'),
    pod('kube-system', 'coredns-1', 'control-plane', '10.244.0.3', 'coredns', { 'k8s-app': 'kube-dns' }, 'kube-system/coredns'),
    pod('default', 'web-0', 'control-plane', '10.244.0.4', 'web', { app: 'web' }, 'default/web'),
    pod('default', 'client-control-plane', 'control-plane', '10.244.0.5', 'client', { app: 'client' }),
    pod('default', 'web-1', 'worker', '10.244.1.2', 'web', { app: 'web' }, 'default/web'),
    pod('default', 'client-worker', 'worker', '10.244.1.3', 'client', { app: 'client' }),
  ];
  const services: ServiceSpec[] = [
    {
      namespace: 'kube-system', name: 'kube-dns', clusterIP: DNS_CLUSTER_IP, selector: { 'k8s-app': 'kube-dns' },
      ports: [
        { name: 'dns', port: 53, targetPort: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, targetPort: 53, protocol: 'TCP' },
      ],
    },
    {
      namespace: 'default', name: 'web', clusterIP: WEB_CLUSTER_IP, selector: { app: 'web' },
      ports: [{ name: 'http', port: 80, targetPort: WEB_PORT, protocol: 'TCP' }],
    },
  ];
  return {
    underlay: { ...UNDERLAY },
    podCIDR: POD_CIDR,
    serviceCIDR: SERVICE_CIDR,
    dns: { clusterIP: DNS_CLUSTER_IP, domain: CLUSTER_DOMAIN },
    nodes,
    pods,
    services,
    workloads: [
      { namespace: 'kube-system', name: 'coredns', replicas: 2 },
      { namespace: 'default', name: 'web', replicas: 2 },
    ],
  };
}

export const podTarget = (p: { namespace: string; name: string }) => `${p.namespace}/${p.name}`;

/** Pods a Service selects: its endpoints when they run. */
export function selects(svc: ServiceSpec, p: PodSpec): boolean {
  return Object.entries(svc.selector).every(([k, v]) => p.labels[k] === v);
}

/** "web-0" means "default/web-0", as kubectl assumes the default namespace. */
export function normalizeTarget(target: string, topo: Pick<Topology, 'nodes'>): string {
  if (target.includes('/') || topo.nodes.some((n) => n.name === target)) return target;
  return `default/${target}`;
}
