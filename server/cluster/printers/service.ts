// Services and Endpoints. EXTERNAL-IP depends on the type: externalIPs or "<none>" for ClusterIP
// and NodePort, the load balancer's addresses (then externalIPs) or "<pending>" for LoadBalancer,
// the DNS name for ExternalName. PORT(S) reads "53/UDP" or, with a node port, "80:30080/TCP".
// Endpoints list at most three "ip:port" pairs, then " + N more...".

import type { V1Endpoints, V1Service } from '@kubernetes/client-node';
import { formatLabels, joinHostPort, listWithMore, since, sortedSet } from './format.ts';
import { ageColumn, column, nameColumn, printer } from './printer.ts';

const serviceColumns = [
  nameColumn(),
  column('Type', 'string', 'type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. "ClusterIP" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is "None", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. "NodePort" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. "LoadBalancer" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. "ExternalName" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types'),
  column('Cluster-IP', 'string', 'clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).\n\nValid values are "None", empty string (""), or a valid IP address. Setting this to "None" makes a "headless service" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.\n\nOnly applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies'),
  column('External-IP', 'string', 'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.\n\nThese IPs are not managed by Kubernetes.\n\nThe user is responsible for ensuring that traffic arrives at a node with this IP.\n\nA common example is external load-balancers that are not part of the Kubernetes system.'),
  column('Port(s)', 'string', 'The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies'),
  ageColumn(),
  column('Selector', 'string', 'Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/', { wide: true }),
];

/** A Service's or Ingress's load balancer addresses (IP, else hostname), distinct and sorted. */
export function loadBalancerAddresses(status: { ingress?: readonly { ip?: string; hostname?: string }[] } | undefined): string[] {
  return sortedSet((status?.ingress ?? []).map((i) => i.ip || i.hostname || '').filter(Boolean));
}

function externalIP(service: V1Service, type: string): string {
  const externalIPs = service.spec?.externalIPs ?? [];
  switch (type) {
    case 'ClusterIP':
    case 'NodePort':
      return externalIPs.length ? externalIPs.join(',') : '<none>';
    case 'LoadBalancer': {
      const addresses = [...loadBalancerAddresses(service.status?.loadBalancer), ...externalIPs];
      return addresses.length ? addresses.join(',') : '<pending>';
    }
    case 'ExternalName':
      return service.spec?.externalName ?? '';
    default:
      return '<unknown>';
  }
}

function ports(service: V1Service): string {
  const text = (service.spec?.ports ?? [])
    .map((p) => {
      const protocol = p.protocol || 'TCP';
      return p.nodePort && p.nodePort > 0 ? `${p.port ?? 0}:${p.nodePort}/${protocol}` : `${p.port ?? 0}/${protocol}`;
    })
    .join(',');
  return text || '<none>';
}

function serviceCells(service: V1Service, now: Date): unknown[] {
  // Defaulting gives every stored Service a type; spec.clusterIP is authoritative over
  // clusterIPs[0] (v1 to internal conversion).
  const type = service.spec?.type || 'ClusterIP';
  return [
    service.metadata?.name ?? '',
    type,
    service.spec?.clusterIP || service.spec?.clusterIPs?.[0] || '<none>',
    externalIP(service, type),
    ports(service),
    since(now, service.metadata?.creationTimestamp),
    formatLabels(service.spec?.selector),
  ];
}

export const servicePrinter = printer<V1Service>(serviceColumns, serviceCells);

/**
 * formatEndpoints: ready addresses with each port ("10.244.0.2:53"), or bare addresses in a subset
 * without ports. "<none>" when there are no subsets; "" when the subsets hold only not-ready ones.
 */
function formatEndpoints(endpoints: V1Endpoints): string {
  const subsets = endpoints.subsets ?? [];
  if (subsets.length === 0) return '<none>';
  const entries = subsets.flatMap((subset) => {
    const ips = (subset.addresses ?? []).map((a) => a.ip ?? '');
    const subsetPorts = subset.ports ?? [];
    return subsetPorts.length === 0 ? ips : subsetPorts.flatMap((p) => ips.map((ip) => joinHostPort(ip, p.port ?? 0)));
  });
  return listWithMore(entries, 3);
}

export const endpointsPrinter = printer<V1Endpoints>(
  [
    nameColumn(),
    column('Endpoints', 'string', 'The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs they share. A single address with multiple ports, some of which are ready and some of which are not (because they come from different containers) will result in the address being displayed in different subsets for the different ports. No address will appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service.'),
    ageColumn(),
  ],
  (endpoints, now) => [endpoints.metadata?.name ?? '', formatEndpoints(endpoints), since(now, endpoints.metadata?.creationTimestamp)],
);
