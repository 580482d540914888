import { afterEach, describe, expect, it } from 'vitest';
import { nodeLifecycleController, taintEvictionController } from './nodelifecycle.ts';
import { scheduler } from './scheduler.ts';
import { testCluster, type TestCluster } from './testkit.ts';
import type { Node, Pod } from './types.ts';

let c: TestCluster;
afterEach(() => c?.stop());

const NOT_READY_FOR_300S = { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 };

function setReady(node: string, ready: boolean) {
  c.api.mutate('Node', undefined, node, (n) => {
    (n as Node).status = { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', reason: ready ? 'KubeletReady' : 'KubeletNotReady' }] };
  }, { subresource: 'status' });
}

function pod(name: string, tolerations: unknown[]) {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { nodeName: 'worker', tolerations, containers: [{ name: 'c', image: 'busybox' }] } };
}

const taints = (node: string) => (c.get<Node>('Node', undefined, node).spec?.taints ?? []).map((t) => `${t.key}:${t.effect}`);

describe('node lifecycle and taint eviction', () => {
  it('taints a NotReady node not-ready (NoSchedule, NoExecute), keeps its other taints, and untaints it once Ready', async () => {
    c = testCluster();
    c.run(nodeLifecycleController());
    setReady('control-plane', false);
    await c.settle();
    expect(taints('control-plane')).toEqual(['node-role.kubernetes.io/control-plane:NoSchedule', 'node.kubernetes.io/not-ready:NoSchedule', 'node.kubernetes.io/not-ready:NoExecute']);
    expect(c.get<Node>('Node', undefined, 'control-plane').spec?.taints?.[2].timeAdded).toBe('2025-06-01T12:00:00Z');
    setReady('control-plane', true);
    await c.settle();
    expect(taints('control-plane')).toEqual(['node-role.kubernetes.io/control-plane:NoSchedule']);
  });

  it('schedules no new pod onto a NotReady node but one that tolerates it', async () => {
    c = testCluster();
    c.run(nodeLifecycleController(), scheduler());
    setReady('worker', false);
    await c.settle();
    for (const [name, tolerations] of [['plain', []], ['agent', [{ operator: 'Exists' }]]] as const) {
      c.create('Pod', { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { tolerations, nodeSelector: { 'kubernetes.io/hostname': 'worker' }, containers: [{ name: 'c', image: 'busybox' }] } });
    }
    await c.settle();
    expect(c.get<Pod>('Pod', 'default', 'plain').spec.nodeName).toBeUndefined();
    expect(c.get<Pod>('Pod', 'default', 'agent').spec.nodeName).toBe('worker');
  });

  it('evicts pods that do not tolerate the NoExecute taint at once, those with tolerationSeconds once they pass, never those that tolerate it for ever', async () => {
    c = testCluster();
    c.run(nodeLifecycleController(), taintEvictionController());
    c.create('Pod', pod('untolerated', []));
    c.create('Pod', pod('default-toleration', [NOT_READY_FOR_300S]));
    c.create('Pod', pod('agent', [{ operator: 'Exists' }]));
    await c.settle();
    setReady('worker', false);
    await c.settle();
    const alive = () => c.list<Pod>('Pod', 'default').map((p) => p.metadata.name).sort();
    expect(alive()).toEqual(['agent', 'default-toleration']);
    expect(c.events).toContainEqual(expect.objectContaining({ name: 'untolerated', reason: 'TaintManagerEviction', message: 'Marking for deletion Pod default/untolerated', component: 'taint-eviction-controller' }));
    // 300 s after the taint was added, the pod with the default toleration goes too.
    c.advance(300_000);
    c.api.mutate('Pod', 'default', 'agent', (p) => { p.metadata.labels = { touched: 'yes' }; });
    await c.settle();
    expect(alive()).toEqual(['agent']);
  });
});
