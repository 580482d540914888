import { afterEach, describe, expect, it } from 'vitest';
import { endpointSliceController } from '../controllers/endpointslice.ts';
import { replicaSetController } from '../controllers/replicaset.ts';
import { scheduler } from '../controllers/scheduler.ts';
import { template, testCluster, type TestCluster } from '../controllers/testkit.ts';
import { electNode, loadBalancers, type Announcement } from './controller.ts';

let c: TestCluster;
afterEach(() => c?.stop());

const pool = { first: '172.18.255.200', last: '172.18.255.202' };
let announced: Announcement[][] = [];

function start() {
  c = testCluster();
  announced = [];
  c.run(replicaSetController(), scheduler(), endpointSliceController(),
    loadBalancers({ network: { pool, announce: async (a) => { announced.push(a); } }, nodes: () => ['control-plane', 'worker'] }));
}

const lb = (name: string, spec: Record<string, unknown> = {}) => c.create('Service', {
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' },
  spec: { type: 'LoadBalancer', clusterIP: `10.96.0.${20 + name.length}`, selector: { app: 'web' }, ports: [{ port: 80, protocol: 'TCP', targetPort: 8080 }], ...spec },
});
const address = (name: string) => (c.get('Service', 'default', name).status as { loadBalancer?: { ingress?: { ip: string; ipMode: string }[] } } | undefined)?.loadBalancer?.ingress;

describe('the load-balancer controller', () => {
  it('hands out the pool\'s addresses in order, in VIP mode, with the service controller\'s events', async () => {
    start();
    lb('a');
    await c.settle();
    lb('b');
    await c.settle();
    expect(address('a')).toEqual([{ ip: '172.18.255.200', ipMode: 'VIP' }]);
    expect(address('b')).toEqual([{ ip: '172.18.255.201', ipMode: 'VIP' }]);
    expect(c.events.filter((e) => e.name === 'a').map((e) => `${e.reason} ${e.component}`)).toEqual(['EnsuringLoadBalancer service-controller', 'EnsuredLoadBalancer service-controller']);
    expect(announced.at(-1)!.map((a) => a.ip)).toEqual(['172.18.255.200', '172.18.255.201']);
  });

  it('gives a requested address when it is free and in the pool, and says why not otherwise', async () => {
    start();
    lb('wants', { loadBalancerIP: '172.18.255.202' });
    lb('outside', { loadBalancerIP: '10.1.2.3' });
    await c.settle();
    expect(address('wants')).toEqual([{ ip: '172.18.255.202', ipMode: 'VIP' }]);
    expect(address('outside')).toBeUndefined();
    expect(c.events.find((e) => e.name === 'outside')).toMatchObject({ type: 'Warning', reason: 'SyncLoadBalancerFailed', message: expect.stringContaining('requested address 10.1.2.3 is not in the pool 172.18.255.200-172.18.255.202') });
  });

  it('runs out of addresses as a cloud would, with a warning, and leaves other load balancers alone', async () => {
    start();
    for (const n of ['a', 'bb', 'ccc', 'dddd']) lb(n);
    lb('other', { loadBalancerClass: 'example.com/elsewhere' });
    await c.settle();
    expect(address('dddd')).toBeUndefined();
    expect(c.events.find((e) => e.name === 'dddd')?.message).toContain('no address left in the pool');
    expect(address('other')).toBeUndefined();
  });

  it('announces a Local Service only from a node with a ready endpoint, and frees the address when the type changes', async () => {
    start();
    c.create('ReplicaSet', { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web', namespace: 'default' }, spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: template({ app: 'web' }, [{ containerPort: 8080 }]) } });
    lb('local', { externalTrafficPolicy: 'Local' });
    await c.settle();
    const node = (c.list('Pod', 'default')[0].spec as { nodeName: string }).nodeName;
    expect(announced.at(-1)).toEqual([{ ip: '172.18.255.200', node }]);
    c.api.mutate('Service', 'default', 'local', (s) => { (s.spec as Record<string, unknown>).type = 'ClusterIP'; });
    await c.settle();
    expect(address('local')).toBeUndefined();
    expect(announced.at(-1)).toEqual([]);
  });

  it('elects the same node for an address whatever the order nodes are listed in', () => {
    expect(electNode('172.18.255.200', ['control-plane', 'worker'])).toBe(electNode('172.18.255.200', ['worker', 'control-plane']));
    expect(electNode('172.18.255.200', [])).toBeUndefined();
  });
});
