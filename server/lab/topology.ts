import type { Topology } from './types.ts';

// The cluster every lab starts from: a 2-node kind cluster's nodes and addressing (kind's defaults).
// What runs on it is Kubernetes objects (manifests/); the constants below are what those objects and
// the scenarios rely on.
export const UNDERLAY = { cidr: '172.18.0.0/16', gateway: '172.18.0.1', mtu: 1500 } as const;
export const POD_CIDR = '10.244.0.0/16';
export const SERVICE_CIDR = '10.96.0.0/16';
export const DNS_CLUSTER_IP = '10.96.0.10';
export const CLUSTER_DOMAIN = 'cluster.local';
export const WEB_CLUSTER_IP = '10.96.124.51';
export const WEB_PORT = 8080;
/** Not selected by the web Service: the scenarios' "must stay blocked" target. */
export const ADMIN_PORT = 9090;

export function baseTopology(): Topology {
  return {
    underlay: { ...UNDERLAY },
    podCIDR: POD_CIDR,
    serviceCIDR: SERVICE_CIDR,
    dns: { clusterIP: DNS_CLUSTER_IP, domain: CLUSTER_DOMAIN },
    nodes: [
      { name: 'control-plane', role: 'control-plane', ip: '172.18.0.2', podCIDR: '10.244.0.0/24' },
      { name: 'worker', role: 'worker', ip: '172.18.0.3', podCIDR: '10.244.1.0/24' },
    ],
  };
}

/** "web-0" means "default/web-0", as kubectl assumes the default namespace. */
export function normalizeTarget(target: string, topo: Pick<Topology, 'nodes'>): string {
  if (target.includes('/') || topo.nodes.some((n) => n.name === target)) return target;
  return `default/${target}`;
}
