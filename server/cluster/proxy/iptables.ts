import { chainHash as hash16 } from '../../util/chain-hash.ts';
import { inCIDR } from '../../util/ipv4.ts';

// kube-proxy's iptables mode, written the way kube-proxy writes it (chain names hashed from the
// service port name and protocol, the namespace/name comments, KUBE-MARK-MASQ for traffic from
// outside the pod CIDR), so what a learner reads with `iptables-save` on a node reads like a kind
// node. Rendered as iptables-restore input for `--noflush`: declaring a chain flushes it, so a sync
// rewrites kube-proxy's own chains and leaves every other rule (a scenario's, a learner's) alone.
//
// Per service port, as kube-proxy (pkg/proxy/iptables) lays it out:
//   KUBE-SVC-  the Cluster policy chain: every usable endpoint, picked at random (or by the client's
//              address under sessionAffinity ClientIP, with the `recent` match)
//   KUBE-SVL-  the Local policy chain: this node's endpoints only (internal/externalTrafficPolicy Local)
//   KUBE-EXT-  where NodePort, externalIPs and load-balancer traffic goes: masquerade and Cluster
//              policy, or under externalTrafficPolicy Local the client's address kept and Local policy
//              (pods and the node itself still get every endpoint: "short-circuited")
//   KUBE-FW-   load-balancer traffic under loadBalancerSourceRanges: only the allowed sources go on
//              to KUBE-EXT; the rest is never DNATed and KUBE-PROXY-FIREWALL drops it
//   KUBE-SEP-  one endpoint: DNAT, masquerading hairpin traffic (a pod reaching itself)
// and in the filter table the verdicts for what has no endpoint: REJECT when the Service has none
// at all, DROP when only this node has none under a Local policy.

export interface ProxyEndpoint {
  ip: string;
  port: number;
  ready: boolean;
  /** EndpointSlice conditions: a terminating endpoint still serving is used when nothing is ready. */
  serving?: boolean;
  terminating?: boolean;
  /** The node the endpoint's pod runs on (Local policies keep to this node's). */
  node?: string;
}

export interface ProxyServicePort {
  name: string;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  nodePort?: number;
  endpoints: ProxyEndpoint[];
}

export interface ProxyService {
  namespace: string;
  name: string;
  clusterIP: string;
  externalIPs?: string[];
  /** status.loadBalancer.ingress[].ip */
  loadBalancerIPs?: string[];
  /** spec.loadBalancerSourceRanges: the clients a load-balancer address accepts (all when none). */
  sourceRanges?: string[];
  externalTrafficLocal?: boolean;
  internalTrafficLocal?: boolean;
  /** sessionAffinity ClientIP: how long a client sticks to its endpoint. */
  affinitySeconds?: number;
  ports: ProxyServicePort[];
}

const MASQ_MARK = '0x4000/0x4000';

export const svcPortName = (svc: Pick<ProxyService, 'namespace' | 'name'>, port: Pick<ProxyServicePort, 'name'>) => `${svc.namespace}/${svc.name}${port.name ? `:${port.name}` : ''}`;
const portChain = (prefix: string) => (svc: Pick<ProxyService, 'namespace' | 'name'>, port: Pick<ProxyServicePort, 'name' | 'protocol'>) =>
  `${prefix}${hash16(svcPortName(svc, port) + port.protocol.toLowerCase())}`;
export const svcChain = portChain('KUBE-SVC-');
export const svlChain = portChain('KUBE-SVL-');
export const extChain = portChain('KUBE-EXT-');
export const fwChain = portChain('KUBE-FW-');
export const sepChain = (svc: Pick<ProxyService, 'namespace' | 'name'>, port: Pick<ProxyServicePort, 'name' | 'protocol'>, endpoint: string) =>
  `KUBE-SEP-${hash16(svcPortName(svc, port) + port.protocol.toLowerCase() + endpoint)}`;

const q = (s: string) => `"${s}"`;

/** Built-in chains' jumps into kube-proxy's chains; ensured at start, never flushed by a sync. */
export const JUMPS: { table: 'nat' | 'filter'; chain: string; rule: string }[] = [
  { table: 'nat', chain: 'PREROUTING', rule: `-m comment --comment ${q('kubernetes service portals')} -j KUBE-SERVICES` },
  { table: 'nat', chain: 'OUTPUT', rule: `-m comment --comment ${q('kubernetes service portals')} -j KUBE-SERVICES` },
  { table: 'nat', chain: 'POSTROUTING', rule: `-m comment --comment ${q('kubernetes postrouting rules')} -j KUBE-POSTROUTING` },
  { table: 'filter', chain: 'INPUT', rule: `-m conntrack --ctstate NEW -m comment --comment ${q('kubernetes load balancer firewall')} -j KUBE-PROXY-FIREWALL` },
  { table: 'filter', chain: 'INPUT', rule: `-m conntrack --ctstate NEW -m comment --comment ${q('kubernetes externally-visible service portals')} -j KUBE-EXTERNAL-SERVICES` },
  { table: 'filter', chain: 'FORWARD', rule: `-m conntrack --ctstate NEW -m comment --comment ${q('kubernetes load balancer firewall')} -j KUBE-PROXY-FIREWALL` },
  { table: 'filter', chain: 'FORWARD', rule: `-m comment --comment ${q('kubernetes forwarding rules')} -j KUBE-FORWARD` },
  { table: 'filter', chain: 'FORWARD', rule: `-m conntrack --ctstate NEW -m comment --comment ${q('kubernetes service portals')} -j KUBE-SERVICES` },
  { table: 'filter', chain: 'FORWARD', rule: `-m conntrack --ctstate NEW -m comment --comment ${q('kubernetes externally-visible service portals')} -j KUBE-EXTERNAL-SERVICES` },
  { table: 'filter', chain: 'OUTPUT', rule: `-m conntrack --ctstate NEW -m comment --comment ${q('kubernetes load balancer firewall')} -j KUBE-PROXY-FIREWALL` },
  { table: 'filter', chain: 'OUTPUT', rule: `-m conntrack --ctstate NEW -m comment --comment ${q('kubernetes service portals')} -j KUBE-SERVICES` },
];

/** Shell that adds the built-in chains' jumps unless present (a restore cannot "add if missing"). */
export function ensureJumpsScript(): string {
  // Inserted at the top in reverse, so they end up in JUMPS' order ahead of other rules.
  return [...JUMPS].reverse().map(({ table, chain, rule }) =>
    `iptables -w -t ${table} -C ${chain} ${rule} 2>/dev/null || iptables -w -t ${table} -I ${chain} ${rule}`).join('\n');
}

export interface RenderedRules { rules: string; chains: Set<string> }

export interface ProxyNode {
  /** This node's name: Local traffic policies keep to its endpoints. */
  name: string;
  /** The cluster's pod CIDR (kube-proxy's clusterCIDR): what "traffic from a pod" means. */
  clusterCIDR: string;
  /** This node's address: whether a source range lets the node itself through. */
  ip: string;
}

const byAddress = (a: ProxyEndpoint, b: ProxyEndpoint) => a.ip.localeCompare(b.ip, 'en', { numeric: true }) || a.port - b.port;
const addressOf = (e: ProxyEndpoint) => `${e.ip}:${e.port}`;

/**
 * Which endpoints a service port uses on a node (kube-proxy's CategorizeEndpoints): ready ones, or
 * when none is ready the terminating ones still serving, cluster-wide and on this node.
 */
function categorize(svc: ProxyService, port: ProxyServicePort, node: string) {
  const usable = (eps: ProxyEndpoint[]) => {
    const ready = eps.filter((e) => e.ready);
    return (ready.length ? ready : eps.filter((e) => e.serving && e.terminating)).sort(byAddress);
  };
  const external = Boolean(port.nodePort || svc.externalIPs?.length || svc.loadBalancerIPs?.length);
  // Cluster endpoints are needed for internal traffic under Cluster, and for any external traffic:
  // even under externalTrafficPolicy Local, pods and the node itself reach every endpoint.
  const usesCluster = !svc.internalTrafficLocal || external;
  const usesLocal = Boolean(svc.internalTrafficLocal || (svc.externalTrafficLocal && external));
  const cluster = usesCluster ? usable(port.endpoints) : [];
  const local = usesLocal ? usable(port.endpoints.filter((e) => e.node === node)) : [];
  const any = port.endpoints.some((e) => e.ready || (e.serving && e.terminating));
  const reachable = [...new Map([...cluster, ...local].map((e) => [addressOf(e), e])).values()].sort(byAddress);
  return { external, usesCluster, usesLocal, cluster, local, hasEndpoints: any, reachable };
}

/**
 * kube-proxy's chains for these Services on one node. `previous` are the per-service chains the last
 * sync wrote: those no longer needed are deleted, as kube-proxy deletes a gone endpoint's chain.
 * `withJumps` adds the built-in chains' jumps too (only for a node's first sync, before --noflush
 * restores would add them again each time).
 */
export function renderRules(services: ProxyService[], node: ProxyNode, previous: Set<string> = new Set(), withJumps = false): RenderedRules {
  const nat: string[] = [];
  const natChains = new Set(['KUBE-SERVICES', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ', 'KUBE-NODEPORTS']);
  const filter: string[] = [];
  const filterExternal: string[] = [];
  const filterFirewall: string[] = [];
  const chains = new Set<string>();
  const declare = (c: string) => { natChains.add(c); chains.add(c); };

  nat.push(`-A KUBE-MARK-MASQ -j MARK --set-xmark ${MASQ_MARK}`);
  nat.push(`-A KUBE-POSTROUTING -m mark ! --mark ${MASQ_MARK} -j RETURN`);
  nat.push('-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0');
  nat.push(`-A KUBE-POSTROUTING -m comment --comment ${q('kubernetes service traffic requiring SNAT')} -j MASQUERADE --random-fully`);
  const nodePorts: string[] = [];

  for (const svc of services) {
    if (!svc.clusterIP || svc.clusterIP === 'None') continue;
    for (const port of svc.ports) {
      const name = svcPortName(svc, port);
      const proto = port.protocol.toLowerCase();
      const dport = (ip: string) => `-d ${ip}/32 -p ${proto}`;
      const c = categorize(svc, port, node.name);
      const svcC = svcChain(svc, port), svlC = svlChain(svc, port), extC = extChain(svc, port);
      const internalChain = svc.internalTrafficLocal ? svlC : svcC;
      const externalPolicy = svc.externalTrafficLocal ? svlC : svcC;
      const hasInternal = svc.internalTrafficLocal ? c.local.length > 0 : c.hasEndpoints;
      const hasExternal = svc.externalTrafficLocal ? c.local.length > 0 : c.hasEndpoints;
      // What traffic with no endpoint to go to meets: REJECT (the Service has none) or DROP (none here).
      const verdict = c.hasEndpoints ? { target: 'DROP', comment: `${name} has no local endpoints` } : { target: 'REJECT', comment: `${name} has no endpoints` };
      const reject = (target: string) => (target === 'REJECT' ? 'REJECT --reject-with icmp-port-unreachable' : 'DROP');

      const clusterIPMatch = `${dport(svc.clusterIP)} -m comment --comment ${q(`${name} cluster IP`)} -m ${proto} --dport ${port.port}`;
      if (hasInternal) nat.push(`-A KUBE-SERVICES ${clusterIPMatch} -j ${internalChain}`);
      else {
        filter.push(`-A KUBE-SERVICES ${dport(svc.clusterIP)} -m comment --comment ${q(verdict.comment)} -m ${proto} --dport ${port.port} -j ${reject(verdict.target)}`);
      }

      // externalIPs and load-balancer addresses: into the EXT chain while there is any endpoint;
      // where this node has none for external traffic, the filter table says what happens instead.
      const externalAddresses: [string, string][] = [
        ...(svc.externalIPs ?? []).map((ip): [string, string] => [ip, 'external IP']),
        ...(svc.loadBalancerIPs ?? []).map((ip): [string, string] => [ip, 'loadbalancer IP']),
      ];
      const fwC = fwChain(svc, port);
      const firewalled = c.hasEndpoints && Boolean(svc.loadBalancerIPs?.length && svc.sourceRanges?.length);
      for (const [ip, what] of externalAddresses) {
        const to = firewalled && what === 'loadbalancer IP' ? fwC : extC;
        if (c.hasEndpoints) nat.push(`-A KUBE-SERVICES ${dport(ip)} -m comment --comment ${q(`${name} ${what}`)} -m ${proto} --dport ${port.port} -j ${to}`);
        if (to === fwC) filterFirewall.push(`-A KUBE-PROXY-FIREWALL ${dport(ip)} -m comment --comment ${q(`${name} traffic not accepted by ${fwC}`)} -m ${proto} --dport ${port.port} -j DROP`);
        if (!hasExternal) filterExternal.push(`-A KUBE-EXTERNAL-SERVICES ${dport(ip)} -m comment --comment ${q(verdict.comment)} -m ${proto} --dport ${port.port} -j ${reject(verdict.target)}`);
      }
      if (port.nodePort) {
        if (c.hasEndpoints) nodePorts.push(`-A KUBE-NODEPORTS -p ${proto} -m comment --comment ${q(name)} -m ${proto} --dport ${port.nodePort} -j ${extC}`);
        if (!hasExternal) filterExternal.push(`-A KUBE-EXTERNAL-SERVICES -p ${proto} -m comment --comment ${q(verdict.comment)} -m addrtype --dst-type LOCAL -m ${proto} --dport ${port.nodePort} -j ${reject(verdict.target)}`);
      }
      if (!c.hasEndpoints) continue;

      // Traffic to the ClusterIP from outside the pod network (a node, a static route to the Service
      // range) may leave through another node: it is masqueraded so the reply comes back this way.
      if (hasInternal) nat.push(`-A ${internalChain} ! -s ${node.clusterCIDR} ${clusterIPMatch} -j KUBE-MARK-MASQ`);

      if (firewalled) {
        declare(fwC);
        const accept = (source: string) => nat.push(`-A ${fwC} -s ${source} -m comment --comment ${q(`${name} loadbalancer IP`)} -j ${extC}`);
        svc.sourceRanges!.forEach(accept);
        // A node reaching the address may come from the address itself (where the cloud routes it
        // back locally): let that through when the node is in a permitted range.
        if (svc.sourceRanges!.some((cidr) => inCIDR(node.ip, cidr))) svc.loadBalancerIPs!.forEach((ip) => accept(`${ip}/32`));
      }
      if (c.external) {
        declare(extC);
        if (!svc.externalTrafficLocal) {
          nat.push(`-A ${extC} -m comment --comment ${q(`masquerade traffic for ${name} external destinations`)} -j KUBE-MARK-MASQ`);
        } else {
          // A pod or the node itself going to a NodePort or load-balancer address is treated as if it
          // had gone out to the load balancer and come back: every endpoint, whatever the policy.
          nat.push(`-A ${extC} -s ${node.clusterCIDR} -m comment --comment ${q(`pod traffic for ${name} external destinations`)} -j ${svcC}`);
          nat.push(`-A ${extC} -m comment --comment ${q(`masquerade LOCAL traffic for ${name} external destinations`)} -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`);
          nat.push(`-A ${extC} -m comment --comment ${q(`route LOCAL traffic for ${name} external destinations`)} -m addrtype --src-type LOCAL -j ${svcC}`);
        }
        if (hasExternal) nat.push(`-A ${extC} -j ${externalPolicy}`);
      }

      const toEndpoints = (chain: string, eps: ProxyEndpoint[]) => {
        declare(chain);
        if (svc.affinitySeconds) {
          for (const e of eps) {
            const sep = sepChain(svc, port, addressOf(e));
            nat.push(`-A ${chain} -m comment --comment ${q(`${name} -> ${addressOf(e)}`)} -m recent --rcheck --seconds ${svc.affinitySeconds} --reap --name ${sep} --mask 255.255.255.255 --rsource -j ${sep}`);
          }
        }
        eps.forEach((e, i) => {
          const left = eps.length - i;
          const stat = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(11)}` : '';
          nat.push(`-A ${chain} -m comment --comment ${q(`${name} -> ${addressOf(e)}`)}${stat} -j ${sepChain(svc, port, addressOf(e))}`);
        });
      };
      if (c.usesCluster) toEndpoints(svcC, c.cluster);
      if (c.usesLocal) toEndpoints(svlC, c.local);
      for (const e of c.reachable) {
        const address = addressOf(e);
        const sep = sepChain(svc, port, address);
        declare(sep);
        const recent = svc.affinitySeconds ? ` -m recent --set --name ${sep} --mask 255.255.255.255 --rsource` : '';
        nat.push(`-A ${sep} -s ${e.ip}/32 -m comment --comment ${q(name)} -j KUBE-MARK-MASQ`);
        nat.push(`-A ${sep} -p ${proto} -m comment --comment ${q(name)}${recent} -m ${proto} -j DNAT --to-destination ${address}`);
      }
    }
  }
  nat.push(`-A KUBE-SERVICES -m comment --comment ${q('kubernetes service nodeports; NOTE: this must be the last rule in this chain')} -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS`);

  const stale = [...previous].filter((ch) => !chains.has(ch));
  const jumps = (table: 'nat' | 'filter') => withJumps ? JUMPS.filter((j) => j.table === table).map((j) => `-A ${j.chain} ${j.rule}`) : [];
  const rules = [
    '*nat',
    ...[...natChains, ...stale].map((ch) => `:${ch} - [0:0]`),
    ...jumps('nat'),
    ...nat,
    ...nodePorts,
    // Chains that went away: declared (so they exist, flushed) and deleted, as kube-proxy does.
    ...stale.map((ch) => `-X ${ch}`),
    'COMMIT',
    '*filter',
    ':KUBE-SERVICES - [0:0]',
    ':KUBE-EXTERNAL-SERVICES - [0:0]',
    ':KUBE-PROXY-FIREWALL - [0:0]',
    ':KUBE-FORWARD - [0:0]',
    ...jumps('filter'),
    '-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP',
    `-A KUBE-FORWARD -m comment --comment ${q('kubernetes forwarding rules')} -m mark --mark ${MASQ_MARK} -j ACCEPT`,
    `-A KUBE-FORWARD -m comment --comment ${q('kubernetes forwarding conntrack rule')} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    ...filter,
    ...filterExternal,
    ...filterFirewall,
    'COMMIT',
    '',
  ].join('\n');
  return { rules, chains };
}
