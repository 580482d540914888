import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { podTarget } from '../../lab/topology.ts';
import { shq, sq } from '../../util/shell.ts';
import type { PodSpec, Topology } from '../../lab/types.ts';
import { ensureJumpsScript, kubeProxyRules } from './kubeproxy.ts';

// What a lab is made of, as data and scripts: the files a lab keeps (per-target resolv.conf, hosts,
// the DNS server's config) and one setup script that builds every namespace, link, route and rule
// with `ip -batch` and `iptables-restore`, then starts the workloads. Everything here is pure, so
// the shape of a lab is testable without privileges.

const WEB_PY = fileURLToPath(new URL('../../workloads/web.py', import.meta.url));
export const ADMIN_PORTS = [9090];

/** The network namespace (inside the lab's sandbox) that backs a target. */
export function netnsOf(target: string): string {
  return target.includes('/') ? `pod_${target.replace('/', '_')}` : target;
}

/** Interface names are capped at 15 bytes; derive short stable ones the way CNI plugins do. */
const veth = (key: string) => `veth${createHash('sha1').update(key).digest('hex').slice(0, 8)}`;

const podsOn = (topo: Topology, node: string) => topo.pods.filter((p) => p.node === node);
const gatewayOf = (podCIDR: string) => podCIDR.replace(/\.0\/24$/, '.1');
const prefixLen = (cidr: string) => cidr.split('/')[1];

export function resolvConf(topo: Topology, namespace: string): string {
  const d = topo.dns.domain;
  return `search ${namespace}.svc.${d} svc.${d} ${d}\nnameserver ${topo.dns.clusterIP}\noptions ndots:5\n`;
}

/** Nodes point at the "docker" gateway, which answers nothing: this lab has no way out, by design. */
export function nodeResolvConf(topo: Topology): string {
  return `# The lab is offline: the gateway answers no DNS. Cluster names resolve through ${topo.dns.clusterIP} from pods.\nnameserver ${topo.underlay.gateway}\n`;
}

export function hostsFile(name: string, ip: string): string {
  return `# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${ip}\t${name}\n`;
}

/** The DNS server's configuration: the cluster's zone, what CoreDNS's kubernetes plugin serves. */
export function dnsConfig(topo: Topology): string {
  const d = topo.dns.domain;
  const lines = [
    '# Shared by the CoreDNS pods, like the coredns ConfigMap. Restart them after editing:',
    '#   lab restart kube-system/coredns',
    'no-resolv', 'no-hosts', 'no-poll', 'log-queries', 'local-ttl=5',
    `local=/${d}/`,
    // Reverse zones answer locally as CoreDNS does for in-cluster ranges.
    'local=/10.in-addr.arpa/',
  ];
  for (const s of topo.services) lines.push(`host-record=${s.name}.${s.namespace}.svc.${d},${s.clusterIP}`);
  for (const p of topo.pods) lines.push(`host-record=${p.ip.replaceAll('.', '-')}.${p.namespace}.pod.${d},${p.ip}`);
  return lines.join('\n') + '\n';
}

/** The command that runs a pod's workload (argv, run through the lab's `enter` script). */
export function appCommand(pod: PodSpec, dir: string): string[] | undefined {
  const key = netnsOf(podTarget(pod));
  switch (pod.app) {
    case 'coredns':
      return ['dnsmasq', '--keep-in-foreground', `--conf-file=${dir}/etc/coredns/dnsmasq.conf`, `--listen-address=${pod.ip}`,
        '--bind-interfaces', '--user=root', '--group=', `--pid-file=${dir}/run/${key}.pid`, `--log-facility=${dir}/logs/${key}.log`];
    case 'web':
      return ['python3', WEB_PY, pod.ip, '8080', pod.name, ...ADMIN_PORTS.map(String)];
    case 'client':
      return undefined;
  }
}

/** A line the workload prints (to its log) once it serves; readiness waits for it. */
export function readyMarker(pod: PodSpec): string | undefined {
  return pod.app === 'coredns' ? 'started, version' : pod.app === 'web' ? 'ready' : undefined;
}

/** Files the lab keeps in its directory, relative path → content. */
export function labFiles(topo: Topology, dir: string, running: Set<string>): Record<string, string> {
  const files: Record<string, string> = {
    'etc/coredns/dnsmasq.conf': dnsConfig(topo),
    'etc/kube-proxy.rules': kubeProxyRules(topo, running),
    'bin/enter': enterScript(dir),
  };
  for (const n of topo.nodes) {
    files[`etc/${n.name}/target`] = n.name;
    files[`etc/${n.name}/hostname`] = n.name;
    files[`etc/${n.name}/resolv.conf`] = nodeResolvConf(topo);
    files[`etc/${n.name}/hosts`] = hostsFile(n.name, n.ip);
  }
  for (const p of topo.pods) {
    const key = netnsOf(podTarget(p));
    files[`etc/${key}/target`] = podTarget(p);
    files[`etc/${key}/hostname`] = p.name;
    files[`etc/${key}/resolv.conf`] = resolvConf(topo, p.namespace);
    files[`etc/${key}/hosts`] = hostsFile(p.name, p.ip);
  }
  return files;
}

/**
 * `enter <netns> <argv...>`: the one way into a target, used by exec, shells, probes and workloads.
 * Gives the command the target's network namespace, its hostname, resolv.conf and hosts, as a
 * container would have; the mounts live in a mount namespace of their own and vanish with it.
 */
export function enterScript(dir: string): string {
  return `#!/bin/sh
set -e
ns=$1; shift
export PATH="${dir}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NETDOJO_TARGET=$(cat "${dir}/etc/$ns/target"); export NETDOJO_TARGET
exec ip netns exec "$ns" unshare --uts -- sh -c '
  cat "$1/hostname" > /proc/sys/kernel/hostname
  mount --bind "$1/resolv.conf" /etc/resolv.conf
  mount --bind "$1/hosts" /etc/hosts
  shift; exec "$@"' enter "${dir}/etc/$ns" "$@"
`;
}

const heredoc = (cmd: string, body: string[]) => `${cmd} <<'NETDOJO_EOF'\n${body.join('\n')}\nNETDOJO_EOF`;

/** Shell that starts a pod's workload, detached, logging to the lab's log directory. */
export function startAppScript(pod: PodSpec, dir: string): string {
  const argv = appCommand(pod, dir);
  if (!argv) return '';
  const key = netnsOf(podTarget(pod));
  return `: > "${dir}/logs/${key}.log"\nsetsid -f "${dir}/bin/enter" ${key} ${argv.map(shq).join(' ')} >>"${dir}/logs/${key}.log" 2>&1 </dev/null`;
}

/** Shell that waits (bounded) until each pod's workload reports it serves. */
export function waitReadyScript(pods: PodSpec[], dir: string, timeoutMs = 10_000): string {
  const waits = pods.flatMap((p) => {
    const marker = readyMarker(p);
    if (!marker) return [];
    const log = `${dir}/logs/${netnsOf(podTarget(p))}.log`;
    return [`until grep -q '${marker}' "${log}" 2>/dev/null; do
  [ $(( $(date +%s%N) / 1000000 )) -lt $deadline ] || { echo "${podTarget(p)} did not start:" >&2; tail -5 "${log}" >&2; exit 1; }
  sleep 0.005
done`];
  });
  return waits.length ? [`deadline=$(( $(date +%s%N) / 1000000 + ${timeoutMs} ))`, ...waits].join('\n') : '';
}

/** Shell that stops a pod's workload: every process in its network namespace, like deleting the pod. */
export function stopPodScript(pod: PodSpec): string {
  const ns = netnsOf(podTarget(pod));
  return `for pid in $(ip netns pids ${ns}); do kill -9 $pid 2>/dev/null || true; done
while [ -n "$(ip netns pids ${ns})" ]; do sleep 0.005; done`;
}

/** Shell that rewrites kube-proxy's chains on every node from the rules file. */
export function syncRulesScript(topo: Topology, dir: string, withJumps: boolean): string {
  return topo.nodes.map((n) =>
    `ip netns exec ${n.name} sh -c ${sq(`${withJumps ? `${ensureJumpsScript()}\n` : ''}iptables-restore -w --noflush < "${dir}/etc/kube-proxy.rules"`)}`).join('\n');
}

/** The whole lab, built inside its sandbox: namespaces, links, routes, sysctls, rules, workloads. */
export function setupScript(topo: Topology, dir: string, running: Set<string>): string {
  const u = topo.underlay;
  const out: string[] = ['set -euo pipefail', `mkdir -p "${dir}/logs" "${dir}/run"`];
  out.push(heredoc('ip -batch -', [...topo.nodes.map((n) => `netns add ${n.name}`), ...topo.pods.map((p) => `netns add ${netnsOf(podTarget(p))}`)]));
  // The sandbox's own namespace plays the host side of kind's docker network.
  out.push(heredoc('ip -batch -', [
    'link set lo up',
    `link add underlay mtu ${u.mtu} type bridge`,
    `addr add ${u.gateway}/${prefixLen(u.cidr)} dev underlay`,
    'link set underlay up',
    ...topo.nodes.flatMap((n) => [
      `link add ${veth(n.name)} mtu ${u.mtu} type veth peer name eth0 netns ${n.name}`,
      `link set ${veth(n.name)} master underlay up`,
    ]),
  ]));
  out.push('sysctl -qw net.ipv4.ip_forward=0');
  for (const n of topo.nodes) {
    const peers = topo.nodes.filter((o) => o.name !== n.name);
    out.push(heredoc(`ip -n ${n.name} -batch -`, [
      'link set lo up',
      `link set eth0 mtu ${u.mtu} up`,
      `addr add ${n.ip}/${prefixLen(u.cidr)} dev eth0`,
      `link add cni0 mtu ${u.mtu} type bridge`,
      `addr add ${gatewayOf(n.podCIDR)}/24 dev cni0`,
      'link set cni0 up',
      // kindnet's host-gw routes to every other node's podCIDR.
      ...peers.map((o) => `route add ${o.podCIDR} via ${o.ip} dev eth0`),
      `route add default via ${u.gateway} dev eth0`,
      ...podsOn(topo, n.name).flatMap((p) => {
        const v = veth(podTarget(p));
        return [
          `link add ${v} mtu ${u.mtu} type veth peer name eth0 netns ${netnsOf(podTarget(p))}`,
          `link set ${v} master cni0 up`,
          // kubelet's --hairpin-mode=hairpin-veth: a pod can reach itself through its Service.
          `link set ${v} type bridge_slave hairpin on`,
        ];
      }),
    ]));
  }
  for (const p of topo.pods) {
    const node = topo.nodes.find((n) => n.name === p.node)!;
    out.push(heredoc(`ip -n ${netnsOf(podTarget(p))} -batch -`, [
      'link set lo up',
      `addr add ${p.ip}/24 dev eth0`,
      'link set eth0 up',
      `route add default via ${gatewayOf(node.podCIDR)} dev eth0`,
    ]));
  }
  // New namespaces inherit IPv4 settings from wherever they were made: set what a kind node has.
  for (const n of topo.nodes) {
    out.push(`ip netns exec ${n.name} sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 net.bridge.bridge-nf-call-iptables=1`);
    out.push(heredoc(`ip netns exec ${n.name} iptables-restore -w`, [kubeProxyRules(topo, running, true)]));
  }
  const started = topo.pods.filter((p) => running.has(podTarget(p)));
  for (const p of started) out.push(startAppScript(p, dir));
  out.push(waitReadyScript(started, dir));
  return out.filter(Boolean).join('\n') + '\n';
}
