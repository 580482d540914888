// EndpointSlices, NetworkPolicies, Ingresses and IngressClasses.

import type { V1EndpointSlice, V1Ingress, V1IngressClass, V1IngressRule, V1NetworkPolicy } from '@kubernetes/client-node';
import { listWithMore, since } from './format.ts';
import { ageColumn, column, nameColumn, printer } from './printer.ts';
import { formatLabelSelector } from './selectors.ts';
import { loadBalancerAddresses } from './service.ts';

// A slice's PORTS (number, else name, else "*") and ENDPOINTS (addresses, ready or not) show at
// most three entries then " + N more..."; an empty list reads "<unset>".
const orUnset = (text: string) => text || '<unset>';

export const endpointSlicePrinter = printer<V1EndpointSlice>(
  [
    nameColumn(),
    column('AddressType', 'string', 'addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation. The following address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name.'),
    column('Ports', 'string', 'ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name. When ports is empty, it indicates that there are no defined ports. When a port is defined with a nil port value, it indicates "all ports". Each slice may include a maximum of 100 ports.'),
    column('Endpoints', 'string', 'endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints.'),
    ageColumn(),
  ],
  (slice, now) => [
    slice.metadata?.name ?? '',
    slice.addressType ?? '',
    orUnset(listWithMore((slice.ports ?? []).map((p) => (p.port != null ? String(p.port) : p.name ?? '*')), 3)),
    orUnset(listWithMore((slice.endpoints ?? []).flatMap((e) => e.addresses ?? []), 3)),
    since(now, slice.metadata?.creationTimestamp),
  ],
);

export const networkPolicyPrinter = printer<V1NetworkPolicy>(
  [
    nameColumn(),
    column('Pod-Selector', 'string', 'Selects the pods to which this NetworkPolicy object applies. The array of ingress rules is applied to any pods selected by this field. Multiple network policies can select the same set of pods. In this case, the ingress rules for each are combined additively. This field is NOT optional and follows standard label selector semantics. An empty podSelector matches all pods in this namespace.'),
    ageColumn(),
  ],
  (policy, now) => [policy.metadata?.name ?? '', formatLabelSelector(policy.spec?.podSelector ?? {}), since(now, policy.metadata?.creationTimestamp)],
);

/**
 * formatHosts: the first three hosts the rules name, "*" when none does. Once three are found, any
 * further rule (with or without a host) adds " + N more...", N counting every rule past the third.
 */
function formatHosts(rules: readonly V1IngressRule[]): string {
  const MAX = 3;
  const hosts: string[] = [];
  let more = false;
  for (const rule of rules) {
    if (hosts.length === MAX) {
      more = true;
      break;
    }
    if (rule.host) hosts.push(rule.host);
  }
  if (hosts.length === 0) return '*';
  return more ? `${hosts.join(',')} + ${rules.length - MAX} more...` : hosts.join(',');
}

export const ingressPrinter = printer<V1Ingress>(
  [
    nameColumn(),
    column('Class', 'string', 'The name of the IngressClass resource that should be used for additional configuration'),
    column('Hosts', 'string', 'Hosts that incoming requests are matched against before the ingress rule'),
    column('Address', 'string', 'Address is a list containing ingress points for the load-balancer'),
    column('Ports', 'string', 'Ports of TLS configurations that open'),
    ageColumn(),
  ],
  (ingress, now) => [
    ingress.metadata?.name ?? '',
    ingress.spec?.ingressClassName ?? '<none>',
    formatHosts(ingress.spec?.rules ?? []),
    loadBalancerAddresses(ingress.status?.loadBalancer).join(','),
    (ingress.spec?.tls ?? []).length ? '80, 443' : '80',
    since(now, ingress.metadata?.creationTimestamp),
  ],
);

/** PARAMETERS: "<Kind>[.<apiGroup>]/<name>", or "<none>". */
function parameters(ingressClass: V1IngressClass): string {
  const p = ingressClass.spec?.parameters;
  if (!p) return '<none>';
  const kind = p.apiGroup != null ? `${p.kind ?? ''}.${p.apiGroup}` : p.kind ?? '';
  return `${kind}/${p.name ?? ''}`;
}

export const ingressClassPrinter = printer<V1IngressClass>(
  [
    nameColumn(),
    column('Controller', 'string', 'Controller that is responsible for handling this class'),
    column('Parameters', 'string', 'A reference to a resource with additional parameters'),
    ageColumn(),
  ],
  (ingressClass, now) => [ingressClass.metadata?.name ?? '', ingressClass.spec?.controller ?? '', parameters(ingressClass), since(now, ingressClass.metadata?.creationTimestamp)],
);
