import { chainHash as hash16 } from '../../util/chain-hash.ts';

// kube-proxy's iptables mode, written the way kube-proxy writes it (chain names hashed from the
// service port name and protocol, the namespace/name comments, KUBE-MARK-MASQ for traffic from
// outside the pod CIDR), so what a learner reads with `iptables-save` on a node reads like a kind
// node. Rendered as iptables-restore input for `--noflush`: declaring a chain flushes it, so a sync
// rewrites kube-proxy's own chains and leaves every other rule (a scenario's, a learner's) alone.

export interface ProxyEndpoint { ip: string; port: number; ready: boolean }

export interface ProxyServicePort {
  name: string;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  endpoints: ProxyEndpoint[];
}

export interface ProxyService {
  namespace: string;
  name: string;
  clusterIP: string;
  ports: ProxyServicePort[];
}

const MASQ_MARK = '0x4000/0x4000';

export const svcPortName = (svc: Pick<ProxyService, 'namespace' | 'name'>, port: Pick<ProxyServicePort, 'name'>) => `${svc.namespace}/${svc.name}${port.name ? `:${port.name}` : ''}`;
export const svcChain = (svc: Pick<ProxyService, 'namespace' | 'name'>, port: Pick<ProxyServicePort, 'name' | 'protocol'>) => `KUBE-SVC-${hash16(svcPortName(svc, port) + port.protocol.toLowerCase())}`;
export const sepChain = (svc: Pick<ProxyService, 'namespace' | 'name'>, port: Pick<ProxyServicePort, 'name' | 'protocol'>, endpoint: string) =>
  `KUBE-SEP-${hash16(svcPortName(svc, port) + port.protocol.toLowerCase() + endpoint)}`;

const q = (s: string) => `"${s}"`;

/** Built-in chains' jumps into kube-proxy's chains; ensured at start, never flushed by a sync. */
export const JUMPS: { table: 'nat' | 'filter'; chain: string; rule: string }[] = [
  { table: 'nat', chain: 'PREROUTING', rule: `-m comment --comment ${q('kubernetes service portals')} -j KUBE-SERVICES` },
  { table: 'nat', chain: 'OUTPUT', rule: `-m comment --comment ${q('kubernetes service portals')} -j KUBE-SERVICES` },
  { table: 'nat', chain: 'POSTROUTING', rule: `-m comment --comment ${q('kubernetes postrouting rules')} -j KUBE-POSTROUTING` },
  { table: 'filter', chain: 'FORWARD', rule: `-m comment --comment ${q('kubernetes forwarding rules')} -j KUBE-FORWARD` },
  { table: 'filter', chain: 'FORWARD', rule: `-m conntrack --ctstate NEW -m comment --comment ${q('kubernetes service portals')} -j KUBE-SERVICES` },
  { table: 'filter', chain: 'OUTPUT', rule: `-m conntrack --ctstate NEW -m comment --comment ${q('kubernetes service portals')} -j KUBE-SERVICES` },
];

/** Shell that adds the built-in chains' jumps unless present (a restore cannot "add if missing"). */
export function ensureJumpsScript(): string {
  // Inserted at the top in reverse, so they end up in JUMPS' order ahead of other rules.
  return [...JUMPS].reverse().map(({ table, chain, rule }) =>
    `iptables -w -t ${table} -C ${chain} ${rule} 2>/dev/null || iptables -w -t ${table} -I ${chain} ${rule}`).join('\n');
}

export interface RenderedRules { rules: string; chains: Set<string> }

/**
 * kube-proxy's chains for these Services. `previous` are the per-service chains the last sync
 * wrote: those no longer needed are deleted, as kube-proxy deletes a gone endpoint's chain.
 * `withJumps` adds the built-in chains' jumps too (only for a node's first sync, before --noflush
 * restores would add them again each time).
 */
export function renderRules(services: ProxyService[], podCIDR: string, previous: Set<string> = new Set(), withJumps = false): RenderedRules {
  const nat: string[] = [];
  const natChains = new Set(['KUBE-SERVICES', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ', 'KUBE-NODEPORTS']);
  const filter: string[] = [];
  const chains = new Set<string>();

  nat.push(`-A KUBE-MARK-MASQ -j MARK --set-xmark ${MASQ_MARK}`);
  nat.push(`-A KUBE-POSTROUTING -m mark ! --mark ${MASQ_MARK} -j RETURN`);
  nat.push('-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0');
  nat.push(`-A KUBE-POSTROUTING -m comment --comment ${q('kubernetes service traffic requiring SNAT')} -j MASQUERADE --random-fully`);

  for (const svc of services) {
    if (!svc.clusterIP || svc.clusterIP === 'None') continue;
    for (const port of svc.ports) {
      const name = svcPortName(svc, port);
      const proto = port.protocol.toLowerCase();
      const match = `-d ${svc.clusterIP}/32 -p ${proto} -m comment --comment ${q(`${name} cluster IP`)} -m ${proto} --dport ${port.port}`;
      const eps = port.endpoints.filter((e) => e.ready).sort((a, b) => a.ip.localeCompare(b.ip, 'en', { numeric: true }));
      if (eps.length === 0) {
        filter.push(`-A KUBE-SERVICES -d ${svc.clusterIP}/32 -p ${proto} -m comment --comment ${q(`${name} has no endpoints`)} -m ${proto} --dport ${port.port} -j REJECT --reject-with icmp-port-unreachable`);
        continue;
      }
      const svcC = svcChain(svc, port);
      natChains.add(svcC);
      chains.add(svcC);
      nat.push(`-A KUBE-SERVICES ${match} -j ${svcC}`);
      nat.push(`-A ${svcC} ! -s ${podCIDR} ${match} -j KUBE-MARK-MASQ`);
      eps.forEach((e, i) => {
        const address = `${e.ip}:${e.port}`;
        const sep = sepChain(svc, port, address);
        natChains.add(sep);
        chains.add(sep);
        const left = eps.length - i;
        const stat = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(11)}` : '';
        nat.push(`-A ${svcC} -m comment --comment ${q(`${name} -> ${address}`)}${stat} -j ${sep}`);
        nat.push(`-A ${sep} -s ${e.ip}/32 -m comment --comment ${q(name)} -j KUBE-MARK-MASQ`);
        nat.push(`-A ${sep} -p ${proto} -m comment --comment ${q(name)} -m ${proto} -j DNAT --to-destination ${address}`);
      });
    }
  }
  nat.push(`-A KUBE-SERVICES -m comment --comment ${q('kubernetes service nodeports; NOTE: this must be the last rule in this chain')} -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS`);

  const stale = [...previous].filter((c) => !chains.has(c));
  const jumps = (table: 'nat' | 'filter') => withJumps ? JUMPS.filter((j) => j.table === table).map((j) => `-A ${j.chain} ${j.rule}`) : [];
  const rules = [
    '*nat',
    ...[...natChains, ...stale].map((c) => `:${c} - [0:0]`),
    ...jumps('nat'),
    ...nat,
    // Chains that went away: declared (so they exist, flushed) and deleted, as kube-proxy does.
    ...stale.map((c) => `-X ${c}`),
    'COMMIT',
    '*filter',
    ':KUBE-SERVICES - [0:0]',
    ':KUBE-FORWARD - [0:0]',
    ...jumps('filter'),
    '-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP',
    `-A KUBE-FORWARD -m comment --comment ${q('kubernetes forwarding rules')} -m mark --mark ${MASQ_MARK} -j ACCEPT`,
    `-A KUBE-FORWARD -m comment --comment ${q('kubernetes forwarding conntrack rule')} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    ...filter,
    'COMMIT',
    '',
  ].join('\n');
  return { rules, chains };
}
