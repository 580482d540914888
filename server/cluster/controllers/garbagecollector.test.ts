import { afterEach, describe, expect, it } from 'vitest';
import { deploymentController } from './deployment.ts';
import { garbageCollector } from './garbagecollector.ts';
import { replicaSetController } from './replicaset.ts';
import { scheduler } from './scheduler.ts';
import { template, testCluster, type TestCluster } from './testkit.ts';

let c: TestCluster;
afterEach(() => c?.stop());

async function start() {
  c = testCluster();
  c.run(deploymentController(), replicaSetController(), scheduler(), garbageCollector());
  c.create('Deployment', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default' }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: template({ app: 'web' }) } });
  await c.settle();
  expect(c.list('Pod', 'default')).toHaveLength(2);
}

describe('garbage collector', () => {
  it('Background: deletes the ReplicaSet and pods of a deleted Deployment', async () => {
    await start();
    c.api.delete('Deployment', 'default', 'web', { propagationPolicy: 'Background' });
    await c.settle();
    expect(c.list('ReplicaSet', 'default')).toEqual([]);
    expect(c.list('Pod', 'default')).toEqual([]);
    expect(c.logs).toEqual([]);
  });

  it('Foreground: the Deployment stays until its dependents are gone', async () => {
    await start();
    // Keep one pod from going at once, to see the owners wait for it.
    const [held] = c.list('Pod', 'default');
    c.api.mutate('Pod', 'default', held.metadata.name!, (o) => { o.metadata.finalizers = ['test/hold']; });
    c.api.delete('Deployment', 'default', 'web', { propagationPolicy: 'Foreground' });
    await c.settle();
    expect(c.get('Deployment', 'default', 'web').metadata).toMatchObject({ finalizers: ['foregroundDeletion'], deletionTimestamp: expect.any(String) });
    expect(c.list('ReplicaSet', 'default')).toMatchObject([{ metadata: { finalizers: ['foregroundDeletion'] } }]);
    expect(c.list('Pod', 'default').map((p) => p.metadata.name)).toEqual([held.metadata.name]);
    c.api.mutate('Pod', 'default', held.metadata.name!, (o) => { delete o.metadata.finalizers; });
    await c.settle();
    expect(c.list('Pod', 'default')).toEqual([]);
    expect(c.list('ReplicaSet', 'default')).toEqual([]);
    expect(c.api.tryGet('Deployment', 'default', 'web')).toBeUndefined();
  });

  it('Orphan: the ReplicaSet stays without its owner reference', async () => {
    await start();
    c.api.delete('Deployment', 'default', 'web', { propagationPolicy: 'Orphan' });
    await c.settle();
    expect(c.api.tryGet('Deployment', 'default', 'web')).toBeUndefined();
    const [rs] = c.list('ReplicaSet', 'default');
    expect(rs.metadata.ownerReferences).toBeUndefined();
    expect(c.list('Pod', 'default')).toHaveLength(2);
  });

  it('keeps a dependent that still has a live owner, dropping the dead reference', async () => {
    c = testCluster();
    c.run(garbageCollector());
    const owner = (name: string) => c.create('ConfigMap', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' } });
    const a = owner('a');
    const b = owner('b');
    const ref = (o: typeof a) => ({ apiVersion: 'v1', kind: 'ConfigMap', name: o.metadata.name!, uid: o.metadata.uid! });
    c.create('Secret', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'dep', namespace: 'default', ownerReferences: [ref(a), ref(b)] } });
    c.create('Secret', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'orphan', namespace: 'default', ownerReferences: [{ ...ref(a), uid: 'gone' }] } });
    await c.settle();
    expect(c.api.tryGet('Secret', 'default', 'orphan')).toBeUndefined();
    c.api.delete('ConfigMap', 'default', 'a');
    await c.settle();
    expect(c.get('Secret', 'default', 'dep').metadata.ownerReferences).toEqual([ref(b)]);
  });
});
