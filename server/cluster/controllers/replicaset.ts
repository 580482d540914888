import type { ClusterApi } from '../api.ts';
import type { KubeObject } from '../object.ts';
import { fromLabelSelector, matchesLabels } from '../selectors.ts';
import { controllerOf, objectKey, splitKey, type ControllerContext, type ControllerSpec, type ReconcileResult } from './controller.ts';
import { claim, ownerKey } from './ownership.ts';
import { condition, isPodActive, isPodAvailable, isPodReady, omitZero, podFromTemplate, readyCondition, timestamp } from './podutil.ts';
import type { Condition, LabelSelectorSpec, Pod, PodTemplate } from './types.ts';

// The ReplicaSet controller (pkg/controller/replicaset): keeps `spec.replicas` active pods that
// match the selector, creating them from the template (`<rs>-<5 chars>`, owned by the ReplicaSet)
// and deleting the surplus, the least valuable first; then reports what it counted in status.

const COMPONENT = 'replicaset-controller';
/** How many pods one sync creates or deletes at most (upstream's burstReplicas). */
const BURST = 500;

export interface ReplicaSetSpec {
  replicas?: number;
  minReadySeconds?: number;
  selector: LabelSelectorSpec;
  template: PodTemplate;
}

export interface ReplicaSetStatus {
  replicas: number;
  fullyLabeledReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  observedGeneration?: number;
  conditions?: Condition[];
}

export interface ReplicaSet extends KubeObject { spec: ReplicaSetSpec; status?: ReplicaSetStatus }

export function replicaSetController(): ControllerSpec {
  return {
    name: 'replicaset',
    watches: ['ReplicaSet', 'Pod'],
    initialKeys: (ctx) => ctx.api.store.list('ReplicaSet').map(objectKey),
    keysFor(e, ctx) {
      if (e.kind === 'ReplicaSet') return [objectKey(e.object)];
      const owner = ownerKey(e.object, 'ReplicaSet');
      if (owner) return [owner];
      // An orphan concerns every ReplicaSet that could adopt it.
      if (e.type === 'DELETED' || controllerOf(e.object)) return [];
      return (ctx.api.store.list('ReplicaSet', e.object.metadata.namespace) as ReplicaSet[])
        .filter((rs) => matchesLabels(fromLabelSelector(rs.spec.selector), e.object.metadata.labels))
        .map(objectKey);
    },
    reconcile: (key, ctx) => syncReplicaSet(key, ctx),
  };
}

function syncReplicaSet(key: string, ctx: ControllerContext): ReconcileResult {
  const { namespace, name } = splitKey(key);
  const rs = ctx.api.tryGet('ReplicaSet', namespace, name) as ReplicaSet | undefined;
  if (!rs) return;
  const selector = fromLabelSelector(rs.spec.selector);
  const candidates = (ctx.api.store.list('Pod', namespace) as Pod[]).filter(isPodActive);
  const pods = claim(ctx.api, 'Pod', rs, selector, candidates);
  let manageError: { reason: string; message: string } | undefined;
  if (!rs.metadata.deletionTimestamp) manageError = manageReplicas(rs, pods, ctx);
  const live = (ctx.api.store.list('Pod', namespace) as Pod[]).filter((p) => isPodActive(p) && controllerOf(p)?.uid === rs.metadata.uid);
  const status = calculateStatus(rs, live, manageError, ctx.api.now());
  const updated = ctx.api.mutate('ReplicaSet', namespace, name, (o) => { o.status = status; }, { subresource: 'status' });
  // A pod becomes available minReadySeconds after it became ready: look again then.
  const minReady = rs.spec.minReadySeconds ?? 0;
  const replicas = rs.spec.replicas ?? 1;
  if (updated && !manageError && minReady > 0 && status.readyReplicas === replicas && status.availableReplicas !== replicas) {
    return { requeueAfterMs: minReady * 1000 };
  }
}

/** Creates or deletes pods towards spec.replicas; returns what failed, for the ReplicaFailure condition. */
function manageReplicas(rs: ReplicaSet, pods: Pod[], ctx: ControllerContext): { reason: string; message: string } | undefined {
  const diff = pods.length - (rs.spec.replicas ?? 1);
  if (diff < 0) {
    for (let i = 0; i < Math.min(-diff, BURST); i++) {
      try {
        const pod = ctx.api.create('Pod', rs.metadata.namespace, podFromTemplate(rs.spec.template, rs));
        ctx.event(rs, 'Normal', 'SuccessfulCreate', `Created pod: ${pod.metadata.name}`, COMPONENT);
      } catch (e) {
        ctx.event(rs, 'Warning', 'FailedCreate', `Error creating: ${(e as Error).message}`, COMPONENT);
        return { reason: 'FailedCreate', message: (e as Error).message };
      }
    }
  } else if (diff > 0) {
    for (const pod of podsToDelete(ctx.api, rs, pods, Math.min(diff, BURST))) {
      try {
        ctx.api.delete('Pod', pod.metadata.namespace, pod.metadata.name!, { preconditions: { uid: pod.metadata.uid } });
        ctx.event(rs, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`, COMPONENT);
      } catch (e) {
        ctx.event(rs, 'Warning', 'FailedDelete', `Error deleting: ${(e as Error).message}`, COMPONENT);
        return { reason: 'FailedDelete', message: (e as Error).message };
      }
    }
  }
  return undefined;
}

/**
 * The `count` pods to delete, least valuable first (controller.ActivePodsWithRanks): unscheduled
 * before scheduled; Pending before Unknown before Running; not ready before ready; lower
 * pod-deletion-cost first; more pods of the same workload on its node first; ready more recently
 * first; more container restarts first; created more recently first. Times compare on a
 * logarithmic scale (LogarithmicScaleDown), ties broken by uid.
 */
function podsToDelete(api: ClusterApi, rs: ReplicaSet, pods: Pod[], count: number): Pod[] {
  if (count >= pods.length) return pods;
  const related = relatedPods(api, rs);
  const onNode = new Map<string, number>();
  for (const p of related) onNode.set(p.spec.nodeName ?? '', (onNode.get(p.spec.nodeName ?? '') ?? 0) + 1);
  const now = api.now().getTime();
  const rank = (p: Pod) => onNode.get(p.spec.nodeName ?? '') ?? 0;
  return [...pods].sort((a, b) => deletionOrder(a, b, rank, now)).slice(0, count);
}

/** The active pods of this ReplicaSet and of its siblings (those of the same Deployment). */
function relatedPods(api: ClusterApi, rs: ReplicaSet): Pod[] {
  const owner = controllerOf(rs);
  const siblings = new Set(owner
    ? api.store.list('ReplicaSet', rs.metadata.namespace).filter((o) => controllerOf(o)?.uid === owner.uid).map((o) => o.metadata.uid)
    : [rs.metadata.uid]);
  return (api.store.list('Pod', rs.metadata.namespace) as Pod[]).filter((p) => isPodActive(p) && siblings.has(controllerOf(p)?.uid));
}

const PHASE_ORDER: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };
const deletionCost = (p: Pod) => Number(p.metadata.annotations?.['controller.kubernetes.io/pod-deletion-cost'] ?? 0) || 0;
const maxRestarts = (p: Pod) => Math.max(0, ...(p.status?.containerStatuses ?? []).map((c) => c.restartCount ?? 0));

/** Negative when `a` goes first: -1 if a newer than b on the log2 scale of their ages, 0 if alike. */
function logarithmicCompare(a: string | undefined, b: string | undefined, now: number): number {
  if (!a || !b) return a ? 1 : b ? -1 : 0;
  const bucket = (t: string) => { const ns = (now - Date.parse(t)) * 1e6; return ns > 0 ? Math.floor(Math.log2(ns)) : -1; };
  return bucket(a) - bucket(b);
}

function deletionOrder(a: Pod, b: Pod, rank: (p: Pod) => number, now: number): number {
  const assigned = (p: Pod) => (p.spec.nodeName ? 1 : 0);
  if (assigned(a) !== assigned(b)) return assigned(a) - assigned(b);
  const phase = (p: Pod) => PHASE_ORDER[p.status?.phase ?? ''] ?? 0;
  if (phase(a) !== phase(b)) return phase(a) - phase(b);
  const ready = (p: Pod) => (isPodReady(p) ? 1 : 0);
  if (ready(a) !== ready(b)) return ready(a) - ready(b);
  if (deletionCost(a) !== deletionCost(b)) return deletionCost(a) - deletionCost(b);
  if (rank(a) !== rank(b)) return rank(b) - rank(a);
  const byUid = () => ((a.metadata.uid ?? '') < (b.metadata.uid ?? '') ? -1 : 1);
  if (isPodReady(a) && isPodReady(b)) {
    const ta = readyCondition(a)?.lastTransitionTime;
    const tb = readyCondition(b)?.lastTransitionTime;
    if (ta !== tb) { const d = logarithmicCompare(ta, tb, now); return d !== 0 ? d : byUid(); }
  }
  if (maxRestarts(a) !== maxRestarts(b)) return maxRestarts(b) - maxRestarts(a);
  const ca = a.metadata.creationTimestamp;
  const cb = b.metadata.creationTimestamp;
  if (ca !== cb) { const d = logarithmicCompare(ca, cb, now); return d !== 0 ? d : byUid(); }
  return 0;
}

function calculateStatus(rs: ReplicaSet, pods: Pod[], manageError: { reason: string; message: string } | undefined, now: Date): ReplicaSetStatus {
  const templateLabels = rs.spec.template.metadata?.labels ?? {};
  const minReady = rs.spec.minReadySeconds ?? 0;
  const conditions = (rs.status?.conditions ?? []).filter((c) => c.type !== 'ReplicaFailure' || manageError);
  if (manageError && !condition(conditions, 'ReplicaFailure')) {
    conditions.push({ type: 'ReplicaFailure', status: 'True', lastTransitionTime: timestamp(now), reason: manageError.reason, message: manageError.message });
  }
  const status: ReplicaSetStatus = {
    replicas: pods.length,
    fullyLabeledReplicas: pods.filter((p) => Object.entries(templateLabels).every(([k, v]) => p.metadata.labels?.[k] === v)).length,
    readyReplicas: pods.filter(isPodReady).length,
    availableReplicas: pods.filter((p) => isPodAvailable(p, minReady, now)).length,
    observedGeneration: rs.metadata.generation,
  };
  if (conditions.length) status.conditions = conditions;
  return omitZero(status, ['fullyLabeledReplicas', 'readyReplicas', 'availableReplicas']);
}
