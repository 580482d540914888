import { afterEach, describe, expect, it } from 'vitest';
import { scheduler } from './scheduler.ts';
import { statefulSetController } from './statefulset.ts';
import { template, testCluster, type TestCluster } from './testkit.ts';
import type { Pod } from './types.ts';

let c: TestCluster;
afterEach(() => c?.stop());

function statefulSet(replicas: number, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'apps/v1', kind: 'StatefulSet',
    metadata: { name: 'db', namespace: 'default' },
    spec: { replicas, serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: template({ app: 'db' }), ...extra },
  };
}

const names = () => c.list<Pod>('Pod', 'default').filter((p) => !p.metadata.deletionTimestamp).map((p) => p.metadata.name).sort();
const status = () => c.get('StatefulSet', 'default', 'db').status as Record<string, unknown>;

describe('statefulset controller', () => {
  it('creates pods in order, each once the previous one is Running and Ready', async () => {
    c = testCluster();
    c.kubelet.startsReady = () => false;
    c.run(statefulSetController(), scheduler());
    c.create('StatefulSet', statefulSet(3));
    await c.settle();
    expect(names()).toEqual(['db-0']);
    c.setReady('default', 'db-0', true);
    await c.settle();
    expect(names()).toEqual(['db-0', 'db-1']);
    c.setReady('default', 'db-1', true);
    await c.settle();
    expect(names()).toEqual(['db-0', 'db-1', 'db-2']);
    c.setReady('default', 'db-2', true);
    await c.settle();
    const pod = c.get<Pod>('Pod', 'default', 'db-1');
    const revision = status().updateRevision as string;
    expect(revision).toMatch(/^db-[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
    expect(pod.metadata.labels).toEqual({ app: 'db', 'controller-revision-hash': revision, 'statefulset.kubernetes.io/pod-name': 'db-1', 'apps.kubernetes.io/pod-index': '1' });
    expect(pod.spec).toMatchObject({ hostname: 'db-1', subdomain: 'db', nodeName: 'worker' });
    expect(pod.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'StatefulSet', name: 'db', controller: true, blockOwnerDeletion: true });
    expect(status()).toMatchObject({ observedGeneration: 1, replicas: 3, readyReplicas: 3, availableReplicas: 3, currentReplicas: 3, updatedReplicas: 3, currentRevision: revision });
    expect(c.events.filter((e) => e.reason === 'SuccessfulCreate').map((e) => e.message)).toEqual([0, 1, 2].map((i) => `create Pod db-${i} in StatefulSet db successful`));
    expect(c.logs).toEqual([]);
  });

  it('scales down from the highest ordinal', async () => {
    c = testCluster();
    c.run(statefulSetController(), scheduler());
    c.create('StatefulSet', statefulSet(3));
    await c.settle();
    c.api.mutate('StatefulSet', 'default', 'db', (o) => { (o.spec as { replicas: number }).replicas = 1; });
    await c.settle();
    expect(names()).toEqual(['db-0']);
    expect(c.events.filter((e) => e.reason === 'SuccessfulDelete').map((e) => e.message)).toEqual(['delete Pod db-2 in StatefulSet db successful', 'delete Pod db-1 in StatefulSet db successful']);
  });

  it('Parallel creates every pod at once', async () => {
    c = testCluster();
    c.kubelet.startsReady = () => false;
    c.run(statefulSetController(), scheduler());
    c.create('StatefulSet', statefulSet(3, { podManagementPolicy: 'Parallel' }));
    await c.settle();
    expect(names()).toEqual(['db-0', 'db-1', 'db-2']);
    expect(status()).toMatchObject({ replicas: 3, availableReplicas: 0 });
    expect(status()).not.toHaveProperty('readyReplicas');
  });

  it('replaces pods of an old revision from the highest ordinal', async () => {
    c = testCluster();
    c.run(statefulSetController(), scheduler());
    c.create('StatefulSet', statefulSet(2));
    await c.settle();
    const first = status().currentRevision;
    c.api.mutate('StatefulSet', 'default', 'db', (o) => { (o.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0].image = 'db:2'; });
    await c.settle();
    const s = status();
    expect(s.updateRevision).not.toBe(first);
    expect(s).toMatchObject({ currentRevision: s.updateRevision, updatedReplicas: 2, readyReplicas: 2 });
    expect(c.events.filter((e) => e.reason === 'SuccessfulDelete').map((e) => e.message)).toEqual(['delete Pod db-1 in StatefulSet db successful', 'delete Pod db-0 in StatefulSet db successful']);
  });
});
