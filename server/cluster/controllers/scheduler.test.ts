import { afterEach, describe, expect, it } from 'vitest';
import { scheduler } from './scheduler.ts';
import { testCluster, type TestCluster } from './testkit.ts';
import type { Pod } from './types.ts';

let c: TestCluster;
afterEach(() => c?.stop());

const pod = (name: string, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { containers: [{ name: 'app', image: 'nginx' }], ...spec },
});
const scheduled = (name: string) => c.get<Pod>('Pod', 'default', name).status?.conditions?.find((x) => x.type === 'PodScheduled');

describe('scheduler', () => {
  it('binds an ordinary pod to the worker, not the tainted control plane', async () => {
    c = testCluster();
    c.run(scheduler());
    c.create('Pod', pod('web-x'));
    await c.settle();
    expect(c.get<Pod>('Pod', 'default', 'web-x').spec.nodeName).toBe('worker');
    expect(scheduled('web-x')).toMatchObject({ status: 'True' });
    expect(c.events).toContainEqual({ kind: 'Pod', name: 'web-x', type: 'Normal', reason: 'Scheduled', message: 'Successfully assigned default/web-x to worker', component: 'default-scheduler' });
  });

  it('honours tolerations, nodeSelector and matchFields affinity', async () => {
    c = testCluster();
    c.run(scheduler());
    c.create('Pod', pod('cp', { tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }], nodeSelector: { 'node-role.kubernetes.io/control-plane': '' } }));
    c.create('Pod', pod('pinned', { tolerations: [{ operator: 'Exists' }], affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['control-plane'] }] }] } } } }));
    await c.settle();
    expect(c.get<Pod>('Pod', 'default', 'cp').spec.nodeName).toBe('control-plane');
    expect(c.get<Pod>('Pod', 'default', 'pinned').spec.nodeName).toBe('control-plane');
  });

  it('reports an unschedulable pod as upstream does, and places it when a node fits', async () => {
    c = testCluster();
    c.run(scheduler());
    c.create('Pod', pod('ssd', { nodeSelector: { disktype: 'ssd' } }));
    await c.settle();
    const message = "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.";
    expect(c.get<Pod>('Pod', 'default', 'ssd').spec.nodeName).toBeUndefined();
    expect(scheduled('ssd')).toEqual({ type: 'PodScheduled', status: 'False', lastProbeTime: null, lastTransitionTime: expect.any(String), reason: 'Unschedulable', message });
    expect(c.events.filter((e) => e.reason === 'FailedScheduling')).toEqual([{ kind: 'Pod', name: 'ssd', type: 'Warning', reason: 'FailedScheduling', message, component: 'default-scheduler' }]);
    // A heartbeat changes nothing the filters read: no new attempt.
    c.api.mutate('Node', undefined, 'worker', (n) => { n.status = { conditions: [{ type: 'Ready', status: 'True' }] }; });
    await c.settle();
    expect(c.events.filter((e) => e.reason === 'FailedScheduling')).toHaveLength(1);
    c.api.mutate('Node', undefined, 'worker', (n) => { n.metadata.labels = { ...n.metadata.labels, disktype: 'ssd' }; });
    await c.settle();
    expect(c.get<Pod>('Pod', 'default', 'ssd').spec.nodeName).toBe('worker');
    expect(scheduled('ssd')).toMatchObject({ status: 'True' });
  });

  it('leaves cordoned nodes and other schedulers\' pods alone', async () => {
    c = testCluster();
    c.api.mutate('Node', undefined, 'worker', (n) => { n.spec = { ...(n.spec as object), unschedulable: true }; });
    c.run(scheduler());
    c.create('Pod', pod('a'));
    c.create('Pod', pod('b', { schedulerName: 'my-scheduler' }));
    await c.settle();
    expect(scheduled('a')?.message).toBe('0/2 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 1 node(s) were unschedulable. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.');
    expect(c.get<Pod>('Pod', 'default', 'b').status?.conditions).toBeUndefined();
  });
});
