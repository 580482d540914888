import { afterEach, describe, expect, it } from 'vitest';
import { deploymentController } from './deployment.ts';
import { templateHash } from './hash.ts';
import { replicaSetController } from './replicaset.ts';
import { scheduler } from './scheduler.ts';
import { template, testCluster, type TestCluster } from './testkit.ts';
import type { KubeObject } from '../object.ts';
import type { Condition, Pod } from './types.ts';

let c: TestCluster;
afterEach(() => c?.stop());

function deployment(replicas: number, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: template({ app: 'web' }), ...extra },
  };
}

const rsOf = (c: TestCluster) => c.list('ReplicaSet', 'default') as unknown as { metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string> }; spec: { replicas: number; selector: { matchLabels: Record<string, string> } }; status?: { replicas?: number } }[];
const podsOf = (c: TestCluster) => c.list<Pod>('Pod', 'default').filter((p) => !p.metadata.deletionTimestamp);
const cond = (d: KubeObject, type: string) => ((d.status as { conditions?: Condition[] }).conditions ?? []).find((x) => x.type === type);

async function start(d = deployment(2)) {
  c = testCluster();
  c.run(deploymentController(), replicaSetController(), scheduler());
  c.create('Deployment', d);
  await c.settle();
}

describe('deployment controller', () => {
  it('creates one ReplicaSet named by the template hash, and its pods on the worker', async () => {
    await start();
    const [rs] = rsOf(c);
    const hash = rs.metadata.labels!['pod-template-hash'];
    expect(hash).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
    expect(rs.metadata.name).toBe(`web-${hash}`);
    expect(rs.spec.selector.matchLabels).toEqual({ app: 'web', 'pod-template-hash': hash });
    expect(rs.metadata.annotations).toMatchObject({ 'deployment.kubernetes.io/revision': '1', 'deployment.kubernetes.io/desired-replicas': '2', 'deployment.kubernetes.io/max-replicas': '3' });
    const d = c.get('Deployment', 'default', 'web');
    expect(d.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('1');
    const pods = podsOf(c);
    expect(pods).toHaveLength(2);
    for (const p of pods) {
      expect(p.metadata.name).toMatch(new RegExp(`^${rs.metadata.name}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
      expect(p.metadata.labels).toEqual({ app: 'web', 'pod-template-hash': hash });
      expect(p.metadata.ownerReferences).toEqual([{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs.metadata.name, uid: expect.any(String), controller: true, blockOwnerDeletion: true }]);
      expect(p.spec.nodeName).toBe('worker');
    }
    expect(d.status).toMatchObject({ observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 });
    expect(cond(d, 'Available')).toMatchObject({ status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' });
    expect(cond(d, 'Progressing')).toMatchObject({ status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${rs.metadata.name}" has successfully progressed.` });
    expect(c.events).toContainEqual(expect.objectContaining({ kind: 'Deployment', reason: 'ScalingReplicaSet', message: `Scaled up replica set ${rs.metadata.name} from 0 to 2`, component: 'deployment-controller' }));
    expect(c.events.filter((e) => e.reason === 'SuccessfulCreate').map((e) => e.message).sort()).toEqual(pods.map((p) => `Created pod: ${p.metadata.name}`).sort());
    expect(c.logs).toEqual([]);
  });

  it('names the ReplicaSet by the hash of its template', async () => {
    await start();
    const d = c.get<{ spec: { template: unknown } } & Parameters<typeof c.create>[1]>('Deployment', 'default', 'web');
    expect(rsOf(c)[0].metadata.name).toBe(`web-${templateHash(d.spec.template)}`);
  });

  it('rolls out a restart: a new ReplicaSet, the old one scaled down as new pods become ready', async () => {
    await start();
    const [old] = rsOf(c);
    const isOld = (name: string) => name.startsWith(`${old.metadata.name}-`);
    // New pods start not ready: the rollout must stop there, the old pods still serving.
    c.kubelet.startsReady = (p) => isOld(p.metadata.name!);
    c.api.mutate('Deployment', 'default', 'web', (o) => {
      (o.spec as { template: { metadata: { annotations?: Record<string, string> } } }).template.metadata.annotations = { 'kubectl.kubernetes.io/restartedAt': '2025-06-01T12:00:00Z' };
    });
    await c.settle();
    let rss = rsOf(c);
    expect(rss).toHaveLength(2);
    const fresh = rss.find((r) => r.metadata.name !== old.metadata.name)!;
    const replicas = (name: string) => rsOf(c).find((r) => r.metadata.name === name)!.spec.replicas;
    // maxSurge 25% of 2 rounds up to 1, maxUnavailable 25% rounds down to 0: one new pod, both old ones kept.
    expect(replicas(fresh.metadata.name)).toBe(1);
    expect(replicas(old.metadata.name)).toBe(2);
    let d = c.get('Deployment', 'default', 'web');
    expect(d.status).toMatchObject({ replicas: 3, updatedReplicas: 1, availableReplicas: 2, unavailableReplicas: 1 });
    expect(cond(d, 'Progressing')).toMatchObject({ status: 'True', reason: 'ReplicaSetUpdated', message: `ReplicaSet "${fresh.metadata.name}" is progressing.` });
    // The first new pod becomes ready: one old pod goes and a second new one comes.
    const newPods = () => podsOf(c).filter((p) => !isOld(p.metadata.name!));
    c.setReady('default', newPods()[0].metadata.name!, true);
    await c.settle();
    expect(replicas(old.metadata.name)).toBe(1);
    expect(replicas(fresh.metadata.name)).toBe(2);
    for (const p of newPods()) c.setReady('default', p.metadata.name!, true);
    await c.settle();
    expect(replicas(fresh.metadata.name)).toBe(2);
    expect(replicas(old.metadata.name)).toBe(0);
    expect(rsOf(c).find((r) => r.metadata.name === fresh.metadata.name)!.metadata.annotations!['deployment.kubernetes.io/revision']).toBe('2');
    expect(rsOf(c).find((r) => r.metadata.name === old.metadata.name)!.metadata.annotations!['deployment.kubernetes.io/revision']).toBe('1');
    d = c.get('Deployment', 'default', 'web');
    expect(d.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('2');
    expect(d.status).toMatchObject({ replicas: 2, updatedReplicas: 2, availableReplicas: 2 });
    expect(cond(d, 'Progressing')).toMatchObject({ reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${fresh.metadata.name}" has successfully progressed.` });
    expect(podsOf(c).every((p) => !isOld(p.metadata.name!))).toBe(true);
    const scaling = c.events.filter((e) => e.reason === 'ScalingReplicaSet').map((e) => e.message);
    expect(scaling).toEqual([
      `Scaled up replica set ${old.metadata.name} from 0 to 2`,
      `Scaled up replica set ${fresh.metadata.name} from 0 to 1`,
      `Scaled down replica set ${old.metadata.name} from 2 to 1`,
      `Scaled up replica set ${fresh.metadata.name} from 1 to 2`,
      `Scaled down replica set ${old.metadata.name} from 1 to 0`,
    ]);
    expect(c.logs).toEqual([]);
  });

  it('scales to zero and back, keeping the ReplicaSet', async () => {
    await start();
    const [rs] = rsOf(c);
    c.api.mutate('Deployment', 'default', 'web', (o) => { (o.spec as { replicas: number }).replicas = 0; });
    await c.settle();
    expect(podsOf(c)).toHaveLength(0);
    expect(rsOf(c)).toMatchObject([{ metadata: { name: rs.metadata.name, annotations: { 'deployment.kubernetes.io/desired-replicas': '0' } }, spec: { replicas: 0 } }]);
    let d = c.get('Deployment', 'default', 'web');
    expect(d.status).not.toHaveProperty('replicas');
    expect(c.events).toContainEqual(expect.objectContaining({ reason: 'ScalingReplicaSet', message: `Scaled down replica set ${rs.metadata.name} from 2 to 0` }));
    c.api.mutate('Deployment', 'default', 'web', (o) => { (o.spec as { replicas: number }).replicas = 3; });
    await c.settle();
    expect(podsOf(c)).toHaveLength(3);
    expect(rsOf(c)).toHaveLength(1);
    d = c.get('Deployment', 'default', 'web');
    expect(d.status).toMatchObject({ replicas: 3, readyReplicas: 3, availableReplicas: 3, observedGeneration: 3 });
  });

  it('Recreate deletes every old pod before creating new ones', async () => {
    await start(deployment(2, { strategy: { type: 'Recreate' } }));
    const [old] = rsOf(c);
    expect(old.metadata.annotations!['deployment.kubernetes.io/max-replicas']).toBe('2');
    c.api.mutate('Deployment', 'default', 'web', (o) => { (o.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0].image = 'nginx:2'; });
    const overlap: string[] = [];
    const unsubscribe = c.store.subscribe(undefined, (e) => {
      if (e.kind !== 'Pod' || e.type !== 'ADDED') return;
      const others = c.list<Pod>('Pod', 'default').filter((p) => p.metadata.name!.startsWith(old.metadata.name));
      if (others.length) overlap.push(e.object.metadata.name!);
    });
    await c.settle();
    unsubscribe();
    expect(overlap).toEqual([]);
    const fresh = rsOf(c).find((r) => r.metadata.name !== old.metadata.name)!;
    expect(fresh.spec.replicas).toBe(2);
    expect(podsOf(c)).toHaveLength(2);
  });

  it('deletes old ReplicaSets beyond revisionHistoryLimit', async () => {
    await start(deployment(1, { revisionHistoryLimit: 1 }));
    for (const image of ['nginx:2', 'nginx:3']) {
      c.api.mutate('Deployment', 'default', 'web', (o) => { (o.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0].image = image; });
      await c.settle();
    }
    const revisions = rsOf(c).map((r) => r.metadata.annotations!['deployment.kubernetes.io/revision']).sort();
    expect(revisions).toEqual(['2', '3']);
  });

  it('a rollback moves the old ReplicaSet to a new revision and records the old one', async () => {
    await start(deployment(1));
    const setImage = (image: string) => c.api.mutate('Deployment', 'default', 'web', (o) => { (o.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0].image = image; });
    setImage('nginx:2');
    await c.settle();
    setImage('nginx');
    await c.settle();
    const first = rsOf(c).find((r) => r.metadata.annotations!['deployment.kubernetes.io/revision'] === '3')!;
    expect(first.metadata.annotations!['deployment.kubernetes.io/revision-history']).toBe('1');
    expect(first.spec.replicas).toBe(1);
    expect(rsOf(c)).toHaveLength(2);
  });
});
