import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import type { KubeObject } from '../object.ts';

// What CoreDNS's kubernetes plugin answers for a cluster's Services, EndpointSlices and Pods
// (coredns plugin/kubernetes: kubernetes.go findServices/findPods, reverse.go, object/endpoint.go),
// as data, and the files the lab's CoreDNS (server/workloads/coredns.py) serves them from:
//   domain          the cluster domain the names are in
//   hosts/services  A/AAAA for Services and endpoints (a dnsmasq hostsdir: re-read on change)
//   pods/pods       A/AAAA for pods, served unless the Corefile says `pods disabled` (hostsdir too)
//   records.conf    SRV and CNAME (dnsmasq configuration: the DNS server restarts when it changes)
// PTR answers come from the hosts files: dnsmasq answers a reverse query with the first name on
// the address's line, so the line starts with the name CoreDNS would answer.

export type DnsRecord =
  | { type: 'A' | 'AAAA'; name: string; address: string }
  | { type: 'CNAME'; name: string; target: string }
  | { type: 'SRV'; name: string; target: string; port: number; priority: number; weight: number }
  | { type: 'PTR'; name: string; target: string };

export interface ClusterRecords {
  domain: string;
  /** Names under `svc.<domain>`, with the SRV, CNAME and PTR records that go with them. */
  services: DnsRecord[];
  /** `a-b-c-d.<ns>.pod.<domain>` for each pod IP (CoreDNS `pods insecure|verified`). */
  pods: DnsRecord[];
}

export interface RecordSources {
  services: KubeObject[];
  endpointSlices: KubeObject[];
  pods: KubeObject[];
  /** The cluster domain, `cluster.local` unless the cluster says otherwise. */
  domain?: string;
}

interface ServicePort { name?: string; port: number; protocol?: string }
interface ServiceSpec {
  type?: string; clusterIP?: string; clusterIPs?: string[]; externalName?: string;
  ports?: ServicePort[]; publishNotReadyAddresses?: boolean;
}
interface SliceEndpoint { addresses?: string[]; hostname?: string; conditions?: { ready?: boolean } }
interface SlicePort { name?: string; port?: number; protocol?: string }
interface EndpointAddress { ip: string; hostname: string }

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

const family = (ip: string): 'A' | 'AAAA' => (ip.includes(':') ? 'AAAA' : 'A');

/** The label CoreDNS gives an endpoint: its hostname, else its IP with dashes (endpointHostname). */
const dashed = (ip: string) => ip.replaceAll(ip.includes(':') ? ':' : '.', '-');

/** The in-addr.arpa / ip6.arpa name of an address. */
export function reverseName(ip: string): string {
  if (!ip.includes(':')) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  const [head, tail = ''] = ip.split('::');
  const groups = (s: string) => (s ? s.split(':') : []);
  const missing = 8 - groups(head).length - groups(tail).length;
  const full = [...groups(head), ...Array<string>(ip.includes('::') ? missing : 0).fill('0'), ...groups(tail)];
  return `${full.map((g) => g.padStart(4, '0')).join('').split('').reverse().join('.')}.ip6.arpa`;
}

/** Ready endpoint addresses of a Service, from all its EndpointSlices (IPv4 and IPv6 only). */
function endpointAddresses(svc: KubeObject, slices: KubeObject[]): { addresses: EndpointAddress[]; ports: SlicePort[] } {
  const spec = svc.spec as ServiceSpec;
  const addresses: EndpointAddress[] = [];
  let ports: SlicePort[] = [];
  for (const slice of slices) {
    if (slice.metadata.namespace !== svc.metadata.namespace || slice.metadata.labels?.[SERVICE_NAME_LABEL] !== svc.metadata.name) continue;
    if (slice.addressType === 'FQDN') continue;
    ports = (slice.ports as SlicePort[] | undefined) ?? ports;
    for (const ep of (slice.endpoints as SliceEndpoint[] | undefined) ?? []) {
      // A missing `ready` means ready; publishNotReadyAddresses publishes the others too.
      if (ep.conditions?.ready === false && !spec.publishNotReadyAddresses) continue;
      for (const ip of ep.addresses ?? []) addresses.push({ ip, hostname: ep.hostname || dashed(ip) });
    }
  }
  return { addresses, ports };
}

/** SRV weights as CoreDNS spreads them: 100 shared by the records answering one name. */
function srvGroup(name: string, entries: { target: string; port: number }[]): DnsRecord[] {
  const weight = Math.floor(100 / entries.length);
  return entries.map((e) => ({ type: 'SRV', name, target: e.target, port: e.port, priority: 0, weight }));
}

const srvLabel = (port: { name?: string; protocol?: string }) => `_${port.name}._${(port.protocol ?? 'TCP').toLowerCase()}`;

function serviceRecords(svc: KubeObject, slices: KubeObject[], domain: string): DnsRecord[] {
  const spec = (svc.spec ?? {}) as ServiceSpec;
  const fqdn = `${svc.metadata.name}.${svc.metadata.namespace}.svc.${domain}`;
  // ExternalName: a CNAME, no endpoints, no SRV. The API accepts an IPv4 address there (it is a
  // valid DNS subdomain), but CoreDNS answers only a name that does not parse as an IP (msg.Service
  // HostType), so such a Service does not exist in DNS: NXDOMAIN.
  if (spec.type === 'ExternalName') {
    return spec.externalName && !isIP(spec.externalName) ? [{ type: 'CNAME', name: fqdn, target: spec.externalName.replace(/\.$/, '') }] : [];
  }
  const records: DnsRecord[] = [];
  const { addresses, ports: slicePorts } = endpointAddresses(svc, slices);
  const endpointName = (a: EndpointAddress) => `${a.hostname}.${fqdn}`;
  // Every endpoint answers under its own name, headless or not (`<endpoint>.<svc>.<ns>.svc`).
  for (const a of addresses) records.push({ type: family(a.ip), name: endpointName(a), address: a.ip });

  const headless = spec.clusterIP === 'None';
  if (headless) {
    for (const a of addresses) records.push({ type: family(a.ip), name: fqdn, address: a.ip });
    const named = slicePorts.filter((p) => p.name && p.port !== undefined);
    for (const p of named) {
      records.push(...srvGroup(`${srvLabel(p)}.${fqdn}`, addresses.map((a) => ({ target: endpointName(a), port: p.port! }))));
    }
    const all = slicePorts.filter((p) => p.port !== undefined).flatMap((p) => addresses.map((a) => ({ target: endpointName(a), port: p.port! })));
    if (all.length) records.push(...srvGroup(fqdn, all));
  } else {
    // A ClusterIP Service answers only through its ports: one without ports has no records.
    const ports = spec.ports ?? [];
    const ips = spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
    if (ports.length) {
      for (const ip of ips) records.push({ type: family(ip), name: fqdn, address: ip });
      for (const p of ports.filter((p) => p.name)) records.push(...srvGroup(`${srvLabel(p)}.${fqdn}`, [{ target: fqdn, port: p.port }]));
      records.push(...srvGroup(fqdn, ports.map((p) => ({ target: fqdn, port: p.port }))));
    }
    for (const ip of ips) records.push({ type: 'PTR', name: reverseName(ip), target: fqdn });
  }
  for (const a of addresses) records.push({ type: 'PTR', name: reverseName(a.ip), target: endpointName(a) });
  return records;
}

function podRecords(pod: KubeObject, domain: string): DnsRecord[] {
  const status = (pod.status ?? {}) as { podIP?: string; podIPs?: { ip: string }[] };
  const ips = status.podIPs?.length ? status.podIPs.map((p) => p.ip) : status.podIP ? [status.podIP] : [];
  return ips.map((ip) => ({ type: family(ip), name: `${dashed(ip)}.${pod.metadata.namespace}.pod.${domain}`, address: ip }));
}

const byNamespaceAndName = (a: KubeObject, b: KubeObject) =>
  `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`);

/** Everything the kubernetes plugin answers for these objects. */
export function clusterRecords(src: RecordSources): ClusterRecords {
  const domain = (src.domain ?? 'cluster.local').replace(/\.$/, '');
  const services = [...src.services].sort(byNamespaceAndName).flatMap((s) => serviceRecords(s, src.endpointSlices, domain));
  const seen = new Set<string>();
  const pods = [...src.pods].sort(byNamespaceAndName).flatMap((p) => podRecords(p, domain)).filter((r) => {
    const key = `${r.name} ${'address' in r ? r.address : ''}`;
    return !seen.has(key) && (seen.add(key), true);
  });
  return { domain, services, pods };
}

/** hostsdir lines: one per address, the PTR target first, then its other names. */
function hostsFile(records: DnsRecord[], ptrs: Map<string, string>): string {
  const names = new Map<string, string[]>();
  for (const r of records) {
    if (r.type !== 'A' && r.type !== 'AAAA') continue;
    const list = names.get(r.address) ?? names.set(r.address, []).get(r.address)!;
    if (!list.includes(r.name)) list.push(r.name);
  }
  const lines = [...names].map(([ip, list]) => {
    const first = ptrs.get(reverseName(ip));
    const ordered = first && list.includes(first) ? [first, ...list.filter((n) => n !== first)] : list;
    return `${ip} ${ordered.join(' ')}`;
  });
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/** The files of a records directory, relative path → content. */
export function renderRecordFiles(records: ClusterRecords): Record<string, string> {
  const ptrs = new Map<string, string>();
  for (const r of records.services) if (r.type === 'PTR' && !ptrs.has(r.name)) ptrs.set(r.name, r.target);
  const conf = records.services.flatMap((r) =>
    r.type === 'SRV' ? [`srv-host=${r.name},${r.target},${r.port},${r.priority},${r.weight}`]
      : r.type === 'CNAME' ? [`cname=${r.name},${r.target}`] : []);
  return {
    domain: `${records.domain}\n`,
    'hosts/services': hostsFile(records.services, ptrs),
    'pods/pods': hostsFile(records.pods, new Map()),
    'records.conf': conf.length ? `${conf.join('\n')}\n` : '',
  };
}

/**
 * Writes the files into a records directory, each replaced atomically (dnsmasq must never read a
 * half-written hosts file) and only when its content changed (a changed records.conf restarts the
 * DNS server). Returns the paths that changed.
 */
export async function writeRecordFiles(dir: string, files: Record<string, string>): Promise<string[]> {
  const changed: string[] = [];
  for (const [path, content] of Object.entries(files)) {
    const target = join(dir, path);
    const current = await readFile(target, 'utf8').catch(() => undefined);
    if (current === content) continue;
    await mkdir(dirname(target), { recursive: true });
    const tmp = join(dir, `.${path.replaceAll('/', '_')}.tmp`);
    await writeFile(tmp, content);
    await rename(tmp, target);
    changed.push(path);
  }
  return changed;
}
