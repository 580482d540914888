import type { Topology } from '../../lab/types.ts';
import { gatewayOf } from '../../util/ipv4.ts';
import { sq } from '../../util/shell.ts';

// The nodes of a netns lab, as kind and kindnet leave them before any pod runs: the "docker
// network" (an underlay bridge in the sandbox's own namespace, its gateway .1), a network namespace
// per node on a veth into it, each node's cni0 bridge for its podCIDR, the host-gw routes to the
// other nodes' podCIDRs that kindnet programs, and a kind node's sysctls. The control-plane also
// gets what makes the API server reachable at 172.18.0.2:6443: a forwarder to the lab's API socket.

const prefixLen = (cidr: string) => cidr.split('/')[1];
const vethOf = (node: string) => `veth-${node}`.slice(0, 15);
const heredoc = (cmd: string, body: string[]) => `${cmd} <<'NETDOJO_EOF'\n${body.join('\n')}\nNETDOJO_EOF`;

export const API_PORT = 6443;

export function nodesScript(topo: Topology, apiSocket: string): string {
  const u = topo.underlay;
  const out: string[] = ['set -euo pipefail'];
  out.push(heredoc('ip -batch -', topo.nodes.map((n) => `netns add ${n.name}`)));
  out.push(heredoc('ip -batch -', [
    'link set lo up',
    `link add underlay mtu ${u.mtu} type bridge`,
    `addr add ${u.gateway}/${prefixLen(u.cidr)} dev underlay`,
    'link set underlay up',
    ...topo.nodes.flatMap((n) => [
      `link add ${vethOf(n.name)} mtu ${u.mtu} type veth peer name eth0 netns ${n.name}`,
      `link set ${vethOf(n.name)} master underlay up`,
    ]),
  ]));
  for (const n of topo.nodes) {
    const peers = topo.nodes.filter((o) => o.name !== n.name);
    out.push(heredoc(`ip -n ${n.name} -batch -`, [
      'link set lo up',
      `link set eth0 mtu ${u.mtu} up`,
      `addr add ${n.ip}/${prefixLen(u.cidr)} dev eth0`,
      `link add cni0 mtu ${u.mtu} type bridge`,
      `addr add ${gatewayOf(n.podCIDR)}/${prefixLen(n.podCIDR)} dev cni0`,
      'link set cni0 up',
      ...peers.map((o) => `route add ${o.podCIDR} via ${o.ip} dev eth0`),
      `route add default via ${u.gateway} dev eth0`,
    ]));
    // New namespaces inherit IPv4 settings from wherever they were made: set what a kind node has.
    out.push(`ip netns exec ${n.name} sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 net.bridge.bridge-nf-call-iptables=1`);
    // kindnet masquerades pod traffic leaving the cluster, and nothing else.
    out.push(heredoc(`ip netns exec ${n.name} iptables-restore -w --noflush`, [
      '*nat', ':KIND-MASQ-AGENT - [0:0]',
      `-A POSTROUTING -m addrtype ! --dst-type LOCAL -m comment --comment "kind-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our custom KIND-MASQ-AGENT chain" -j KIND-MASQ-AGENT`,
      `-A KIND-MASQ-AGENT -d ${topo.podCIDR} -m comment --comment "kind-masq-agent: local traffic is not subject to MASQUERADE" -j RETURN`,
      '-A KIND-MASQ-AGENT -m comment --comment "kind-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)" -j MASQUERADE',
      'COMMIT', '',
    ]));
  }
  const cp = topo.nodes.find((n) => n.role === 'control-plane')!;
  // The API server as the control-plane's host network serves it; restarted if it ever exits.
  out.push(`ip netns exec ${cp.name} setsid -f sh -c ${sq(`while :; do socat TCP-LISTEN:${API_PORT},bind=${cp.ip},fork,reuseaddr UNIX-CONNECT:${apiSocket}; sleep 0.2; done`)} >/dev/null 2>&1 </dev/null`);
  return out.join('\n') + '\n';
}
