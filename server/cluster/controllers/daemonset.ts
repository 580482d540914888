import type { KubeObject } from '../object.ts';
import { fromLabelSelector, matchesLabels } from '../selectors.ts';
import { clone } from '../store.ts';
import { changeTracker } from './changes.ts';
import { controllerOf, objectKey, splitKey, type ControllerContext, type ControllerSpec, type ReconcileResult } from './controller.ts';
import { canonicalJson, templateHash } from './hash.ts';
import { claim, ownerKey } from './ownership.ts';
import { byCreation, isPodAvailable, isPodReady, omitZero, podFromTemplate, scaledValue } from './podutil.ts';
import { matchesNodeSelectorAndAffinity, nodeNameFromAffinity, untoleratedTaint } from './placement.ts';
import type { IntOrString, LabelSelectorSpec, Node, Pod, PodTemplate, Toleration } from './types.ts';

// The DaemonSet controller (pkg/controller/daemon): one pod on every node the pod may run on
// (nodeSelector, required node affinity, taints against the template's tolerations plus those every
// daemon pod gets). The pod is pinned to its node by node affinity on `metadata.name` and left to
// the scheduler, as upstream does since 1.12. A template change rolls out node by node, at most
// maxUnavailable (default 1) nodes without an available pod at a time; OnDelete waits for the
// user to delete the old pods.

const COMPONENT = 'daemonset-controller';
const REVISION_HASH = 'controller-revision-hash';
const TEMPLATE_GENERATION = 'pod-template-generation';
const TEMPLATE_GENERATION_ANNOTATION = 'deprecated.daemonset.template.generation';

interface DaemonSetSpec {
  selector: LabelSelectorSpec;
  template: PodTemplate;
  minReadySeconds?: number;
  updateStrategy?: { type?: 'RollingUpdate' | 'OnDelete'; rollingUpdate?: { maxUnavailable?: IntOrString; maxSurge?: IntOrString } };
}

interface DaemonSet extends KubeObject { spec: DaemonSetSpec; status?: Record<string, unknown> }

/** The tolerations the controller adds to every daemon pod, so that node problems do not evict it. */
function daemonTolerations(hostNetwork: boolean): Toleration[] {
  const t = (key: string, effect: Toleration['effect']): Toleration => ({ key: `node.kubernetes.io/${key}`, operator: 'Exists', effect });
  return [
    t('not-ready', 'NoExecute'), t('unreachable', 'NoExecute'), t('disk-pressure', 'NoSchedule'), t('memory-pressure', 'NoSchedule'),
    t('pid-pressure', 'NoSchedule'), t('unschedulable', 'NoSchedule'), ...(hostNetwork ? [t('network-unavailable', 'NoSchedule')] : []),
  ];
}

function withDaemonTolerations(tolerations: Toleration[] | undefined, hostNetwork: boolean): Toleration[] {
  const out = [...(tolerations ?? [])];
  const same = (a: Toleration, b: Toleration) => a.key === b.key && (a.operator ?? 'Equal') === (b.operator ?? 'Equal') && (a.value ?? '') === (b.value ?? '') && (a.effect ?? '') === (b.effect ?? '');
  for (const t of daemonTolerations(hostNetwork)) if (!out.some((o) => same(o, t))) out.push(t);
  return out;
}

/** Whether a daemon pod should be started on the node, and whether one already there may stay. */
export function nodeShouldRunDaemonPod(node: Node, ds: DaemonSet): { shouldRun: boolean; shouldContinueRunning: boolean } {
  const spec = ds.spec.template.spec;
  if (spec.nodeName && spec.nodeName !== node.metadata.name) return { shouldRun: false, shouldContinueRunning: false };
  if (!matchesNodeSelectorAndAffinity(spec, node)) return { shouldRun: false, shouldContinueRunning: false };
  const tolerations = withDaemonTolerations(spec.tolerations, !!spec.hostNetwork);
  if (untoleratedTaint(node, tolerations, ['NoSchedule', 'NoExecute'])) {
    return { shouldRun: false, shouldContinueRunning: !untoleratedTaint(node, tolerations, ['NoExecute']) };
  }
  return { shouldRun: true, shouldContinueRunning: true };
}

const templateGeneration = (ds: DaemonSet) => ds.metadata.annotations?.[TEMPLATE_GENERATION_ANNOTATION] ?? String(ds.metadata.generation ?? 1);

/** A pod of the current template: by the revision hash, or by the (deprecated) template generation. */
const isPodUpdated = (pod: Pod, hash: string, generation: string) =>
  pod.metadata.labels?.[REVISION_HASH] === hash || pod.metadata.labels?.[TEMPLATE_GENERATION] === generation;

const targetNode = (pod: Pod) => pod.spec.nodeName || nodeNameFromAffinity(pod.spec) || '';

export function daemonSetController(): ControllerSpec {
  const nodeChanged = changeTracker((n: Node) => canonicalJson([n.metadata.labels, n.spec?.taints]));
  return {
    name: 'daemonset',
    watches: ['DaemonSet', 'Pod', 'Node'],
    initialKeys(ctx) {
      for (const n of ctx.api.store.list('Node') as Node[]) nodeChanged(n.metadata.name!, n);
      return ctx.api.store.list('DaemonSet').map(objectKey);
    },
    keysFor(e, ctx) {
      if (e.kind === 'DaemonSet') return [objectKey(e.object)];
      if (e.kind === 'Node') return nodeChanged(e.object.metadata.name!, e.type === 'DELETED' ? undefined : e.object as Node) ? ctx.api.store.list('DaemonSet').map(objectKey) : [];
      const owner = ownerKey(e.object, 'DaemonSet');
      if (owner) return [owner];
      if (e.type === 'DELETED' || controllerOf(e.object)) return [];
      return (ctx.api.store.list('DaemonSet', e.object.metadata.namespace) as DaemonSet[])
        .filter((ds) => matchesLabels(fromLabelSelector(ds.spec.selector), e.object.metadata.labels)).map(objectKey);
    },
    reconcile: (key, ctx) => new DaemonSetSync(key, ctx).run(),
  };
}

class DaemonSetSync {
  private ds!: DaemonSet;
  private hash = '';
  private generation = '';

  constructor(private readonly key: string, private readonly ctx: ControllerContext) {}

  run(): ReconcileResult {
    const { namespace, name } = splitKey(this.key);
    const ds = this.ctx.api.tryGet('DaemonSet', namespace, name) as DaemonSet | undefined;
    if (!ds) return;
    this.ds = ds;
    this.hash = templateHash(ds.spec.template);
    this.generation = templateGeneration(ds);
    const nodes = this.ctx.api.store.list('Node') as Node[];
    if (!ds.metadata.deletionTimestamp) {
      this.manage(nodes);
      if ((ds.spec.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate') this.rollingUpdate(nodes);
    }
    return this.updateStatus(nodes);
  }

  /** The claimed pods by the node they are (or will be) on. */
  private podsByNode(): Map<string, Pod[]> {
    const all = this.ctx.api.store.list('Pod', this.ds.metadata.namespace) as Pod[];
    const pods = claim(this.ctx.api, 'Pod', this.ds, fromLabelSelector(this.ds.spec.selector), all);
    const byNode = new Map<string, Pod[]>();
    for (const p of pods) byNode.set(targetNode(p), [...(byNode.get(targetNode(p)) ?? []), p]);
    return byNode;
  }

  /** Creates the missing daemon pods and deletes those that should not be where they are. */
  private manage(nodes: Node[]): void {
    const byNode = this.podsByNode();
    const toCreate: string[] = [];
    const toDelete: Pod[] = [];
    for (const node of nodes) {
      const name = node.metadata.name!;
      const pods = byNode.get(name) ?? [];
      const { shouldRun, shouldContinueRunning } = nodeShouldRunDaemonPod(node, this.ds);
      const alive = pods.filter((p) => !p.metadata.deletionTimestamp);
      if (shouldRun && !pods.length) toCreate.push(name);
      else if (shouldContinueRunning) {
        const running: Pod[] = [];
        for (const p of alive) {
          if (p.status?.phase === 'Failed') {
            this.ctx.event(this.ds, 'Warning', 'FailedDaemonPod', `Found failed daemon pod ${p.metadata.namespace}/${p.metadata.name} on node ${name}, will try to kill it`, COMPONENT);
            toDelete.push(p);
          } else running.push(p);
        }
        // One pod per node: the oldest stays.
        toDelete.push(...running.sort(byCreation).slice(1));
      } else toDelete.push(...alive);
    }
    // Unscheduled pods meant for nodes that are gone.
    const known = new Set(nodes.map((n) => n.metadata.name));
    for (const [name, pods] of byNode) if (!known.has(name)) toDelete.push(...pods.filter((p) => !p.spec.nodeName && !p.metadata.deletionTimestamp));
    this.syncNodes(toCreate, toDelete);
  }

  private syncNodes(toCreate: string[], toDelete: Pod[]): void {
    for (const node of toCreate) {
      const pod = this.ctx.api.create('Pod', this.ds.metadata.namespace, this.newPod(node));
      this.ctx.event(this.ds, 'Normal', 'SuccessfulCreate', `Created pod: ${pod.metadata.name}`, COMPONENT);
    }
    for (const p of toDelete) {
      this.ctx.api.delete('Pod', p.metadata.namespace, p.metadata.name!, { preconditions: { uid: p.metadata.uid } });
      this.ctx.event(this.ds, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`, COMPONENT);
    }
  }

  /** A daemon pod for a node: revision labels, the daemon tolerations, and node affinity to that node alone. */
  private newPod(node: string): Pod {
    const template = clone(this.ds.spec.template);
    template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, [REVISION_HASH]: this.hash, [TEMPLATE_GENERATION]: this.generation } };
    const pod = podFromTemplate(template, this.ds);
    pod.spec.tolerations = withDaemonTolerations(pod.spec.tolerations, !!pod.spec.hostNetwork);
    const term = { matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] };
    const affinity = (pod.spec.affinity ??= {});
    const nodeAffinity = (affinity.nodeAffinity ??= {});
    // Any required terms of the template were already checked against the node: replaced, not merged.
    nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution = { nodeSelectorTerms: [term] };
    return pod;
  }

  /**
   * Replaces old pods: those not available at once, then available ones while fewer than
   * maxUnavailable nodes lack an available pod of the new template. The deleted pods' nodes get
   * new pods from manage() on the next sync.
   */
  private rollingUpdate(nodes: Node[]): void {
    const byNode = this.podsByNode();
    const desired = nodes.filter((n) => nodeShouldRunDaemonPod(n, this.ds).shouldRun).length;
    let maxUnavailable = scaledValue(this.ds.spec.updateStrategy?.rollingUpdate?.maxUnavailable, desired, true, 1);
    if (maxUnavailable === 0) maxUnavailable = 1;
    const now = this.ctx.api.now();
    const minReady = this.ds.spec.minReadySeconds ?? 0;
    let unavailable = 0;
    const replaceNow: Pod[] = [];
    const candidates: Pod[] = [];
    for (const [, pods] of byNode) {
      const alive = pods.filter((p) => !p.metadata.deletionTimestamp);
      const fresh = alive.filter((p) => isPodUpdated(p, this.hash, this.generation));
      const old = alive.filter((p) => !isPodUpdated(p, this.hash, this.generation));
      if (fresh.length > 1 || old.length > 1 || (!fresh.length && !old.length) || (fresh.length && old.length)) { unavailable++; continue; }
      if (fresh.length) { if (!isPodAvailable(fresh[0], minReady, now)) unavailable++; continue; }
      if (!isPodAvailable(old[0], minReady, now)) replaceNow.push(old[0]);
      else if (unavailable < maxUnavailable) candidates.push(old[0]);
    }
    const room = Math.min(Math.max(0, maxUnavailable - unavailable), candidates.length);
    this.syncNodes([], [...replaceNow, ...candidates.slice(0, room)]);
  }

  private updateStatus(nodes: Node[]): ReconcileResult {
    const byNode = this.podsByNode();
    const now = this.ctx.api.now();
    const minReady = this.ds.spec.minReadySeconds ?? 0;
    let desired = 0, current = 0, misscheduled = 0, ready = 0, available = 0, updated = 0;
    for (const node of nodes) {
      const pods = byNode.get(node.metadata.name!) ?? [];
      if (!nodeShouldRunDaemonPod(node, this.ds).shouldRun) { if (pods.length) misscheduled++; continue; }
      desired++;
      if (!pods.length) continue;
      current++;
      const pod = [...pods].sort(byCreation)[0];
      if (isPodReady(pod)) { ready++; if (isPodAvailable(pod, minReady, now)) available++; }
      if (isPodUpdated(pod, this.hash, this.generation)) updated++;
    }
    const status = omitZero({
      currentNumberScheduled: current,
      numberMisscheduled: misscheduled,
      desiredNumberScheduled: desired,
      numberReady: ready,
      observedGeneration: this.ds.metadata.generation,
      updatedNumberScheduled: updated,
      numberAvailable: available,
      numberUnavailable: desired - available,
      ...(this.ds.status?.collisionCount !== undefined ? { collisionCount: this.ds.status.collisionCount } : {}),
    }, ['updatedNumberScheduled', 'numberAvailable', 'numberUnavailable']);
    const { namespace, name } = splitKey(this.key);
    this.ctx.api.mutate('DaemonSet', namespace, name, (o) => { o.status = status; }, { subresource: 'status' });
    // Pods that are ready but not yet available for minReadySeconds become so without an event.
    if (minReady > 0 && ready !== available) return { requeueAfterMs: minReady * 1000 };
  }
}
