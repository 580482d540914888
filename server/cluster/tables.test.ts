import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KIND_NAMES, type KindName } from './kinds.ts';
import type { KubeObject } from './object.ts';
import { humanDuration } from './printers/format.ts';
import { formatLabelSelector, selectorString } from './printers/selectors.ts';
import { toTable, type Table } from './tables.ts';

const NOW = new Date('2025-06-01T12:00:00Z');

const fixtures = (file: string): Record<string, KubeObject> =>
  JSON.parse(readFileSync(new URL(`../../test/fixtures/tables/${file}.json`, import.meta.url), 'utf8'));

const pods = fixtures('pods');
const nodes = fixtures('nodes');
const services = fixtures('services');
const endpoints = fixtures('endpoints');
const config = fixtures('config');
const events = fixtures('events');
const apps = fixtures('apps');
const networking = fixtures('networking');

const cells = (kind: KindName, object: KubeObject) => toTable(kind, [object], { now: NOW }).rows[0].cells;

/** Column names as kubectl uppercases them, "*" marking the -o wide (priority 1) ones. */
const header = (table: Table) => table.columnDefinitions.map((c) => `${c.name}${c.priority === 1 ? '*' : ''}`);

describe('humanDuration (duration.HumanDuration)', () => {
  const s = 1000;
  const m = 60 * s;
  const h = 60 * m;
  const d = 24 * h;
  it.each([
    [0, '0s'],
    [-1500, '0s'],
    [-2 * s, '<invalid>'],
    [5 * s, '5s'],
    [119 * s + 999, '119s'],
    [2 * m, '2m'],
    [3 * m + 2 * s, '3m2s'],
    [9 * m + 59 * s, '9m59s'],
    [10 * m + 30 * s, '10m'],
    [179 * m, '179m'],
    [3 * h, '3h'],
    [5 * h + 2 * m, '5h2m'],
    [7 * h + 59 * m, '7h59m'],
    [8 * h + 30 * m, '8h'],
    [47 * h, '47h'],
    [48 * h, '2d'],
    [3 * d + 4 * h, '3d4h'],
    [7 * d + 23 * h, '7d23h'],
    [8 * d + 5 * h, '8d'],
    [729 * d, '729d'],
    [730 * d, '2y'],
    [740 * d, '2y10d'],
    [8 * 365 * d, '8y'],
  ])('%d ms is %s', (ms, text) => expect(humanDuration(ms)).toBe(text));
});

describe('label selectors', () => {
  it('sorts requirements by key and values within in/notin', () => {
    expect(selectorString({
      matchLabels: { tier: 'web', app: 'shop' },
      matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod', 'dev'] }, { key: 'canary', operator: 'DoesNotExist' }, { key: 'zone', operator: 'Exists' }],
    })).toBe('app=shop,!canary,env notin (dev,prod),tier=web,zone');
  });

  it('prints an empty or absent selector as <none> and an invalid one as <error>', () => {
    expect(formatLabelSelector({})).toBe('<none>');
    expect(formatLabelSelector(undefined)).toBe('<none>');
    expect(formatLabelSelector({ matchExpressions: [{ key: 'app', operator: 'In', values: [] }] })).toBe('<error>');
    expect(formatLabelSelector({ matchExpressions: [{ key: 'app', operator: 'Exists', values: ['x'] }] })).toBe('<error>');
    expect(formatLabelSelector({ matchLabels: { 'bad key': 'x' } })).toBe('<error>');
    expect(formatLabelSelector({ matchLabels: { 'example.com/app': 'web' } })).toBe('example.com/app=web');
  });
});

describe('the Table envelope', () => {
  it('is a meta.k8s.io/v1 Table whose rows carry PartialObjectMetadata', () => {
    const table = toTable('Pod', [pods.coredns], { now: NOW, resourceVersion: '812', continue: 'eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ' });
    expect(table.kind).toBe('Table');
    expect(table.apiVersion).toBe('meta.k8s.io/v1');
    expect(table.metadata).toEqual({ resourceVersion: '812', continue: 'eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ' });
    expect(table.rows[0].object).toEqual({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: pods.coredns.metadata });
    expect(table.rows[0]).not.toHaveProperty('conditions');
    expect(table.columnDefinitions[0]).toEqual({
      name: 'Name', type: 'string', format: 'name', priority: 0,
      description: expect.stringContaining('Name must be unique within a namespace.'),
    });
  });

  it('leaves metadata empty when there is no resourceVersion or continue token', () => {
    expect(toTable('Namespace', [], { now: NOW }).metadata).toEqual({});
  });

  it('omits the column definitions with noHeaders, as watch events after the first do', () => {
    const table = toTable('Service', [services.kubernetes], { now: NOW, noHeaders: true });
    expect(table.columnDefinitions).toEqual([]);
    expect(table.rows[0].cells).toHaveLength(7);
  });

  it('carries the whole object with includeObject=Object (kubectl --sort-by)', () => {
    expect(toTable('Event', [events.backOff], { now: NOW, includeObject: 'Object' }).rows[0].object).toBe(events.backOff);
  });

  it('marks finished pods with a Completed row condition', () => {
    const [succeeded, failed] = toTable('Pod', [pods.completed, pods.failed], { now: NOW }).rows;
    expect(succeeded.conditions).toEqual([{ type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' }]);
    expect(failed.conditions).toEqual([{ type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' }]);
  });

  it.each(KIND_NAMES)('prints a %s with nothing but a name, one cell per column', (kind) => {
    const table = toTable(kind, [{ apiVersion: 'v1', kind, metadata: { name: 'x' } }], { now: NOW });
    expect(table.rows[0].cells).toHaveLength(table.columnDefinitions.length);
    expect(table.columnDefinitions.every((c) => c.description.length > 0)).toBe(true);
  });
});

describe('columns (upstream AddHandlers, normal and -o wide)', () => {
  it.each<[KindName, string[]]>([
    ['Namespace', ['Name', 'Status', 'Age']],
    ['Node', ['Name', 'Status', 'Roles', 'Age', 'Version', 'Internal-IP*', 'External-IP*', 'OS-Image*', 'Kernel-Version*', 'Container-Runtime*']],
    ['Pod', ['Name', 'Ready', 'Status', 'Restarts', 'Age', 'IP*', 'Node*', 'Nominated Node*', 'Readiness Gates*']],
    ['Service', ['Name', 'Type', 'Cluster-IP', 'External-IP', 'Port(s)', 'Age', 'Selector*']],
    ['Endpoints', ['Name', 'Endpoints', 'Age']],
    ['ConfigMap', ['Name', 'Data', 'Age']],
    ['Secret', ['Name', 'Type', 'Data', 'Age']],
    ['ServiceAccount', ['Name', 'Secrets', 'Age']],
    ['Event', ['Last Seen', 'Type', 'Reason', 'Object', 'Subobject*', 'Source*', 'Message', 'First Seen*', 'Count*', 'Name*']],
    ['Deployment', ['Name', 'Ready', 'Up-to-date', 'Available', 'Age', 'Containers*', 'Images*', 'Selector*']],
    ['ReplicaSet', ['Name', 'Desired', 'Current', 'Ready', 'Age', 'Containers*', 'Images*', 'Selector*']],
    ['DaemonSet', ['Name', 'Desired', 'Current', 'Ready', 'Up-to-date', 'Available', 'Node Selector', 'Age', 'Containers*', 'Images*', 'Selector*']],
    ['StatefulSet', ['Name', 'Ready', 'Age', 'Containers*', 'Images*']],
    ['EndpointSlice', ['Name', 'AddressType', 'Ports', 'Endpoints', 'Age']],
    ['NetworkPolicy', ['Name', 'Pod-Selector', 'Age']],
    ['Ingress', ['Name', 'Class', 'Hosts', 'Address', 'Ports', 'Age']],
    ['IngressClass', ['Name', 'Controller', 'Parameters', 'Age']],
  ])('%s', (kind, expected) => {
    expect(header(toTable(kind, [], { now: NOW }))).toEqual(expected);
  });

  it('types the cells as upstream declares them', () => {
    const types = (kind: KindName) => toTable(kind, [], { now: NOW }).columnDefinitions.map((c) => c.type);
    expect(types('Pod')).toEqual(Array(9).fill('string'));
    expect(types('ReplicaSet')).toEqual(['string', 'integer', 'integer', 'integer', 'string', 'string', 'string', 'string']);
    expect(types('DaemonSet').slice(1, 6)).toEqual(Array(5).fill('integer'));
  });
});

describe('Pod cells', () => {
  it.each<[string, unknown[]]>([
    ['coredns', ['coredns-674b8bbfcf-8xk2p', '1/1', 'Running', '0', '5d3h', '10.244.0.3', 'kind-control-plane', '<none>', '<none>']],
    ['crashLoop', ['web-7d9f8b6c5-x2mfz', '0/1', 'CrashLoopBackOff', '5 (75s ago)', '12m', '10.244.1.5', 'kind-worker', '<none>', '<none>']],
    ['imagePullBackOff', ['probe', '0/1', 'ImagePullBackOff', '0', '3m2s', '10.244.1.7', 'kind-worker', '<none>', '<none>']],
    ['containerCreating', ['client', '0/1', 'ContainerCreating', '0', '5s', '<none>', 'kind-worker', '<none>', '<none>']],
    ['unschedulable', ['big', '0/1', 'Pending', '0', '3h', '<none>', '<none>', 'kind-worker2', '<none>']],
    ['completed', ['migrate-9kq2w', '0/1', 'Completed', '0', '120m', '10.244.1.9', 'kind-worker', '<none>', '<none>']],
    ['failed', ['smoke', '0/1', 'Error', '0', '60m', '10.244.1.10', 'kind-worker', '<none>', '<none>']],
    ['killed', ['killed', '0/2', 'ExitCode:137', '0', '60m', '<none>', 'kind-worker', '<none>', '<none>']],
    ['initRunning', ['app-with-init', '0/1', 'Init:1/2', '0', '40s', '10.244.1.11', 'kind-worker', '<none>', '<none>']],
    ['initCrashLoop', ['app-init-crash', '0/1', 'Init:CrashLoopBackOff', '3 (3m ago)', '30m', '<none>', 'kind-worker', '<none>', '<none>']],
    ['sidecar', ['web-with-proxy', '2/2', 'Running', '1 (120m ago)', '24h', '10.244.1.12', 'kind-worker', '<none>', '1/2']],
    ['terminating', ['old-web', '1/1', 'Terminating', '0', '4h', '10.244.1.4', 'kind-worker', '<none>', '<none>']],
    ['nodeLost', ['stranded', '1/1', 'Unknown', '0', '4h', '10.244.1.3', 'kind-worker', '<none>', '<none>']],
    ['schedulingGated', ['gated', '0/1', 'SchedulingGated', '0', '60m', '<none>', '<none>', '<none>', '<none>']],
    ['bare', ['bare', '0/1', '', '0', '<unknown>', '<none>', '<none>', '<none>', '<none>']],
  ])('%s', (fixture, expected) => expect(cells('Pod', pods[fixture])).toEqual(expected));

  it('reports the first container whose state is not running, and a signal when there is no reason', () => {
    const pod = structuredClone(pods.killed);
    (pod.status as { containerStatuses: unknown[] }).containerStatuses.reverse();
    expect(cells('Pod', pod)[2]).toBe('Signal:9');
  });

  it('reads status.podIP when podIPs is absent, as the v1 conversion does', () => {
    const pod = structuredClone(pods.coredns);
    delete (pod.status as { podIPs?: unknown }).podIPs;
    expect(cells('Pod', pod)[5]).toBe('10.244.0.3');
  });

  it('tells a failed init container by its reason or exit code', () => {
    const pod = structuredClone(pods.initCrashLoop);
    const [status] = (pod.status as { initContainerStatuses: { state: unknown }[] }).initContainerStatuses;
    status.state = { terminated: { exitCode: 2, reason: 'Error' } };
    expect(cells('Pod', pod)[2]).toBe('Init:Error');
    status.state = { terminated: { exitCode: 2 } };
    expect(cells('Pod', pod)[2]).toBe('Init:ExitCode:2');
  });
});

describe('Node cells', () => {
  it.each<[string, unknown[]]>([
    ['controlPlane', ['kind-control-plane', 'Ready', 'control-plane', '5d3h', 'v1.33.1', '172.18.0.2', '<none>', 'Debian GNU/Linux 12 (bookworm)', '6.1.0-37-cloud-amd64', 'containerd://2.1.1']],
    ['cordonedNotReady', ['kind-worker', 'NotReady,SchedulingDisabled', '<none>', '5d2h', 'v1.33.1', '172.18.0.3', '203.0.113.7', 'Debian GNU/Linux 12 (bookworm)', '6.1.0-37-cloud-amd64', 'containerd://2.1.1']],
    ['legacyRoles', ['edge-1', 'Unknown', 'edge,worker', '60m', '', '<none>', '<none>', '<unknown>', '<unknown>', '<unknown>']],
  ])('%s', (fixture, expected) => expect(cells('Node', nodes[fixture])).toEqual(expected));
});

describe('Service cells', () => {
  it.each<[string, unknown[]]>([
    ['kubernetes', ['kubernetes', 'ClusterIP', '10.96.0.1', '<none>', '443/TCP', '5d3h', '<none>']],
    ['kubeDns', ['kube-dns', 'ClusterIP', '10.96.0.10', '<none>', '53/UDP,53/TCP,9153/TCP', '5d3h', 'k8s-app=kube-dns']],
    ['nodePort', ['web', 'NodePort', '10.96.212.34', '<none>', '80:30080/TCP', '10m', 'app=web,tier=frontend']],
    ['headless', ['db', 'ClusterIP', 'None', '<none>', '5432/TCP', '60m', 'app=db']],
    ['externalName', ['payments', 'ExternalName', '<none>', 'payments.example.com', '<none>', '60m', '<none>']],
    ['loadBalancerPending', ['shop', 'LoadBalancer', '10.96.7.7', '<pending>', '443:31443/TCP', '60m', 'app=shop']],
    ['loadBalancer', ['shop-public', 'LoadBalancer', '10.96.7.8', '172.18.255.200,172.18.255.201,shop.lb.example.com,198.51.100.9', '80:32080/TCP,53:32053/UDP', '60m', '<none>']],
    ['defaulted', ['minimal', 'ClusterIP', '10.96.9.9', '<none>', '8080/TCP', '60m', '<none>']],
  ])('%s', (fixture, expected) => expect(cells('Service', services[fixture])).toEqual(expected));

  it('sorts selector pairs as whole "key=value" strings, as labels.Set.String does', () => {
    const service = structuredClone(services.headless);
    (service.spec as { selector: Record<string, string> }).selector = { a: '1', 'a-b': '2' };
    expect(cells('Service', service)[6]).toBe('a-b=2,a=1');
  });
});

describe('Endpoints cells', () => {
  it.each<[string, unknown[]]>([
    ['kubernetes', ['kubernetes', '172.18.0.2:6443', '5d3h']],
    ['kubeDns', ['kube-dns', '10.244.0.2:53,10.244.0.3:53,10.244.0.2:53 + 3 more...', '5d3h']],
    ['noSubsets', ['web', '<none>', '10m']],
    ['notReadyOnly', ['shop', '', '60m']],
    ['portlessAndIPv6', ['mixed', '10.244.1.21,[fd00:10:244::5]:80', '60m']],
  ])('%s', (fixture, expected) => expect(cells('Endpoints', endpoints[fixture])).toEqual(expected));
});

describe('Namespace, ConfigMap, Secret and ServiceAccount cells', () => {
  it.each<[KindName, string, unknown[]]>([
    ['Namespace', 'kubeSystem', ['kube-system', 'Active', '5d3h']],
    ['Namespace', 'terminatingNamespace', ['lab-old', 'Terminating', '120m']],
    ['Namespace', 'namespaceWithoutStatus', ['team-a', 'Active', '30s']],
    ['ConfigMap', 'rootCa', ['kube-root-ca.crt', 1, '5d2h']],
    ['ConfigMap', 'corefileWithBinary', ['coredns', 2, '5d3h']],
    ['Secret', 'opaqueSecret', ['db-credentials', 'Opaque', 3, '60m']],
    ['Secret', 'tlsSecret', ['web-tls', 'kubernetes.io/tls', 2, '60m']],
    ['Secret', 'untypedSecret', ['empty', 'Opaque', 0, '60m']],
    ['ServiceAccount', 'defaultServiceAccount', ['default', 0, '5d2h']],
    ['ServiceAccount', 'serviceAccountWithSecrets', ['builder', 1, '60m']],
  ])('%s %s', (kind, fixture, expected) => expect(cells(kind, config[fixture])).toEqual(expected));
});

describe('Event cells', () => {
  it.each<[string, unknown[]]>([
    ['backOff', ['75s', 'Warning', 'BackOff', 'pod/web-7d9f8b6c5-x2mfz', 'spec.containers{web}', 'kubelet, kind-worker',
      'Back-off restarting failed container web in pod web-7d9f8b6c5-x2mfz_default(7e1d)', '10m', 12, 'web-7d9f8b6c5-x2mfz.1842a7c0f9b3e2d1']],
    ['scheduled', ['11m', 'Normal', 'Scheduled', 'pod/web-7d9f8b6c5-x2mfz', '', 'default-scheduler, default-scheduler-kind-control-plane',
      'Successfully assigned default/web-7d9f8b6c5-x2mfz to kind-worker', '11m', 1, 'web-7d9f8b6c5-x2mfz.1842a7c0e0000000']],
    ['series', ['20m', 'Warning', 'FailedToUpdateEndpointSlices', 'service/kube-dns', '', 'endpoint-slice-controller', 'Error updating Endpoint Slices', '3h', 7, 'kube-dns.1842a7c0aaaa0000']],
    ['clusterScoped', ['5d2h', 'Normal', 'NodeReady', 'node/kind-worker', '', 'kubelet, kind-worker', 'Node kind-worker status is now: NodeReady', '5d2h', 1, 'kind-worker.1842a7c0bbbb0000']],
    ['unnamedObject', ['<unknown>', 'Normal', 'LeaderElection', 'lease', '', '', '', '<unknown>', 1, 'leader.1842a7c0cccc0000']],
  ])('%s', (fixture, expected) => expect(cells('Event', events[fixture])).toEqual(expected));
});

describe('workload cells', () => {
  it.each<[KindName, string, unknown[]]>([
    ['Deployment', 'corednsDeployment', ['coredns', '2/2', 2, 2, '5d3h', 'coredns', 'registry.k8s.io/coredns/coredns:v1.12.0', 'k8s-app=kube-dns']],
    ['Deployment', 'rollingDeployment', ['web', '1/3', 2, 0, '12m', 'web,log', 'registry.k8s.io/e2e-test-images/agnhost:2.53,busybox:1.36', 'app=web,!canary,tier in (edge,frontend)']],
    ['Deployment', 'brokenSelectorDeployment', ['odd', '0/1', 0, 0, '60m', '', '', '<invalid>']],
    ['ReplicaSet', 'corednsReplicaSet', ['coredns-674b8bbfcf', 2, 2, 2, '5d3h', 'coredns', 'registry.k8s.io/coredns/coredns:v1.12.0', 'k8s-app=kube-dns,pod-template-hash=674b8bbfcf']],
    ['ReplicaSet', 'scaledDownReplicaSet', ['web-5c8d7f9b4', 0, 0, 0, '60m', 'web', 'nginx:1.26', '<none>']],
    ['ReplicaSet', 'badReplicaSet', ['bad', 1, 0, 0, '60m', '', '', '<error>']],
    ['DaemonSet', 'kindnet', ['kindnet', 2, 2, 2, 2, 2, '<none>', '5d3h', 'kindnet-cni', 'docker.io/kindest/kindnetd:v20250512-df8de77b', 'app=kindnet']],
    ['DaemonSet', 'kubeProxy', ['kube-proxy', 2, 2, 1, 2, 0, 'kubernetes.io-arch=amd64,kubernetes.io/os=linux', '5d3h', 'kube-proxy', 'registry.k8s.io/kube-proxy:v1.33.1', 'k8s-app=kube-proxy']],
    ['StatefulSet', 'statefulSet', ['db', '1/3', '60m', 'postgres', 'postgres:16']],
    ['StatefulSet', 'statefulSetWithoutReplicas', ['cache', '0/1', '60m', 'redis', 'redis:7']],
  ])('%s %s', (kind, fixture, expected) => expect(cells(kind, apps[fixture])).toEqual(expected));
});

describe('networking cells', () => {
  it.each<[KindName, string, unknown[]]>([
    ['EndpointSlice', 'kubeDnsSlice', ['kube-dns-8d4fq', 'IPv4', '53,53,9153', '10.244.0.2,10.244.0.3', '5d3h']],
    ['EndpointSlice', 'bigSlice', ['web-abcde', 'IPv4', '80,b,* + 2 more...', '10.244.1.5,10.244.1.6,10.244.2.5 + 2 more...', '10m']],
    ['EndpointSlice', 'emptySlice', ['shop-zzzzz', 'IPv4', '<unset>', '<unset>', '60m']],
    ['NetworkPolicy', 'defaultDeny', ['default-deny-ingress', '<none>', '30m']],
    ['NetworkPolicy', 'allowDns', ['allow-dns', 'app=web,app.kubernetes.io/part-of,env notin (dev,prod)', '30m']],
    ['Ingress', 'ingress', ['shop', 'nginx', 'shop.example.com,api.example.com', '172.18.0.2,172.18.0.3,lb.example.com', '80, 443', '60m']],
    ['Ingress', 'manyHosts', ['many', '<none>', 'a.example.com,b.example.com,c.example.com + 2 more...', '', '80', '60m']],
    ['Ingress', 'catchAll', ['catch-all', '<none>', '*', '', '80', '60m']],
    ['IngressClass', 'nginxClass', ['nginx', 'k8s.io/ingress-nginx', 'IngressParameters.k8s.example.com/external-lb', '5d2h']],
    ['IngressClass', 'coreParametersClass', ['haproxy', 'haproxy.org/ingress-controller', 'ConfigMap/haproxy-params', '60m']],
    ['IngressClass', 'plainClass', ['traefik', 'traefik.io/ingress-controller', '<none>', '60m']],
  ])('%s %s', (kind, fixture, expected) => expect(cells(kind, networking[fixture])).toEqual(expected));
});
