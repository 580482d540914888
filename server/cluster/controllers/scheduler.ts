import type { ClusterApi } from '../api.ts';
import { conflict } from '../object.ts';
import { changeTracker } from './changes.ts';
import { canonicalJson } from './hash.ts';
import { controllerOf, objectKey, splitKey, type ControllerContext, type ControllerSpec, type ReconcileResult } from './controller.ts';
import { isTerminal, timestamp } from './podutil.ts';
import { matchesNodeSelectorAndAffinity, tolerates, untoleratedTaint } from './placement.ts';
import type { Condition, Node, Pod, Taint } from './types.ts';

// kube-scheduler's default profile, reduced to what a lab needs: a pod of `default-scheduler`
// without a node goes through the filters in upstream's order (NodeUnschedulable, TaintToleration,
// NodeAffinity: the first that rejects a node gives its reason), the feasible node with the fewest
// pods of the same owner, then the fewest pods, wins, and the pod is bound (spec.nodeName and
// PodScheduled=True, as the Binding subresource writes them). A pod that fits nowhere gets
// PodScheduled=False/Unschedulable with the scheduler's FitError text and a FailedScheduling
// event, and is tried again when a node changes in a way that could matter (and every 5 minutes).

const SCHEDULER = 'default-scheduler';
/** How long an unschedulable pod waits without a node event before another attempt (podMaxInUnschedulablePodsDuration). */
const UNSCHEDULABLE_RETRY_MS = 5 * 60_000;

const isOurs = (pod: Pod) => !pod.spec.nodeName && (pod.spec.schedulerName ?? SCHEDULER) === SCHEDULER && !pod.metadata.deletionTimestamp;

/**
 * What of a node the filters read, and of a pod its spec: other changes (node heartbeats, the
 * scheduler's own status writes) do not start another attempt.
 */
const nodeFacts = (n: Node) => canonicalJson([n.metadata.labels, n.spec?.taints, n.spec?.unschedulable]);
const podFacts = (p: Pod) => canonicalJson(p.spec);

export function scheduler(): ControllerSpec {
  const nodeChanged = changeTracker(nodeFacts);
  const podChanged = changeTracker(podFacts);
  const pending = (api: ClusterApi) => (api.store.list('Pod') as Pod[]).filter(isOurs).map(objectKey);
  return {
    name: 'scheduler',
    watches: ['Pod', 'Node'],
    initialKeys(ctx) {
      for (const n of ctx.api.store.list('Node') as Node[]) nodeChanged(objectKey(n), n);
      const pods = (ctx.api.store.list('Pod') as Pod[]).filter(isOurs);
      for (const p of pods) podChanged(objectKey(p), p);
      return pods.map(objectKey);
    },
    keysFor(e, ctx) {
      const key = objectKey(e.object);
      if (e.kind === 'Pod') {
        const waiting = e.type !== 'DELETED' && isOurs(e.object as Pod);
        return podChanged(key, waiting ? e.object as Pod : undefined) && waiting ? [key] : [];
      }
      return nodeChanged(key, e.type === 'DELETED' ? undefined : e.object as Node) ? pending(ctx.api) : [];
    },
    reconcile: (key, ctx) => schedule(key, ctx),
  };
}

/** A cordoned node admits the pods that tolerate this taint (DaemonSet pods do). */
const UNSCHEDULABLE_TAINT: Taint = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' };

/** Why a node cannot take a pod, in the filter plugins' words, or undefined when it can. */
function filterNode(pod: Pod, node: Node): string | undefined {
  const tolerations = pod.spec.tolerations;
  if (node.spec?.unschedulable && !(tolerations ?? []).some((t) => tolerates(t, UNSCHEDULABLE_TAINT))) return 'node(s) were unschedulable';
  const taint = untoleratedTaint(node, tolerations, ['NoSchedule', 'NoExecute']);
  if (taint) return `node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`;
  if (!matchesNodeSelectorAndAffinity(pod.spec, node)) return "node(s) didn't match Pod's node affinity/selector";
  return undefined;
}

/** A histogram of reasons, "N reason" sorted as text, as FitError prints it. */
function histogram(reasons: string[]): string {
  const counts = new Map<string, number>();
  for (const r of reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
  return [...counts].map(([r, n]) => `${n} ${r}`).sort().join(', ');
}

/**
 * The FitError message. Every reason these filters give is UnschedulableAndUnresolvable, so
 * preemption (the PostFilter) reports that evicting pods would help on no node.
 */
export function unschedulableMessage(pod: Pod, reasons: string[]): string {
  const total = reasons.length;
  const preemption = pod.spec.preemptionPolicy === 'Never'
    ? 'preemption: not eligible due to preemptionPolicy=Never.'
    : `preemption: 0/${total} nodes are available: ${total} Preemption is not helpful for scheduling.`;
  return `0/${total} nodes are available: ${histogram(reasons)}. ${preemption}`;
}

function schedule(key: string, ctx: ControllerContext): ReconcileResult {
  const { namespace, name } = splitKey(key);
  const pod = ctx.api.tryGet('Pod', namespace, name) as Pod | undefined;
  if (!pod || !isOurs(pod)) return;
  const nodes = ctx.api.store.list('Node') as Node[];
  if (!nodes.length) return fail(ctx, pod, 'no nodes available to schedule pods');
  const feasible: Node[] = [];
  const reasons: string[] = [];
  for (const n of nodes) {
    const why = filterNode(pod, n);
    if (why) reasons.push(why); else feasible.push(n);
  }
  if (!feasible.length) return fail(ctx, pod, unschedulableMessage(pod, reasons));
  const chosen = pickNode(ctx.api, pod, feasible);
  bindPod(ctx.api, pod, chosen.metadata.name!);
  ctx.event(pod, 'Normal', 'Scheduled', `Successfully assigned ${namespace}/${name} to ${chosen.metadata.name}`, SCHEDULER);
}

/** Spreads pods: fewest pods of the same controller, then fewest pods, then the node's name. */
function pickNode(api: ClusterApi, pod: Pod, feasible: Node[]): Node {
  const owner = controllerOf(pod)?.uid;
  const placed = (api.store.list('Pod') as Pod[]).filter((p) => p.spec.nodeName && !isTerminal(p));
  const load = (n: Node) => {
    const here = placed.filter((p) => p.spec.nodeName === n.metadata.name);
    return [owner ? here.filter((p) => controllerOf(p)?.uid === owner).length : 0, here.length];
  };
  return feasible.map((n) => ({ n, l: load(n) }))
    .sort((a, b) => a.l[0] - b.l[0] || a.l[1] - b.l[1] || a.n.metadata.name!.localeCompare(b.n.metadata.name!))[0].n;
}

function fail(ctx: ControllerContext, pod: Pod, message: string): ReconcileResult {
  const now = timestamp(ctx.api.now());
  ctx.api.mutate('Pod', pod.metadata.namespace, pod.metadata.name!, (o) => {
    const p = o as Pod;
    const status = (p.status ??= {});
    const cur = status.conditions?.find((c) => c.type === 'PodScheduled');
    if (cur?.status === 'False' && cur.reason === 'Unschedulable' && cur.message === message) return false;
    const cond: Condition = { type: 'PodScheduled', status: 'False', lastProbeTime: null, lastTransitionTime: cur?.status === 'False' ? cur.lastTransitionTime : now, reason: 'Unschedulable', message };
    status.conditions = [...(status.conditions ?? []).filter((c) => c.type !== 'PodScheduled'), cond];
  }, { subresource: 'status' });
  ctx.event(pod, 'Warning', 'FailedScheduling', message, SCHEDULER);
  return { requeueAfterMs: UNSCHEDULABLE_RETRY_MS };
}

/**
 * What POST pods/<name>/binding stores: the node in spec.nodeName and PodScheduled=True, in one
 * write. A Binding is its own path in the API server (a pod update may not set nodeName), so this
 * writes the store directly after the checks the binding registry makes.
 */
export function bindPod(api: ClusterApi, pod: Pod, nodeName: string): Pod {
  const current = api.tryGet('Pod', pod.metadata.namespace, pod.metadata.name!) as Pod | undefined;
  if (!current || current.metadata.uid !== pod.metadata.uid) throw conflict('pods', '', pod.metadata.name!, 'the object has been modified; please apply your changes to the latest version and try again');
  if (current.spec.nodeName) throw conflict('pods', '', pod.metadata.name!, `pod ${pod.metadata.name} is already assigned to node "${current.spec.nodeName}"`);
  if (current.metadata.deletionTimestamp) throw conflict('pods', '', pod.metadata.name!, `pod ${pod.metadata.name} is being deleted, cannot be assigned to a host`);
  current.spec.nodeName = nodeName;
  const status = (current.status ??= {});
  const cond: Condition = { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: timestamp(api.now()) };
  status.conditions = [...(status.conditions ?? []).filter((c) => c.type !== 'PodScheduled'), cond];
  return api.store.put('Pod', current) as Pod;
}
