import { afterEach, describe, expect, it } from 'vitest';
import { replicaSetController } from './replicaset.ts';
import { scheduler } from './scheduler.ts';
import { template, testCluster, type TestCluster } from './testkit.ts';
import type { Pod } from './types.ts';

let c: TestCluster;
afterEach(() => c?.stop());

async function start(replicas: number) {
  c = testCluster();
  c.run(replicaSetController(), scheduler());
  c.create('ReplicaSet', { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web', namespace: 'default' }, spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: template({ app: 'web' }) } });
  await c.settle();
}

const pods = () => c.list<Pod>('Pod', 'default');
const setReplicas = (n: number) => c.api.mutate('ReplicaSet', 'default', 'web', (o) => { (o.spec as { replicas: number }).replicas = n; });

describe('replicaset controller', () => {
  it('deletes the not-ready pod first when scaling down', async () => {
    await start(3);
    const [, sick] = pods();
    c.setReady('default', sick.metadata.name!, false);
    await c.settle();
    expect(c.get('ReplicaSet', 'default', 'web').status).toEqual({ replicas: 3, fullyLabeledReplicas: 3, readyReplicas: 2, availableReplicas: 2, observedGeneration: 1 });
    setReplicas(2);
    await c.settle();
    expect(pods().map((p) => p.metadata.name)).not.toContain(sick.metadata.name);
    expect(pods()).toHaveLength(2);
    expect(c.events).toContainEqual(expect.objectContaining({ kind: 'ReplicaSet', reason: 'SuccessfulDelete', message: `Deleted pod: ${sick.metadata.name}`, component: 'replicaset-controller' }));
  });

  it('releases a pod whose labels no longer match, replaces it, and adopts a matching orphan', async () => {
    await start(2);
    const [quarantined] = pods();
    c.api.mutate('Pod', 'default', quarantined.metadata.name!, (o) => { o.metadata.labels = { app: 'debug' }; });
    await c.settle();
    expect(c.get('Pod', 'default', quarantined.metadata.name!).metadata.ownerReferences).toBeUndefined();
    expect(pods().filter((p) => p.metadata.labels?.app === 'web')).toHaveLength(2);
    // Back under the selector: adopted, and the surplus pod goes.
    c.api.mutate('Pod', 'default', quarantined.metadata.name!, (o) => { o.metadata.labels = { app: 'web' }; });
    await c.settle();
    expect(pods()).toHaveLength(2);
    expect(pods().every((p) => p.metadata.ownerReferences?.[0].name === 'web')).toBe(true);
  });

  it('does not count pods that are being deleted', async () => {
    await start(1);
    const [p] = pods();
    c.api.mutate('Pod', 'default', p.metadata.name!, (o) => { o.metadata.finalizers = ['test/hold']; });
    c.api.delete('Pod', 'default', p.metadata.name!);
    await c.settle();
    expect(pods()).toHaveLength(2);
    expect(c.get('ReplicaSet', 'default', 'web').status).toMatchObject({ replicas: 1, readyReplicas: 1 });
  });
});
