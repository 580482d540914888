import { afterEach, describe, expect, it } from 'vitest';
import { daemonSetController } from './daemonset.ts';
import { scheduler } from './scheduler.ts';
import { template, testCluster, type TestCluster } from './testkit.ts';
import type { Pod } from './types.ts';

let c: TestCluster;
afterEach(() => c?.stop());

function daemonSet(tolerations: unknown[] = []) {
  return {
    apiVersion: 'apps/v1', kind: 'DaemonSet',
    metadata: { name: 'agent', namespace: 'kube-system' },
    spec: { selector: { matchLabels: { app: 'agent' } }, template: template({ app: 'agent' }, [], tolerations.length ? { tolerations } : {}) },
  };
}

const CONTROL_PLANE_TOLERATION = { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' };
const pods = () => c.list<Pod>('Pod', 'kube-system').filter((p) => !p.metadata.deletionTimestamp);
const status = () => c.get('DaemonSet', 'kube-system', 'agent').status as Record<string, number>;

describe('daemonset controller', () => {
  it('runs one pod per node when the control-plane taint is tolerated, pinned by node affinity', async () => {
    c = testCluster();
    c.run(daemonSetController(), scheduler());
    c.create('DaemonSet', daemonSet([CONTROL_PLANE_TOLERATION]));
    await c.settle();
    const ps = pods();
    expect(ps.map((p) => p.spec.nodeName).sort()).toEqual(['control-plane', 'worker']);
    for (const p of ps) {
      expect(p.metadata.name).toMatch(/^agent-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      expect(p.metadata.labels).toMatchObject({ app: 'agent', 'controller-revision-hash': expect.any(String), 'pod-template-generation': '1' });
      expect(p.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms)
        .toEqual([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [p.spec.nodeName] }] }]);
      expect(p.spec.tolerations).toEqual([
        CONTROL_PLANE_TOLERATION,
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
        { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
        { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
        { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
        { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
      ]);
      expect(p.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'DaemonSet', name: 'agent', controller: true, blockOwnerDeletion: true });
    }
    expect(status()).toMatchObject({ desiredNumberScheduled: 2, currentNumberScheduled: 2, numberReady: 2, numberAvailable: 2, updatedNumberScheduled: 2, numberMisscheduled: 0, observedGeneration: 1 });
    expect(status()).not.toHaveProperty('numberUnavailable');
    expect(c.logs).toEqual([]);
  });

  it('skips the tainted control plane without the toleration, and follows a new node', async () => {
    c = testCluster();
    c.run(daemonSetController(), scheduler());
    c.create('DaemonSet', daemonSet());
    await c.settle();
    expect(pods().map((p) => p.spec.nodeName)).toEqual(['worker']);
    expect(status()).toMatchObject({ desiredNumberScheduled: 1, currentNumberScheduled: 1 });
    c.create('Node', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'worker2', labels: {} }, spec: {} });
    await c.settle();
    expect(pods().map((p) => p.spec.nodeName).sort()).toEqual(['worker', 'worker2']);
    // A NoExecute taint the pods do not tolerate removes the pod from that node.
    c.api.mutate('Node', undefined, 'worker2', (n) => { n.spec = { taints: [{ key: 'dedicated', value: 'db', effect: 'NoExecute' }] }; });
    await c.settle();
    expect(pods().map((p) => p.spec.nodeName)).toEqual(['worker']);
  });

  it('rolls a template change out one node at a time', async () => {
    c = testCluster();
    c.run(daemonSetController(), scheduler());
    c.create('DaemonSet', daemonSet([CONTROL_PLANE_TOLERATION]));
    await c.settle();
    const before = pods().map((p) => p.metadata.name);
    // New pods start not ready: after the first node, the rollout must wait.
    c.kubelet.startsReady = (p) => before.includes(p.metadata.name);
    c.api.mutate('DaemonSet', 'kube-system', 'agent', (o) => { (o.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0].image = 'agent:2'; });
    await c.settle();
    const now = pods();
    expect(now).toHaveLength(2);
    expect(now.filter((p) => before.includes(p.metadata.name))).toHaveLength(1);
    expect(status()).toMatchObject({ updatedNumberScheduled: 1, numberUnavailable: 1 });
    for (const p of now.filter((p) => !before.includes(p.metadata.name))) c.setReady('kube-system', p.metadata.name!, true);
    c.kubelet.startsReady = () => true;
    await c.settle();
    expect(pods().filter((p) => before.includes(p.metadata.name))).toHaveLength(0);
    expect(status()).toMatchObject({ desiredNumberScheduled: 2, updatedNumberScheduled: 2, numberAvailable: 2, observedGeneration: 2 });
    expect(pods().every((p) => p.metadata.labels?.['pod-template-generation'] === '2')).toBe(true);
  });
});
