import { createHash } from 'node:crypto';
import { podTarget, selects } from '../../lab/topology.ts';
import type { PodSpec, ServicePort, ServiceSpec, Topology } from '../../lab/types.ts';

// kube-proxy's iptables mode, written the way kube-proxy writes it (chain names hashed from the
// service port name, the namespace/name comments), so what a learner sees with `iptables-save`
// on a node reads like a real kind node.

const MASQ_MARK = '0x4000/0x4000';

function base32(buf: Buffer): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of buf) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

const hash16 = (s: string) => base32(createHash('sha256').update(s).digest()).slice(0, 16);

export const svcPortName = (svc: ServiceSpec, port: ServicePort) => `${svc.namespace}/${svc.name}:${port.name}`;
export const svcChain = (svc: ServiceSpec, port: ServicePort) => `KUBE-SVC-${hash16(svcPortName(svc, port) + port.protocol.toLowerCase())}`;
export const sepChain = (svc: ServiceSpec, port: ServicePort, endpoint: string) =>
  `KUBE-SEP-${hash16(svcPortName(svc, port) + port.protocol.toLowerCase() + endpoint)}`;

export interface Endpoint { pod: PodSpec; address: string }

/** The endpoints of each service port: selected pods that are running, in a stable order. */
export function endpointsOf(topo: Topology, running: Set<string>, svc: ServiceSpec, port: ServicePort): Endpoint[] {
  return topo.pods
    .filter((p) => selects(svc, p) && running.has(podTarget(p)))
    .sort((a, b) => a.ip.localeCompare(b.ip, 'en', { numeric: true }))
    .map((pod) => ({ pod, address: `${pod.ip}:${port.targetPort}` }));
}

const q = (s: string) => `"${s}"`;

/** Built-in chains' jumps into kube-proxy's chains; ensured once, never flushed by a sync. */
export const JUMPS: { table: 'nat' | 'filter'; chain: string; rule: string }[] = [
  { table: 'nat', chain: 'PREROUTING', rule: `-m comment --comment ${q('kubernetes service portals')} -j KUBE-SERVICES` },
  { table: 'nat', chain: 'OUTPUT', rule: `-m comment --comment ${q('kubernetes service portals')} -j KUBE-SERVICES` },
  { table: 'nat', chain: 'POSTROUTING', rule: `-m comment --comment ${q('kubernetes postrouting rules')} -j KUBE-POSTROUTING` },
  { table: 'filter', chain: 'FORWARD', rule: `-m comment --comment ${q('kubernetes forwarding rules')} -j KUBE-FORWARD` },
  { table: 'filter', chain: 'FORWARD', rule: `-m conntrack --ctstate NEW -m comment --comment ${q('kubernetes service portals')} -j KUBE-SERVICES` },
  { table: 'filter', chain: 'OUTPUT', rule: `-m conntrack --ctstate NEW -m comment --comment ${q('kubernetes service portals')} -j KUBE-SERVICES` },
];

/**
 * kube-proxy's chains for the given running pods, as iptables-restore input for `--noflush`:
 * declaring a chain flushes it, so a sync rewrites only kube-proxy's own chains and leaves every
 * other rule (a scenario's, a learner's) where it is.
 */
export function kubeProxyRules(topo: Topology, running: Set<string>, withJumps = false): string {
  const nat: string[] = [];
  const natChains = new Set(['KUBE-SERVICES', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ', 'KUBE-NODEPORTS']);
  const filter: string[] = [];
  const staleChains = new Set<string>();

  nat.push(`-A KUBE-MARK-MASQ -j MARK --set-xmark ${MASQ_MARK}`);
  nat.push(`-A KUBE-POSTROUTING -m mark ! --mark ${MASQ_MARK} -j RETURN`);
  nat.push('-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0');
  nat.push(`-A KUBE-POSTROUTING -m comment --comment ${q('kubernetes service traffic requiring SNAT')} -j MASQUERADE --random-fully`);

  for (const svc of topo.services) {
    for (const port of svc.ports) {
      const name = svcPortName(svc, port);
      const proto = port.protocol.toLowerCase();
      const match = `-d ${svc.clusterIP}/32 -p ${proto} -m comment --comment ${q(`${name} cluster IP`)} -m ${proto} --dport ${port.port}`;
      const eps = endpointsOf(topo, running, svc, port);
      const svcC = svcChain(svc, port);
      for (const p of topo.pods.filter((pod) => selects(svc, pod))) {
        const ep = `${p.ip}:${port.targetPort}`;
        if (!eps.some((e) => e.address === ep)) staleChains.add(sepChain(svc, port, ep));
      }
      if (eps.length === 0) {
        staleChains.add(svcC);
        filter.push(`-A KUBE-SERVICES -d ${svc.clusterIP}/32 -p ${proto} -m comment --comment ${q(`${name} has no endpoints`)} -m ${proto} --dport ${port.port} -j REJECT --reject-with icmp-port-unreachable`);
        continue;
      }
      natChains.add(svcC);
      nat.push(`-A KUBE-SERVICES ${match} -j ${svcC}`);
      nat.push(`-A ${svcC} ! -s ${topo.podCIDR} ${match} -j KUBE-MARK-MASQ`);
      eps.forEach((e, i) => {
        const sep = sepChain(svc, port, e.address);
        natChains.add(sep);
        const left = eps.length - i;
        const stat = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(11)}` : '';
        nat.push(`-A ${svcC} -m comment --comment ${q(`${name} -> ${e.address}`)}${stat} -j ${sep}`);
        nat.push(`-A ${sep} -s ${e.pod.ip}/32 -m comment --comment ${q(name)} -j KUBE-MARK-MASQ`);
        nat.push(`-A ${sep} -p ${proto} -m comment --comment ${q(name)} -m ${proto} -j DNAT --to-destination ${e.address}`);
      });
    }
  }
  nat.push(`-A KUBE-SERVICES -m comment --comment ${q('kubernetes service nodeports; NOTE: this must be the last rule in this chain')} -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS`);

  const filterHead = [
    ':KUBE-SERVICES - [0:0]',
    ':KUBE-FORWARD - [0:0]',
    '-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP',
    `-A KUBE-FORWARD -m comment --comment ${q('kubernetes forwarding rules')} -m mark --mark ${MASQ_MARK} -j ACCEPT`,
    `-A KUBE-FORWARD -m comment --comment ${q('kubernetes forwarding conntrack rule')} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
  ];
  const stale = [...staleChains].filter((c) => !natChains.has(c));
  // Only for a fresh node: with --noflush these would be added again on every sync.
  const jumps = (table: 'nat' | 'filter') => withJumps ? JUMPS.filter((j) => j.table === table).map((j) => `-A ${j.chain} ${j.rule}`) : [];
  return [
    '*nat',
    ...[...natChains, ...stale].map((c) => `:${c} - [0:0]`),
    ...jumps('nat'),
    ...nat,
    // Chains of endpoints that went away: declared (so they exist) and deleted, as kube-proxy does.
    ...stale.map((c) => `-X ${c}`),
    'COMMIT',
    '*filter',
    ...filterHead.slice(0, 2),
    ...jumps('filter'),
    ...filterHead.slice(2),
    ...filter,
    'COMMIT',
    '',
  ].join('\n');
}

/** Shell that adds the built-in chains' jumps unless present (a restore cannot do "add if missing"). */
export function ensureJumpsScript(): string {
  // Inserted at the top in reverse, so they end up in JUMPS' order ahead of other rules.
  return [...JUMPS].reverse().map(({ table, chain, rule }) =>
    `iptables -w -t ${table} -C ${chain} ${rule} 2>/dev/null || iptables -w -t ${table} -I ${chain} ${rule}`).join('\n');
}
