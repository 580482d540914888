import { join } from 'node:path';
import type { Topology } from '../../lab/types.ts';
import { INTERNET, LAPTOP, SITES } from '../../lab/world.ts';
import type { Announcement } from '../../cluster/loadbalancer/controller.ts';
import { sq } from '../../util/shell.ts';

// The world outside a netns lab's cluster, in the lab's sandbox (see lab/world.ts). The sandbox's own
// network namespace is the host: the nodes' "docker network" bridge (`underlay`) is its, and it
// routes, as a Docker host does, between that network, the laptop's link and the internet's, and
// masquerades what the nodes send to the internet (Docker's MASQUERADE for its networks). Its DNS
// server answers on the bridge's gateway (the nameserver in the nodes' resolv.conf, where Docker's
// embedded DNS answers on a kind node) and on the laptop's gateway: node names and the sites, and
// NXDOMAIN for every other name, since no query ever leaves. The internet is one namespace holding
// every site's address, served by nginx; whatever else is sent its way dies there, unanswered, as
// packets to unrouted addresses do out there.

const heredoc = (cmd: string, body: string[]) => `${cmd} <<'NETDOJO_EOF'\n${body.join('\n')}\nNETDOJO_EOF`;

/** The world's files in the lab directory, and where its servers keep their state. */
export const worldDir = (labDir: string) => join(labDir, 'world');

/** A proto number of the routing table's own: the routes that deliver load-balancer addresses. */
const LB_ROUTE_PROTO = 77;

export function dnsmasqConf(topo: Topology, dir: string): string {
  return [
    'no-resolv', 'no-hosts', 'no-poll', 'bind-interfaces', 'user=root', 'group=',
    `pid-file=${join(dir, 'dnsmasq.pid')}`,
    `listen-address=${topo.underlay.gateway}`, `listen-address=${LAPTOP.gateway}`,
    ...topo.nodes.map((n) => `host-record=${n.name},${n.ip}`),
    // Names it knows answer their address (and no AAAA, the sites being IPv4 only)...
    ...SITES.map((s) => `host-record=${s.names.join(',')},${s.ip}`),
    // ...and any other name does not exist: an empty address for every domain answers NXDOMAIN.
    'address=/#/',
    '',
  ].join('\n');
}

export function nginxConf(dir: string): string {
  const server = (s: (typeof SITES)[number]) => [
    '    server {',
    `        listen ${s.ip}:80;`,
    `        server_name ${s.names.flatMap((n) => [n, `*.${n}`]).join(' ')};`,
    `        default_type ${s.type};`,
    `        location = / { return 200 ${JSON.stringify(s.page)}; }`,
    // Who answered, as the lab's own servers say it (the grader's identity check).
    `        location = /hostname { default_type text/plain; return 200 ${JSON.stringify(s.names[0])}; }`,
    '        location / { return 404; }',
    '    }',
  ].join('\n');
  return `# The internet's web servers (one per site address).
user root;
worker_processes 1;
error_log ${join(dir, 'nginx-error.log')} notice;
pid ${join(dir, 'nginx.pid')};
events { worker_connections 256; }
http {
    access_log ${join(dir, 'nginx-access.log')};
    client_body_temp_path ${join(dir, 'nginx-tmp')};
    proxy_temp_path ${join(dir, 'nginx-tmp')};
    fastcgi_temp_path ${join(dir, 'nginx-tmp')};
    uwsgi_temp_path ${join(dir, 'nginx-tmp')};
    scgi_temp_path ${join(dir, 'nginx-tmp')};
    server_tokens off;
${SITES.map(server).join('\n')}
}
`;
}

/** What builds the world, run in the sandbox after the nodes are built; `dir` holds its files. */
export function worldScript(topo: Topology, dir: string): string {
  const u = topo.underlay;
  const prefix = u.cidr.split('/')[1];
  return [
    'sysctl -qw net.ipv4.ip_forward=1',
    heredoc('ip -batch -', [
      `netns add ${LAPTOP.name}`, 'netns add internet',
      `link add ${LAPTOP.name} type veth peer name eth0 netns ${LAPTOP.name}`,
      `addr add ${LAPTOP.gateway}/${LAPTOP.prefixLen} dev ${LAPTOP.name}`, `link set ${LAPTOP.name} up`,
      'link add internet type veth peer name eth0 netns internet',
      `addr add ${INTERNET.routerIP}/${INTERNET.prefixLen} dev internet`, 'link set internet up',
      `route add default via ${INTERNET.edgeIP} dev internet`,
    ]),
    heredoc(`ip -n ${LAPTOP.name} -batch -`, [
      'link set lo up', `addr add ${LAPTOP.ip}/${LAPTOP.prefixLen} dev eth0`, 'link set eth0 up', `route add default via ${LAPTOP.gateway}`,
    ]),
    heredoc('ip -n internet -batch -', [
      'link set lo up', `addr add ${INTERNET.edgeIP}/${INTERNET.prefixLen} dev eth0`,
      ...SITES.map((s) => `addr add ${s.ip}/${INTERNET.prefixLen} dev eth0`),
      'link set eth0 up', `route add default via ${INTERNET.routerIP}`,
    ]),
    // New namespaces take the machine's IPv4 settings. The internet forwards nothing (what is not for
    // one of its sites is lost there), and neither does a laptop.
    'ip netns exec internet sysctl -qw net.ipv4.ip_forward=0',
    `ip netns exec ${LAPTOP.name} sysctl -qw net.ipv4.ip_forward=0`,
    heredoc('iptables-restore -w --noflush', [
      '*nat',
      `-A POSTROUTING -s ${u.cidr.replace(/\/\d+$/, '')}/${prefix} ! -o underlay -j MASQUERADE`,
      'COMMIT', '',
    ]),
    `mkdir -p ${sq(join(dir, 'nginx-tmp'))}`,
    `dnsmasq --conf-file=${sq(join(dir, 'dnsmasq.conf'))}`,
    `ip netns exec internet nginx -c ${sq(join(dir, 'nginx.conf'))} -p ${sq(dir + '/')}`,
  ].join('\n') + '\n';
}

/** Routes load-balancer addresses to the nodes that announce them, replacing the previous set. */
export function announceScript(topo: Topology, announcements: Announcement[]): string {
  const ipOf = new Map(topo.nodes.map((n) => [n.name, n.ip]));
  return heredoc('ip -batch -', [
    `route flush proto ${LB_ROUTE_PROTO}`,
    ...announcements.filter((a) => ipOf.has(a.node)).map((a) => `route replace ${a.ip}/32 via ${ipOf.get(a.node)} dev underlay proto ${LB_ROUTE_PROTO}`),
  ]) + '\n';
}
