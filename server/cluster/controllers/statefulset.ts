import type { KubeObject } from '../object.ts';
import { fromLabelSelector, matchesLabels } from '../selectors.ts';
import { controllerOf, objectKey, splitKey, type ControllerContext, type ControllerSpec, type ReconcileResult } from './controller.ts';
import { templateHash } from './hash.ts';
import { claim, ownerKey } from './ownership.ts';
import { isPodAvailable, isPodReady, isTerminal, isTerminating, omitZero, podFromTemplate } from './podutil.ts';
import type { IntOrString, LabelSelectorSpec, Pod, PodTemplate } from './types.ts';

// The StatefulSet controller (pkg/controller/statefulset): pods with stable names `<set>-<ordinal>`,
// hostnames and the governing Service as subdomain. OrderedReady creates them one at a time in
// ordinal order, each only once its predecessors are Running and Ready, and removes them from the
// highest ordinal down, one at a time; Parallel does both at once. A template change (a new update
// revision) replaces pods from the highest ordinal down to the partition, one healthy pod at a time.

const COMPONENT = 'statefulset-controller';
const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';
const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';
const REVISION_LABEL = 'controller-revision-hash';

interface StatefulSetSpec {
  replicas?: number;
  selector: LabelSelectorSpec;
  template: PodTemplate;
  serviceName?: string;
  podManagementPolicy?: 'OrderedReady' | 'Parallel';
  updateStrategy?: { type?: 'RollingUpdate' | 'OnDelete'; rollingUpdate?: { partition?: number; maxUnavailable?: IntOrString } };
  minReadySeconds?: number;
  ordinals?: { start?: number };
}

interface StatefulSetStatus { currentRevision?: string; updateRevision?: string; collisionCount?: number; [field: string]: unknown }

interface StatefulSet extends KubeObject { spec: StatefulSetSpec; status?: StatefulSetStatus }

/** The ordinal in a member pod's name, or -1 for a pod that is not `<set>-<n>`. */
function ordinalOf(set: StatefulSet, pod: KubeObject): number {
  const m = /^(.*)-(\d+)$/.exec(pod.metadata.name ?? '');
  return m && m[1] === set.metadata.name ? Number(m[2]) : -1;
}

const revisionOf = (pod: Pod) => pod.metadata.labels?.[REVISION_LABEL];

export function statefulSetController(): ControllerSpec {
  return {
    name: 'statefulset',
    watches: ['StatefulSet', 'Pod'],
    initialKeys: (ctx) => ctx.api.store.list('StatefulSet').map(objectKey),
    keysFor(e, ctx) {
      if (e.kind === 'StatefulSet') return [objectKey(e.object)];
      const owner = ownerKey(e.object, 'StatefulSet');
      if (owner) return [owner];
      if (e.type === 'DELETED' || controllerOf(e.object)) return [];
      return (ctx.api.store.list('StatefulSet', e.object.metadata.namespace) as StatefulSet[])
        .filter((s) => matchesLabels(fromLabelSelector(s.spec.selector), e.object.metadata.labels)).map(objectKey);
    },
    reconcile: (key, ctx) => new StatefulSetSync(key, ctx).run(),
  };
}

class StatefulSetSync {
  private set!: StatefulSet;
  private updateRevision = '';
  private currentRevision = '';
  private readonly now: Date;

  constructor(private readonly key: string, private readonly ctx: ControllerContext) {
    this.now = ctx.api.now();
  }

  private get minReady() { return this.set.spec.minReadySeconds ?? 0; }
  private runningAndReady = (p: Pod) => p.status?.phase === 'Running' && isPodReady(p);
  private healthy = (p: Pod | undefined) => !!p && this.runningAndReady(p) && !isTerminating(p) && isPodAvailable(p, this.minReady, this.now);

  run(): ReconcileResult {
    const { namespace, name } = splitKey(this.key);
    const set = this.ctx.api.tryGet('StatefulSet', namespace, name) as StatefulSet | undefined;
    if (!set) return;
    this.set = set;
    this.updateRevision = `${name}-${templateHash(set.spec.template)}`;
    this.currentRevision = set.status?.currentRevision ?? this.updateRevision;
    if (!set.metadata.deletionTimestamp) this.update(this.pods());
    const { ready, available } = this.writeStatus(this.pods());
    // Pods that are ready but not yet available for minReadySeconds become so without an event.
    if (this.minReady > 0 && ready !== available) return { requeueAfterMs: this.minReady * 1000 };
  }

  private pods(): Pod[] {
    const all = (this.ctx.api.store.list('Pod', this.set.metadata.namespace) as Pod[]).filter((p) => ordinalOf(this.set, p) >= 0);
    return claim(this.ctx.api, 'Pod', this.set, fromLabelSelector(this.set.spec.selector), all);
  }

  private update(pods: Pod[]): void {
    const set = this.set;
    const start = set.spec.ordinals?.start ?? 0;
    const end = start + (set.spec.replicas ?? 1);
    const monotonic = set.spec.podManagementPolicy !== 'Parallel';
    const byOrdinal = new Map(pods.map((p) => [ordinalOf(set, p), p]));
    const ordinals = Array.from({ length: end - start }, (_, i) => start + i);
    const condemned = pods.filter((p) => ordinalOf(set, p) < start || ordinalOf(set, p) >= end).sort((a, b) => ordinalOf(set, b) - ordinalOf(set, a));
    // The first pod (in ordinal order, then condemned from the lowest) that is missing or unhealthy.
    const firstUnhealthy = ordinals.map((o) => byOrdinal.get(o)).find((p) => !this.healthy(p)) ?? [...condemned].reverse().find((p) => !this.healthy(p));

    for (const ordinal of ordinals) {
      const pod = byOrdinal.get(ordinal);
      if (pod && isTerminal(pod)) {
        // A finished pod is deleted, and recreated once it is gone.
        if (!isTerminating(pod)) this.deletePod(pod);
        return;
      }
      if (!pod) {
        this.createPod(ordinal);
        if (monotonic) return;
        continue;
      }
      if (monotonic && (isTerminating(pod) || !this.runningAndReady(pod) || !isPodAvailable(pod, this.minReady, this.now))) return;
      this.restoreIdentity(pod, ordinal);
    }

    for (const pod of condemned) {
      if (isTerminating(pod)) { if (monotonic) return; continue; }
      if (monotonic && pod !== firstUnhealthy && !this.healthy(pod)) return;
      this.deletePod(pod);
      if (monotonic) return;
    }

    if ((set.spec.updateStrategy?.type ?? 'RollingUpdate') !== 'RollingUpdate') return;
    const partition = set.spec.updateStrategy?.rollingUpdate?.partition ?? 0;
    for (let i = ordinals.length - 1; i >= partition; i--) {
      const pod = byOrdinal.get(ordinals[i]);
      if (!pod) continue;
      if (revisionOf(pod) !== this.updateRevision && !isTerminating(pod)) { this.deletePod(pod); return; }
      if (!this.healthy(pod)) return;
    }
  }

  private createPod(ordinal: number): void {
    const set = this.set;
    const pod = podFromTemplate(set.spec.template, set);
    const name = `${set.metadata.name}-${ordinal}`;
    delete pod.metadata.generateName;
    pod.metadata.name = name;
    pod.metadata.labels = { ...pod.metadata.labels, [REVISION_LABEL]: this.updateRevision, [POD_NAME_LABEL]: name, [POD_INDEX_LABEL]: String(ordinal) };
    pod.spec.hostname = name;
    if (set.spec.serviceName) pod.spec.subdomain = set.spec.serviceName;
    try {
      this.ctx.api.create('Pod', set.metadata.namespace, pod);
    } catch (e) {
      this.ctx.event(set, 'Warning', 'FailedCreate', `create Pod ${name} in StatefulSet ${set.metadata.name} failed error: ${(e as Error).message}`, COMPONENT);
      throw e;
    }
    this.ctx.event(set, 'Normal', 'SuccessfulCreate', `create Pod ${name} in StatefulSet ${set.metadata.name} successful`, COMPONENT);
  }

  private deletePod(pod: Pod): void {
    const set = this.set;
    try {
      this.ctx.api.delete('Pod', pod.metadata.namespace, pod.metadata.name!, { preconditions: { uid: pod.metadata.uid } });
    } catch (e) {
      this.ctx.event(set, 'Warning', 'FailedDelete', `delete Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} failed error: ${(e as Error).message}`, COMPONENT);
      throw e;
    }
    this.ctx.event(set, 'Normal', 'SuccessfulDelete', `delete Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} successful`, COMPONENT);
  }

  /** The identity labels come back if someone removed them (hostname and subdomain cannot change on a pod). */
  private restoreIdentity(pod: Pod, ordinal: number): void {
    const want = { [POD_NAME_LABEL]: pod.metadata.name!, [POD_INDEX_LABEL]: String(ordinal) };
    if (Object.entries(want).every(([k, v]) => pod.metadata.labels?.[k] === v)) return;
    this.ctx.api.mutate('Pod', pod.metadata.namespace, pod.metadata.name!, (o) => { o.metadata.labels = { ...o.metadata.labels, ...want }; });
  }

  private writeStatus(pods: Pod[]): { ready: number; available: number } {
    const set = this.set;
    let replicas = 0, ready = 0, available = 0, current = 0, updated = 0;
    for (const p of pods) {
      replicas++;
      if (this.runningAndReady(p)) { ready++; if (isPodAvailable(p, this.minReady, this.now)) available++; }
      if (!isTerminating(p)) {
        if (revisionOf(p) === this.currentRevision) current++;
        if (revisionOf(p) === this.updateRevision) updated++;
      }
    }
    let currentRevision = this.currentRevision;
    // A rolling update is complete when every pod is of the update revision and ready.
    if ((set.spec.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate' && updated === replicas && ready === replicas) {
      current = updated;
      currentRevision = this.updateRevision;
    }
    const status = omitZero({
      observedGeneration: set.metadata.generation,
      replicas,
      readyReplicas: ready,
      currentReplicas: current,
      updatedReplicas: updated,
      currentRevision,
      updateRevision: this.updateRevision,
      collisionCount: set.status?.collisionCount ?? 0,
      availableReplicas: available,
    }, ['readyReplicas', 'currentReplicas', 'updatedReplicas']);
    const { namespace, name } = splitKey(this.key);
    this.ctx.api.mutate('StatefulSet', namespace, name, (o) => { o.status = status; }, { subresource: 'status' });
    return { ready, available };
  }
}
