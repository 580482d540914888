import { afterEach, describe, expect, it } from 'vitest';
import { endpointsController, kubernetesEndpoints } from './endpoints.ts';
import { endpointSliceController } from './endpointslice.ts';
import { replicaSetController } from './replicaset.ts';
import { scheduler } from './scheduler.ts';
import { template, testCluster, type TestCluster } from './testkit.ts';
import type { Pod } from './types.ts';

let c: TestCluster;
afterEach(() => c?.stop());

function service(extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default', labels: { tier: 'front' } },
    spec: { clusterIP: '10.96.10.10', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 'http' }], ...extra },
  };
}

/** Two pods behind a ReplicaSet, the first one listening on 8080 as "http", the other on 9090. */
async function start(svc = service()) {
  c = testCluster();
  c.run(replicaSetController(), scheduler(), endpointsController(), endpointSliceController());
  c.create('Pod', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-a', namespace: 'default', labels: { app: 'web' } }, spec: template({}, [{ name: 'http', containerPort: 8080 }]).spec });
  c.create('Pod', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-b', namespace: 'default', labels: { app: 'web' } }, spec: template({}, [{ name: 'http', containerPort: 9090 }]).spec });
  c.create('Service', svc);
  await c.settle();
}

const endpoints = () => c.get('Endpoints', 'default', 'web') as unknown as { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> }; subsets?: { addresses?: { ip: string; nodeName?: string; targetRef: { name: string } }[]; notReadyAddresses?: { targetRef: { name: string } }[]; ports?: unknown[] }[] };
const slices = () => c.list('EndpointSlice', 'default') as unknown as { metadata: { name: string; labels: Record<string, string>; ownerReferences: unknown[] }; addressType: string; ports?: unknown[]; endpoints: { addresses: string[]; conditions: Record<string, boolean>; targetRef: { name: string }; nodeName?: string; zone?: string }[] }[];
const ip = (name: string) => c.get<Pod>('Pod', 'default', name).status!.podIP!;

describe('endpoints and endpointslice controllers', () => {
  it('list ready pods with their resolved named ports', async () => {
    await start();
    const ep = endpoints();
    expect(ep.metadata.labels).toEqual({ tier: 'front' });
    expect(ep.metadata.annotations?.['endpoints.kubernetes.io/last-change-trigger-time']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(ep.subsets).toEqual([
      { addresses: [{ ip: ip('web-a'), nodeName: 'worker', targetRef: { kind: 'Pod', namespace: 'default', name: 'web-a', uid: expect.any(String) } }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
      { addresses: [{ ip: ip('web-b'), nodeName: 'worker', targetRef: { kind: 'Pod', namespace: 'default', name: 'web-b', uid: expect.any(String) } }], ports: [{ name: 'http', port: 9090, protocol: 'TCP' }] },
    ]);
    const ss = slices();
    expect(ss).toHaveLength(2);
    for (const s of ss) {
      expect(s.metadata.name).toMatch(/^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      expect(s.metadata.labels).toEqual({ tier: 'front', 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' });
      expect(s.metadata.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: expect.any(String), controller: true, blockOwnerDeletion: true }]);
      expect(s.addressType).toBe('IPv4');
      expect(s.endpoints).toHaveLength(1);
      expect(s.endpoints[0]).not.toHaveProperty('zone');
      expect(s.endpoints[0]).toMatchObject({ conditions: { ready: true, serving: true, terminating: false }, nodeName: 'worker' });
    }
    const a = ss.find((s) => s.endpoints[0].targetRef.name === 'web-a')!;
    expect(a.ports).toEqual([{ name: 'http', protocol: 'TCP', port: 8080 }]);
    expect(a.endpoints[0].addresses).toEqual([ip('web-a')]);
    expect(c.logs).toEqual([]);
  });

  it('follow readiness, and drop terminating pods from Endpoints while slices mark them', async () => {
    await start(service({ ports: [{ port: 80, targetPort: 8080 }] }));
    c.setReady('default', 'web-b', false);
    await c.settle();
    expect(endpoints().subsets).toEqual([{
      addresses: [expect.objectContaining({ targetRef: expect.objectContaining({ name: 'web-a' }) })],
      notReadyAddresses: [expect.objectContaining({ targetRef: expect.objectContaining({ name: 'web-b' }) })],
      ports: [{ port: 8080, protocol: 'TCP' }],
    }]);
    const [slice] = slices();
    expect(slice.ports).toEqual([{ name: '', protocol: 'TCP', port: 8080 }]);
    expect(slice.endpoints.find((e) => e.targetRef.name === 'web-b')!.conditions).toEqual({ ready: false, serving: false, terminating: false });
    // A terminating (but still ready) pod: out of Endpoints, in slices as serving and terminating.
    c.api.mutate('Pod', 'default', 'web-a', (o) => { o.metadata.finalizers = ['test/hold']; });
    c.api.delete('Pod', 'default', 'web-a');
    c.setReady('default', 'web-b', true);
    await c.settle();
    expect(endpoints().subsets).toEqual([{ addresses: [expect.objectContaining({ targetRef: expect.objectContaining({ name: 'web-b' }) })], ports: [{ port: 8080, protocol: 'TCP' }] }]);
    expect(slices()[0].endpoints.find((e) => e.targetRef.name === 'web-a')!.conditions).toEqual({ ready: false, serving: true, terminating: true });
  });

  it('publishNotReadyAddresses lists every pod as ready; a headless Service without ports lists bare addresses', async () => {
    await start(service({ clusterIP: 'None', ports: undefined, publishNotReadyAddresses: true }));
    c.setReady('default', 'web-a', false);
    await c.settle();
    const ep = endpoints();
    expect(ep.metadata.labels).toEqual({ tier: 'front', 'service.kubernetes.io/headless': '' });
    expect(ep.subsets).toHaveLength(1);
    expect(ep.subsets![0].addresses!.map((a) => a.targetRef.name).sort()).toEqual(['web-a', 'web-b']);
    expect(ep.subsets![0]).not.toHaveProperty('ports');
    expect(slices()[0].endpoints.every((e) => e.conditions.ready && e.conditions.serving)).toBe(true);
  });

  it('keep a placeholder slice for a Service with no pods, and leave selectorless Services alone', async () => {
    await start(service({ selector: { app: 'nothing' } }));
    expect(endpoints().subsets).toBeUndefined();
    expect(slices()).toMatchObject([{ endpoints: [] }]);
    expect(slices()[0]).not.toHaveProperty('ports');
    c.create('Service', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'external', namespace: 'default' }, spec: { clusterIP: '10.96.10.11', ports: [{ port: 80 }] } });
    c.create('Endpoints', { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'external', namespace: 'default' }, subsets: [{ addresses: [{ ip: '192.0.2.1' }], ports: [{ port: 80 }] }] });
    await c.settle();
    expect(c.get('Endpoints', 'default', 'external').subsets).toEqual([{ addresses: [{ ip: '192.0.2.1' }], ports: [{ port: 80 }] }]);
    expect(slices().filter((s) => s.metadata.labels['kubernetes.io/service-name'] === 'external')).toEqual([]);
  });

  it('remove Endpoints with their Service', async () => {
    await start();
    c.api.delete('Service', 'default', 'web');
    await c.settle();
    expect(c.api.tryGet('Endpoints', 'default', 'web')).toBeUndefined();
  });

  it('builds the kubernetes Service endpoints from the API server address', () => {
    const k = kubernetesEndpoints({ ip: '172.18.0.2', port: 6443 });
    expect(k.endpoints.subsets).toEqual([{ addresses: [{ ip: '172.18.0.2' }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] }]);
    expect(k.endpointSlice).toMatchObject({ metadata: { name: 'kubernetes', labels: { 'kubernetes.io/service-name': 'kubernetes' } }, endpoints: [{ addresses: ['172.18.0.2'] }], ports: [{ name: 'https', port: 6443 }] });
    expect(k.service).toMatchObject({ spec: { clusterIP: '10.96.0.1', ports: [{ name: 'https', port: 443, targetPort: 6443 }] } });
  });
});
