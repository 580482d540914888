import { svcPortName, type ProxyService, type ProxyServicePort } from './iptables.ts';

// The UDP flows kube-proxy clears after a sync (pkg/proxy/conntrack/cleanup.go). UDP has no
// connection to end: a client that keeps its source port (a resolver, a syslog sender) keeps
// matching the conntrack entry of its first packet, and with it the DNAT that entry chose, for as
// long as it sends more often than the UDP timeout. So when an endpoint stops serving, the entries
// NATed to it are deleted (the next packet is a new flow, load-balanced again); and when a UDP
// Service goes from no endpoints to some, every entry to its addresses goes, since packets sent
// while it had none may have left entries that do not lead to any endpoint. TCP is left alone: a
// connection to a gone endpoint ends by itself (a RST or a timeout), and a new one is a new flow.

/** One UDP service port as the previous or current sync saw it. */
interface UdpPort {
  /** The Service's addresses traffic comes in on: ClusterIP, external and load-balancer IPs. */
  ips: string[];
  nodePort?: number;
  /** "ip:port" of every endpoint serving. */
  serving: Set<string>;
  /** Any endpoint at all, serving or not (kube-proxy's "no endpoints" is none in the slices). */
  any: boolean;
}

function udpPorts(services: readonly ProxyService[]): Map<string, UdpPort> {
  const out = new Map<string, UdpPort>();
  for (const svc of services) {
    for (const port of svc.ports) {
      if (port.protocol !== 'UDP') continue;
      out.set(key(svc, port), {
        ips: [svc.clusterIP, ...(svc.externalIPs ?? []), ...(svc.loadBalancerIPs ?? [])],
        nodePort: port.nodePort,
        serving: new Set(port.endpoints.filter((e) => e.serving ?? e.ready).map((e) => `${e.ip}:${e.port}`)),
        any: port.endpoints.length > 0,
      });
    }
  }
  return out;
}

const key = (svc: ProxyService, port: ProxyServicePort) => `${svcPortName(svc, port)}/udp`;

/**
 * The conntrack(8) deletions for going from `before` (what the last sync of this kube-proxy
 * instance programmed; none for a kube-proxy that just started) to `after`, one command each.
 */
export function staleUdpFlows(before: readonly ProxyService[], after: readonly ProxyService[]): string[] {
  const old = udpPorts(before);
  const now = udpPorts(after);
  const commands = new Set<string>();
  for (const [name, was] of old) {
    const is = now.get(name);
    // A deleted Service: every flow to its ClusterIP.
    if (!is) { commands.add(`conntrack -D -p udp --orig-dst ${was.ips[0]}`); continue; }
    for (const ep of was.serving) {
      if (is.serving.has(ep)) continue;
      const ip = ep.slice(0, ep.lastIndexOf(':'));
      // The reply comes from the endpoint: that is what an entry NATed to it says.
      for (const svcIP of is.ips) commands.add(`conntrack -D -p udp --orig-dst ${svcIP} --reply-src ${ip}`);
      if (is.nodePort) commands.add(`conntrack -D -p udp --orig-port-dst ${is.nodePort} --reply-src ${ip}`);
    }
  }
  for (const [name, is] of now) {
    if (!is.any || old.get(name)?.any) continue;
    for (const svcIP of is.ips) commands.add(`conntrack -D -p udp --orig-dst ${svcIP}`);
    if (is.nodePort) commands.add(`conntrack -D -p udp --orig-port-dst ${is.nodePort}`);
  }
  return [...commands];
}
