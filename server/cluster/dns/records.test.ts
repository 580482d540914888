import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../object.ts';
import { clusterRecords, renderRecordFiles, reverseName, writeRecordFiles, type DnsRecord } from './records.ts';

const service = (namespace: string, name: string, spec: Record<string, unknown>): KubeObject => ({
  apiVersion: 'v1', kind: 'Service', metadata: { namespace, name, uid: `uid-${name}` }, spec,
});

const slice = (namespace: string, service: string, endpoints: unknown[], ports: unknown[]): KubeObject => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
  metadata: { namespace, name: `${service}-abc12`, labels: { 'kubernetes.io/service-name': service, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' } },
  endpoints, ports,
});

const pod = (namespace: string, name: string, ip: string): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { namespace, name }, spec: { nodeName: 'worker' },
  status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
});

const endpoint = (ip: string, extra: Record<string, unknown> = {}) => ({
  addresses: [ip], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'worker',
  targetRef: { kind: 'Pod', namespace: 'default', name: `pod-${ip}` }, ...extra,
});

const web = service('default', 'web', {
  type: 'ClusterIP', clusterIP: '10.96.12.34', clusterIPs: ['10.96.12.34'], selector: { app: 'web' },
  ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }, { name: 'metrics', port: 9090, protocol: 'TCP' }],
});
const webSlice = slice('default', 'web', [endpoint('10.244.1.5'), endpoint('10.244.1.6', { conditions: { ready: false } })],
  [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'metrics', port: 9090, protocol: 'TCP' }]);

// A StatefulSet's governing Service: the EndpointSlice controller copies pod hostnames.
const db = service('data', 'db', { clusterIP: 'None', clusterIPs: ['None'], selector: { app: 'db' }, ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] });
const dbSlice = slice('data', 'db', [endpoint('10.244.0.7', { hostname: 'db-0' }), endpoint('10.244.1.8', { hostname: 'db-1' })],
  [{ name: 'pg', port: 5432, protocol: 'TCP' }]);

const find = (records: DnsRecord[], name: string, type?: DnsRecord['type']) =>
  records.filter((r) => r.name === name && (!type || r.type === type));

describe('clusterRecords', () => {
  const records = clusterRecords({
    services: [web, db, service('default', 'search', { type: 'ExternalName', externalName: 'search.example.com.' })],
    endpointSlices: [webSlice, dbSlice],
    pods: [pod('default', 'web-1', '10.244.1.5'), pod('kube-system', 'coredns-1', '10.244.0.3')],
  });

  it('answers a ClusterIP Service with its ClusterIP, and its ready endpoints by dashed IP', () => {
    expect(find(records.services, 'web.default.svc.cluster.local', 'A')).toEqual([{ type: 'A', name: 'web.default.svc.cluster.local', address: '10.96.12.34' }]);
    expect(find(records.services, '10-244-1-5.web.default.svc.cluster.local', 'A')).toHaveLength(1);
    expect(find(records.services, '10-244-1-6.web.default.svc.cluster.local')).toEqual([]);
  });

  it('gives SRV per named port (target the Service) and for the bare name, weights shared', () => {
    expect(find(records.services, '_http._tcp.web.default.svc.cluster.local', 'SRV')).toEqual([
      { type: 'SRV', name: '_http._tcp.web.default.svc.cluster.local', target: 'web.default.svc.cluster.local', port: 80, priority: 0, weight: 100 },
    ]);
    expect(find(records.services, 'web.default.svc.cluster.local', 'SRV').map((r) => r.type === 'SRV' && [r.port, r.weight])).toEqual([[80, 50], [9090, 50]]);
  });

  it('answers a headless Service with the endpoints, by their hostnames, SRV to each', () => {
    expect(find(records.services, 'db.data.svc.cluster.local', 'A').map((r) => r.type === 'A' && r.address)).toEqual(['10.244.0.7', '10.244.1.8']);
    expect(find(records.services, 'db-1.db.data.svc.cluster.local', 'A')).toEqual([{ type: 'A', name: 'db-1.db.data.svc.cluster.local', address: '10.244.1.8' }]);
    expect(find(records.services, '_pg._tcp.db.data.svc.cluster.local', 'SRV')).toEqual([
      { type: 'SRV', name: '_pg._tcp.db.data.svc.cluster.local', target: 'db-0.db.data.svc.cluster.local', port: 5432, priority: 0, weight: 50 },
      { type: 'SRV', name: '_pg._tcp.db.data.svc.cluster.local', target: 'db-1.db.data.svc.cluster.local', port: 5432, priority: 0, weight: 50 },
    ]);
  });

  it('publishes not-ready endpoints only when the Service asks for it', () => {
    const publish = { ...db, spec: { ...(db.spec as object), publishNotReadyAddresses: true } };
    const notReady = slice('data', 'db', [endpoint('10.244.0.7', { hostname: 'db-0', conditions: { ready: false } })], []);
    expect(find(clusterRecords({ services: [db], endpointSlices: [notReady], pods: [] }).services, 'db.data.svc.cluster.local')).toEqual([]);
    expect(find(clusterRecords({ services: [publish], endpointSlices: [notReady], pods: [] }).services, 'db.data.svc.cluster.local', 'A')).toHaveLength(1);
  });

  it('answers ExternalName with a CNAME and nothing else', () => {
    expect(find(records.services, 'search.default.svc.cluster.local')).toEqual([{ type: 'CNAME', name: 'search.default.svc.cluster.local', target: 'search.example.com' }]);
  });

  it('has no record for an ExternalName that is an IP address, as CoreDNS (the API accepts one)', () => {
    const pinned = service('default', 'pinned', { type: 'ExternalName', externalName: '203.0.113.10' });
    expect(find(clusterRecords({ services: [pinned], endpointSlices: [], pods: [] }).services, 'pinned.default.svc.cluster.local')).toEqual([]);
  });

  it('has PTR for ClusterIPs and endpoint IPs (the endpoint name, as CoreDNS answers)', () => {
    expect(find(records.services, '34.12.96.10.in-addr.arpa', 'PTR')).toEqual([{ type: 'PTR', name: '34.12.96.10.in-addr.arpa', target: 'web.default.svc.cluster.local' }]);
    expect(find(records.services, '7.0.244.10.in-addr.arpa', 'PTR').map((r) => r.type === 'PTR' && r.target)).toEqual(['db-0.db.data.svc.cluster.local']);
  });

  it('names pods a-b-c-d.<namespace>.pod.<domain>', () => {
    expect(records.pods).toEqual([
      { type: 'A', name: '10-244-1-5.default.pod.cluster.local', address: '10.244.1.5' },
      { type: 'A', name: '10-244-0-3.kube-system.pod.cluster.local', address: '10.244.0.3' },
    ]);
  });

  it('follows the cluster domain and dual-stack ClusterIPs', () => {
    const dual = service('default', 'v6', { clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.20', 'fd00:10:96::14'], ports: [{ port: 53, protocol: 'UDP' }] });
    const r = clusterRecords({ services: [dual], endpointSlices: [], pods: [], domain: 'lab.example.' });
    expect(find(r.services, 'v6.default.svc.lab.example').map((x) => x.type)).toEqual(['A', 'AAAA', 'SRV']);
    expect(reverseName('fd00:10:96::14')).toBe('4.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa');
  });

  it('has no records for a ClusterIP Service without ports, as CoreDNS', () => {
    const bare = service('default', 'bare', { clusterIP: '10.96.0.30', clusterIPs: ['10.96.0.30'] });
    expect(find(clusterRecords({ services: [bare], endpointSlices: [], pods: [] }).services, 'bare.default.svc.cluster.local')).toEqual([]);
  });
});

describe('renderRecordFiles', () => {
  const files = renderRecordFiles(clusterRecords({ services: [web, db], endpointSlices: [webSlice, dbSlice], pods: [pod('default', 'web-1', '10.244.1.5')] }));

  it('writes hosts lines with the PTR name first, and SRV as dnsmasq configuration', () => {
    expect(files.domain).toBe('cluster.local\n');
    expect(files['hosts/services'].split('\n')).toContain('10.96.12.34 web.default.svc.cluster.local');
    expect(files['hosts/services'].split('\n')).toContain('10.244.0.7 db-0.db.data.svc.cluster.local db.data.svc.cluster.local');
    expect(files['pods/pods']).toBe('10.244.1.5 10-244-1-5.default.pod.cluster.local\n');
    expect(files['records.conf'].split('\n')).toContain('srv-host=_pg._tcp.db.data.svc.cluster.local,db-0.db.data.svc.cluster.local,5432,0,50');
  });
});

describe('writeRecordFiles', () => {
  let dir = '';
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('replaces only the files whose content changed', async () => {
    dir = await mkdtemp(join(tmpdir(), 'records-'));
    expect(await writeRecordFiles(dir, { domain: 'cluster.local\n', 'hosts/services': 'a\n' })).toEqual(['domain', 'hosts/services']);
    expect(await writeRecordFiles(dir, { domain: 'cluster.local\n', 'hosts/services': 'b\n' })).toEqual(['hosts/services']);
    expect(await readFile(join(dir, 'hosts/services'), 'utf8')).toBe('b\n');
  });
});
