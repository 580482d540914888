import { ClusterApi, type ApiDeps } from '../api.ts';
import type { KindName } from '../kinds.ts';
import { KindRegistry } from '../registry.ts';
import type { KubeObject } from '../object.ts';
import { ObjectStore } from '../store.ts';
import { objectKey, runController, splitKey, type ControllerContext, type ControllerSpec, type RunningController } from './controller.ts';
import { timestamp } from './podutil.ts';
import type { Condition, Pod } from './types.ts';

// A cluster for controller tests: a store and API with the few defaults the API server would add
// (a new Pod is Pending, a Namespace Active with the `kubernetes` finalizer), a clock the test
// moves, the two nodes of a kind cluster, a stand-in kubelet that starts bound pods (Running, an
// IP, Ready unless the test holds them back) and removes deleted ones, and `settle()`, which waits
// until no controller has work and no object changes.

export interface RecordedEvent { kind: string; name: string; type: string; reason: string; message: string; component: string }

const testDeps = (now: () => Date): ApiDeps => ({
  admit(kind, obj, old) {
    if (kind === 'Pod' && !old) obj.status = { phase: 'Pending', ...(obj.status as object) };
    if (kind === 'Namespace' && !old) {
      obj.spec = { finalizers: ['kubernetes'], ...(obj.spec as object) };
      obj.status = { phase: 'Active' };
    }
    return obj;
  },
  patch(_kind, current, type, patch) {
    if (type !== 'merge') throw new Error(`test API: ${type} patches are not supported`);
    const merge = (a: unknown, b: unknown): unknown => {
      if (!b || typeof b !== 'object' || Array.isArray(b)) return b;
      const out: Record<string, unknown> = a && typeof a === 'object' && !Array.isArray(a) ? { ...(a as Record<string, unknown>) } : {};
      for (const [k, v] of Object.entries(b)) { if (v === null) delete out[k]; else out[k] = merge(out[k], v); }
      return out;
    };
    return merge(current, patch) as object;
  },
  now,
});

export interface TestKubelet {
  /** Whether a pod the kubelet starts passes its readiness probe (by default every pod does). */
  startsReady(pod: Pod): boolean;
}

/** Sets a pod's Ready and ContainersReady conditions, as the kubelet's readiness probes do. */
function setReady(api: ClusterApi, namespace: string | undefined, name: string, ready: boolean): void {
  const now = timestamp(api.now());
  api.mutate('Pod', namespace, name, (o) => {
    const status = ((o as Pod).status ??= {});
    for (const type of ['ContainersReady', 'Ready']) {
      const want = ready ? 'True' : 'False';
      const cur = status.conditions?.find((c) => c.type === type);
      if (cur?.status === want) continue;
      const c: Condition = { type, status: want, lastProbeTime: null, lastTransitionTime: now };
      status.conditions = [...(status.conditions ?? []).filter((x) => x.type !== type), c];
    }
  }, { subresource: 'status' });
}

/** The stand-in kubelet: bound pods run at once with an IP from their node's range; deleted ones go. */
function fakeKubelet(state: TestKubelet): ControllerSpec {
  const nextIP = new Map<string, number>();
  const podCIDR: Record<string, string> = { 'control-plane': '10.244.0', worker: '10.244.1' };
  return {
    name: 'test-kubelet',
    watches: ['Pod'],
    keysFor: (e) => (e.type !== 'DELETED' && (e.object.spec as Pod['spec']).nodeName ? [objectKey(e.object)] : []),
    reconcile(key, ctx) {
      const { namespace, name } = splitKey(key);
      const pod = ctx.api.tryGet('Pod', namespace, name) as Pod | undefined;
      if (!pod?.spec.nodeName) return;
      if (pod.metadata.deletionTimestamp) { if (!pod.metadata.finalizers?.length) ctx.api.forget('Pod', namespace, name); return; }
      if (pod.status?.phase === 'Running') return;
      const now = timestamp(ctx.api.now());
      ctx.api.mutate('Pod', namespace, name, (o) => {
        const p = o as Pod;
        const status = (p.status ??= {});
        const n = (nextIP.get(pod.spec.nodeName!) ?? 1) + 1;
        nextIP.set(pod.spec.nodeName!, n);
        status.podIP = `${podCIDR[pod.spec.nodeName!] ?? '10.244.9'}.${n}`;
        status.podIPs = [{ ip: status.podIP }];
        status.phase = 'Running';
        status.conditions = [...(status.conditions ?? []), { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: now }];
      }, { subresource: 'status' });
      setReady(ctx.api, namespace, name, state.startsReady(pod));
    },
  };
}

/** `deps` replaces the test admission (to run the controllers against the real one). */
export function testCluster(deps: (now: () => Date) => ApiDeps = (now) => testDeps(now)) {
  const clock = { now: new Date('2025-06-01T12:00:00Z') };
  const kinds = new KindRegistry();
  const store = new ObjectStore(kinds);
  const api = new ClusterApi(store, kinds, deps(() => clock.now));
  kinds.follow(store);
  const events: RecordedEvent[] = [];
  const logs: string[] = [];
  const kubelet: TestKubelet = { startsReady: () => true };
  const ctx: ControllerContext = {
    api,
    event: (o, type, reason, message, component) => { events.push({ kind: o.kind, name: o.metadata.name!, type, reason, message, component }); },
    log: (m) => { logs.push(m); },
  };
  const running: RunningController[] = [];
  const cluster = {
    api, store, events, logs, kubelet, clock,
    create(kind: KindName, obj: KubeObject) { return api.create(kind, obj.metadata.namespace, obj); },
    /** Starts controllers (and the stand-in kubelet with the first call). */
    run(...specs: ControllerSpec[]) {
      if (!running.length) running.push(runController(fakeKubelet(kubelet), ctx));
      for (const s of specs) running.push(runController(s, ctx));
    },
    /** Waits until every controller is idle and a round of them changed nothing. */
    async settle(): Promise<void> {
      for (let round = 0; round < 500; round++) {
        const before = store.resourceVersion;
        await Promise.all(running.map((r) => r.idle()));
        await new Promise((r) => setImmediate(r));
        await Promise.all(running.map((r) => r.idle()));
        if (store.resourceVersion === before) return;
      }
      throw new Error('controllers did not settle in 500 rounds (a write loop?)');
    },
    setReady: (namespace: string, name: string, ready: boolean) => setReady(api, namespace, name, ready),
    advance(ms: number) { clock.now = new Date(clock.now.getTime() + ms); },
    stop() { for (const r of running) r.stop(); },
    get<T extends KubeObject = KubeObject>(kind: KindName, namespace: string | undefined, name: string): T { return api.get(kind, namespace, name) as T; },
    list<T extends KubeObject = KubeObject>(kind: KindName, namespace?: string): T[] { return store.list(kind, namespace) as T[]; },
  };
  for (const name of ['default', 'kube-system']) api.create('Namespace', undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  api.create('Node', undefined, node('control-plane', [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }], { 'node-role.kubernetes.io/control-plane': '' }));
  api.create('Node', undefined, node('worker', []));
  return cluster;
}

export type TestCluster = ReturnType<typeof testCluster>;

export function node(name: string, taints: { key: string; value?: string; effect: string }[], labels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', ...labels } },
    spec: taints.length ? { taints } : {},
  };
}

/** A pod template of one container, with these labels and container ports. */
export function template(labels: Record<string, string>, ports: { name?: string; containerPort: number }[] = [], extra: Record<string, unknown> = {}) {
  return { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'nginx', ...(ports.length ? { ports } : {}) }], ...extra } };
}
