import { ApiError, type KubeObject } from '../object.ts';
import { fromLabelSelector, matchesLabels } from '../selectors.ts';
import { clone } from '../store.ts';
import { controllerOf, objectKey, splitKey, type ControllerContext, type ControllerSpec, type ReconcileResult } from './controller.ts';
import { canonicalJson, templateHash } from './hash.ts';
import { claim, ownerKey } from './ownership.ts';
import { byCreation, controllerRef, omitZero, scaledValue, timestamp } from './podutil.ts';
import type { ReplicaSet } from './replicaset.ts';
import type { Condition, IntOrString, LabelSelectorSpec, Pod, PodTemplate } from './types.ts';

// The Deployment controller (pkg/controller/deployment): one ReplicaSet per pod template,
// `<deployment>-<pod-template-hash>`, the newest scaled up and the older ones down as the
// strategy allows (RollingUpdate: at most replicas+maxSurge pods, at least replicas-maxUnavailable
// available; Recreate: all old pods gone before new ones start), revisions recorded in annotations,
// old ReplicaSets beyond revisionHistoryLimit deleted, and progress reported as the Available and
// Progressing conditions that `kubectl rollout status` reads.

const COMPONENT = 'deployment-controller';
const HASH_LABEL = 'pod-template-hash';
const REVISION = 'deployment.kubernetes.io/revision';
const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
const DESIRED_REPLICAS = 'deployment.kubernetes.io/desired-replicas';
const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';
/** Annotations of a Deployment that are not copied onto its ReplicaSets. */
const NOT_COPIED = new Set(['kubectl.kubernetes.io/last-applied-configuration', REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, 'deprecated.deployment.rollback.to']);
/** The longest revision-history annotation kept. */
const REVISION_HISTORY_CHARS = 2000;

export interface DeploymentSpec {
  replicas?: number;
  selector: LabelSelectorSpec;
  template: PodTemplate;
  strategy?: { type?: 'RollingUpdate' | 'Recreate'; rollingUpdate?: { maxSurge?: IntOrString; maxUnavailable?: IntOrString } };
  minReadySeconds?: number;
  revisionHistoryLimit?: number;
  progressDeadlineSeconds?: number;
  paused?: boolean;
}

export interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  collisionCount?: number;
  conditions?: Condition[];
}

interface Deployment extends KubeObject { spec: DeploymentSpec; status?: DeploymentStatus }

export function deploymentController(): ControllerSpec {
  return {
    name: 'deployment',
    watches: ['Deployment', 'ReplicaSet', 'Pod'],
    initialKeys: (ctx) => ctx.api.store.list('Deployment').map(objectKey),
    keysFor(e, ctx) {
      if (e.kind === 'Deployment') return [objectKey(e.object)];
      if (e.kind === 'ReplicaSet') {
        const owner = ownerKey(e.object, 'Deployment');
        if (owner) return [owner];
        if (e.type === 'DELETED' || controllerOf(e.object)) return [];
        return (ctx.api.store.list('Deployment', e.object.metadata.namespace) as Deployment[])
          .filter((d) => matchesLabels(fromLabelSelector(d.spec.selector), e.object.metadata.labels)).map(objectKey);
      }
      // A Recreate rollout waits for the old pods to be gone.
      if (e.type !== 'DELETED') return [];
      const rsKey = ownerKey(e.object, 'ReplicaSet');
      const rs = rsKey && ctx.api.tryGet('ReplicaSet', e.object.metadata.namespace, splitKey(rsKey).name);
      const d = rs && ownerKey(rs, 'Deployment');
      return d ? [d] : [];
    },
    reconcile: (key, ctx) => new DeploymentSync(key, ctx).run(),
  };
}

// ---- the arithmetic of a rollout (deployment/util) -------------------------------------------

const replicasOf = (d: Deployment) => d.spec.replicas ?? 1;
const specReplicas = (rs: ReplicaSet) => rs.spec.replicas ?? 1;
const isRollingUpdate = (d: Deployment) => (d.spec.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
const sum = (rss: ReplicaSet[], f: (rs: ReplicaSet) => number) => rss.reduce((n, rs) => n + f(rs), 0);
const active = (rss: ReplicaSet[]) => rss.filter((rs) => specReplicas(rs) > 0);
const revisionOf = (o: KubeObject) => Number(o.metadata.annotations?.[REVISION] ?? 0) || 0;
const hasProgressDeadline = (d: Deployment) => (d.spec.progressDeadlineSeconds ?? 600) !== 2147483647;
const progressDeadline = (d: Deployment) => d.spec.progressDeadlineSeconds ?? 600;

/** maxSurge rounds up and maxUnavailable down; both zero would stall, so maxUnavailable becomes 1. */
function fenceposts(d: Deployment): { surge: number; unavailable: number } {
  const ru = d.spec.strategy?.rollingUpdate;
  const surge = scaledValue(ru?.maxSurge, replicasOf(d), true, '25%');
  const unavailable = scaledValue(ru?.maxUnavailable, replicasOf(d), false, '25%');
  return surge === 0 && unavailable === 0 ? { surge, unavailable: 1 } : { surge, unavailable };
}

export const maxSurge = (d: Deployment) => (isRollingUpdate(d) ? fenceposts(d).surge : 0);
export const maxUnavailable = (d: Deployment) => (isRollingUpdate(d) && replicasOf(d) > 0 ? Math.min(fenceposts(d).unavailable, replicasOf(d)) : 0);

/** Pod templates equal but for the pod-template-hash label the ReplicaSet's carries. */
function equalIgnoreHash(a: PodTemplate, b: PodTemplate): boolean {
  const strip = (t: PodTemplate) => {
    const c = clone(t);
    if (c.metadata?.labels) { delete c.metadata.labels[HASH_LABEL]; if (!Object.keys(c.metadata.labels).length) delete c.metadata.labels; }
    return canonicalJson(c);
  };
  return strip(a) === strip(b);
}

/** How many replicas the new ReplicaSet may have now. */
function newRSNewReplicas(d: Deployment, all: ReplicaSet[], newRS: ReplicaSet): number {
  if (!isRollingUpdate(d)) return replicasOf(d);
  const maxTotal = replicasOf(d) + maxSurge(d);
  const current = sum(all, specReplicas);
  if (current >= maxTotal) return specReplicas(newRS);
  return specReplicas(newRS) + Math.min(maxTotal - current, replicasOf(d) - specReplicas(newRS));
}

function setReplicasAnnotations(rs: ReplicaSet, desired: number, max: number): boolean {
  const a = (rs.metadata.annotations ??= {});
  const changed = a[DESIRED_REPLICAS] !== String(desired) || a[MAX_REPLICAS] !== String(max);
  a[DESIRED_REPLICAS] = String(desired);
  a[MAX_REPLICAS] = String(max);
  return changed;
}

/**
 * The new ReplicaSet's annotations: the Deployment's own (but the skipped ones), its revision (one
 * more than any old one; a rollback moves a revision forward and remembers the old one in
 * revision-history) and, at creation, the replica counts.
 */
function setNewReplicaSetAnnotations(d: Deployment, rs: ReplicaSet, newRevision: number, exists: boolean): boolean {
  const a = (rs.metadata.annotations ??= {});
  let changed = false;
  for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) {
    if (NOT_COPIED.has(k) || a[k] === v) continue;
    a[k] = v;
    changed = true;
  }
  const had = a[REVISION];
  const old = Number(had ?? 0) || 0;
  if (old < newRevision) {
    a[REVISION] = String(newRevision);
    changed = true;
    if (had !== undefined) {
      const history = a[REVISION_HISTORY] ? a[REVISION_HISTORY].split(',') : [];
      history.push(had);
      while (history.join(',').length > REVISION_HISTORY_CHARS && history.length > 1) history.shift();
      a[REVISION_HISTORY] = history.join(',');
    }
  }
  if (!exists && setReplicasAnnotations(rs, replicasOf(d), replicasOf(d) + maxSurge(d))) changed = true;
  return changed;
}

function newCondition(type: string, status: Condition['status'], reason: string, message: string, now: Date): Condition {
  const t = timestamp(now);
  return { type, status, lastUpdateTime: t, lastTransitionTime: t, reason, message };
}

/** Sets a condition unless one of the same status and reason is there; keeps its transition time if only the reason changed. */
function setCondition(status: DeploymentStatus, c: Condition): void {
  const cur = status.conditions?.find((x) => x.type === c.type);
  if (cur && cur.status === c.status && cur.reason === c.reason) return;
  if (cur && cur.status === c.status) c.lastTransitionTime = cur.lastTransitionTime;
  status.conditions = [...(status.conditions ?? []).filter((x) => x.type !== c.type), c];
}

const removeCondition = (status: DeploymentStatus, type: string) => { status.conditions = status.conditions?.filter((c) => c.type !== type); if (!status.conditions?.length) delete status.conditions; };
const getCondition = (status: DeploymentStatus | undefined, type: string) => status?.conditions?.find((c) => c.type === type);

function deploymentComplete(d: Deployment, s: DeploymentStatus | undefined): boolean {
  const n = replicasOf(d);
  return (s?.updatedReplicas ?? 0) === n && (s?.replicas ?? 0) === n && (s?.availableReplicas ?? 0) === n && (s?.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
}

/** Any sign of progress between two statuses: more updated, ready or available pods, or fewer old ones. */
function deploymentProgressing(d: Deployment, s: DeploymentStatus): boolean {
  const o = d.status ?? {};
  const oldOld = (o.replicas ?? 0) - (o.updatedReplicas ?? 0);
  return (s.updatedReplicas ?? 0) > (o.updatedReplicas ?? 0) || (s.readyReplicas ?? 0) > (o.readyReplicas ?? 0)
    || (s.availableReplicas ?? 0) > (o.availableReplicas ?? 0) || (s.replicas ?? 0) - (s.updatedReplicas ?? 0) < oldOld;
}

function deploymentTimedOut(d: Deployment, s: DeploymentStatus, now: Date): boolean {
  const c = getCondition(s, 'Progressing');
  if (!hasProgressDeadline(d) || !c || c.reason === 'NewReplicaSetAvailable') return false;
  if (c.reason === 'ProgressDeadlineExceeded') return true;
  return Date.parse(c.lastUpdateTime ?? '') + progressDeadline(d) * 1000 < now.getTime();
}

// ---- one sync of one Deployment ---------------------------------------------------------------

class DeploymentSync {
  private readonly namespace: string;
  private readonly name: string;
  private d!: Deployment;

  constructor(key: string, private readonly ctx: ControllerContext) {
    const { namespace, name } = splitKey(key);
    this.namespace = namespace!;
    this.name = name;
  }

  private get now() { return this.ctx.api.now(); }

  run(): ReconcileResult {
    const d = this.ctx.api.tryGet('Deployment', this.namespace, this.name) as Deployment | undefined;
    if (!d) return;
    this.d = d;
    const selector = fromLabelSelector(d.spec.selector);
    if (!selector.length) {
      this.ctx.event(d, 'Warning', 'SelectingAll', 'This deployment is selecting all pods. A non-empty selector is required.', COMPONENT);
      if ((d.status?.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) this.writeStatus({ ...d.status, observedGeneration: d.metadata.generation });
      return;
    }
    const rsList = claim(this.ctx.api, 'ReplicaSet', d, selector, this.ctx.api.store.list('ReplicaSet', this.namespace) as ReplicaSet[]).sort(byCreation);
    if (d.metadata.deletionTimestamp) return this.syncStatusOnly(rsList);
    this.checkPausedConditions();
    if (d.spec.paused || this.isScalingEvent(rsList)) return this.sync(rsList);
    return isRollingUpdate(d) ? this.rolloutRolling(rsList) : this.rolloutRecreate(rsList);
  }

  // ---- ReplicaSets and revisions

  /** The new ReplicaSet (its template is the Deployment's), creating it if asked, and the old ones. */
  private replicaSets(rsList: ReplicaSet[], create: boolean): { newRS?: ReplicaSet; oldRSs: ReplicaSet[] } {
    const existing = rsList.find((rs) => equalIgnoreHash(rs.spec.template, this.d.spec.template));
    const oldRSs = rsList.filter((rs) => rs !== existing);
    const newRevision = Math.max(0, ...oldRSs.map(revisionOf)) + 1;
    if (existing) return { newRS: this.syncExistingNewRS(existing, newRevision), oldRSs };
    if (!create) return { oldRSs };
    return { newRS: this.createNewRS(oldRSs, newRevision), oldRSs };
  }

  private syncExistingNewRS(existing: ReplicaSet, newRevision: number): ReplicaSet {
    const copy = clone(existing);
    const annotationsChanged = setNewReplicaSetAnnotations(this.d, copy, newRevision, true);
    if (annotationsChanged || (copy.spec.minReadySeconds ?? 0) !== (this.d.spec.minReadySeconds ?? 0)) {
      copy.spec.minReadySeconds = this.d.spec.minReadySeconds;
      if (copy.spec.minReadySeconds === undefined) delete copy.spec.minReadySeconds;
      return this.ctx.api.update('ReplicaSet', this.namespace, copy.metadata.name!, copy) as ReplicaSet;
    }
    this.setRevision(copy.metadata.annotations?.[REVISION] ?? String(newRevision));
    if (hasProgressDeadline(this.d) && !getCondition(this.d.status, 'Progressing')) {
      const status = clone(this.d.status ?? {});
      setCondition(status, newCondition('Progressing', 'True', 'FoundNewReplicaSet', `Found new replica set "${copy.metadata.name}"`, this.now));
      this.writeStatus(status);
    }
    return copy;
  }

  private createNewRS(oldRSs: ReplicaSet[], newRevision: number): ReplicaSet {
    const d = this.d;
    const hash = templateHash(d.spec.template, d.status?.collisionCount);
    const template = clone(d.spec.template);
    template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, [HASH_LABEL]: hash } };
    const selector = clone(d.spec.selector);
    selector.matchLabels = { ...selector.matchLabels, [HASH_LABEL]: hash };
    const rs: ReplicaSet = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: `${d.metadata.name}-${hash}`, namespace: this.namespace, labels: { ...template.metadata.labels }, ownerReferences: [controllerRef(d)] },
      spec: { replicas: 0, selector, template, ...(d.spec.minReadySeconds ? { minReadySeconds: d.spec.minReadySeconds } : {}) },
    };
    rs.spec.replicas = newRSNewReplicas(d, [...oldRSs, rs], rs);
    setNewReplicaSetAnnotations(d, rs, newRevision, false);
    let created: ReplicaSet;
    let alreadyExisted = false;
    try {
      created = this.ctx.api.create('ReplicaSet', this.namespace, rs) as ReplicaSet;
    } catch (e) {
      if (!(e instanceof ApiError && e.reason === 'AlreadyExists')) {
        if (hasProgressDeadline(d)) {
          const status = clone(d.status ?? {});
          setCondition(status, newCondition('Progressing', 'False', 'ReplicaSetCreateError', `Failed to create new replica set "${rs.metadata.name}": ${(e as Error).message}`, this.now));
          this.writeStatus(status);
        }
        throw e;
      }
      // The name is taken: by our own ReplicaSet for this template (seen late), or by another
      // object, a hash collision, which the next attempt avoids with a bumped collisionCount.
      const other = this.ctx.api.get('ReplicaSet', this.namespace, rs.metadata.name!) as ReplicaSet;
      if (controllerOf(other)?.uid !== d.metadata.uid || !equalIgnoreHash(other.spec.template, d.spec.template)) {
        this.writeStatus({ ...d.status, collisionCount: (d.status?.collisionCount ?? 0) + 1 });
        throw e;
      }
      created = other;
      alreadyExisted = true;
    }
    if (!alreadyExisted && specReplicas(created) > 0) {
      this.ctx.event(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${created.metadata.name} from 0 to ${specReplicas(created)}`, COMPONENT);
    }
    this.setRevision(String(newRevision));
    if (!alreadyExisted && hasProgressDeadline(d)) {
      const status = clone(this.d.status ?? {});
      setCondition(status, newCondition('Progressing', 'True', 'NewReplicaSetCreated', `Created new replica set "${created.metadata.name}"`, this.now));
      this.writeStatus(status);
    }
    return created;
  }

  /** The Deployment carries the revision of its new ReplicaSet. */
  private setRevision(revision: string): void {
    if (this.d.metadata.annotations?.[REVISION] === revision) return;
    const updated = this.ctx.api.mutate('Deployment', this.namespace, this.name, (o) => { o.metadata.annotations = { ...o.metadata.annotations, [REVISION]: revision }; });
    if (updated) this.d = updated as Deployment;
  }

  private writeStatus(status: DeploymentStatus): void {
    const updated = this.ctx.api.mutate('Deployment', this.namespace, this.name, (o) => { o.status = status; }, { subresource: 'status' });
    if (updated) this.d = updated as Deployment;
  }

  /** Scales a ReplicaSet (and refreshes its replica annotations); records ScalingReplicaSet when the size changes. */
  private scaleReplicaSet(rs: ReplicaSet, newScale: number): boolean {
    const d = this.d;
    const copy = clone(rs);
    const oldScale = specReplicas(rs);
    const annotationsChanged = setReplicasAnnotations(copy, replicasOf(d), replicasOf(d) + maxSurge(d));
    if (oldScale === newScale && !annotationsChanged) return false;
    copy.spec.replicas = newScale;
    const updated = this.ctx.api.update('ReplicaSet', this.namespace, rs.metadata.name!, copy) as ReplicaSet;
    Object.assign(rs, updated);
    if (oldScale !== newScale) {
      this.ctx.event(d, 'Normal', 'ScalingReplicaSet', `Scaled ${oldScale < newScale ? 'up' : 'down'} replica set ${rs.metadata.name} from ${oldScale} to ${newScale}`, COMPONENT);
    }
    return oldScale !== newScale;
  }

  private scaleIfChanged(rs: ReplicaSet, newScale: number): boolean {
    return specReplicas(rs) !== newScale && this.scaleReplicaSet(rs, newScale);
  }

  // ---- scaling (a change of spec.replicas, or a paused Deployment)

  /** A ReplicaSet with pods records another desired count than the Deployment's: the user scaled. */
  private isScalingEvent(rsList: ReplicaSet[]): boolean {
    const { newRS, oldRSs } = this.replicaSets(rsList, false);
    return active([...oldRSs, ...(newRS ? [newRS] : [])]).some((rs) => {
      const desired = rs.metadata.annotations?.[DESIRED_REPLICAS];
      return desired !== undefined && Number(desired) !== replicasOf(this.d);
    });
  }

  private sync(rsList: ReplicaSet[]): ReconcileResult {
    const { newRS, oldRSs } = this.replicaSets(rsList, false);
    this.scale(newRS, oldRSs);
    if (this.d.spec.paused) this.cleanup(oldRSs);
    this.syncDeploymentStatus([...oldRSs, ...(newRS ? [newRS] : [])], newRS);
  }

  /**
   * Scales to a new spec.replicas: the only ReplicaSet with pods (or the newest) takes the whole
   * count; during a rollout the new count is shared out in proportion to each ReplicaSet's size,
   * the leftover going to the largest.
   */
  private scale(newRS: ReplicaSet | undefined, oldRSs: ReplicaSet[]): void {
    const d = this.d;
    const all = [...oldRSs, ...(newRS ? [newRS] : [])];
    const act = active(all);
    const activeOrLatest = act.length === 1 ? act[0] : act.length === 0 ? (newRS ?? [...oldRSs].sort(byCreation).at(-1)) : undefined;
    if (activeOrLatest) { this.scaleIfChanged(activeOrLatest, replicasOf(d)); return; }
    if (newRS && specReplicas(newRS) === replicasOf(d) && Number(newRS.metadata.annotations?.[DESIRED_REPLICAS]) === replicasOf(d) && (newRS.status?.availableReplicas ?? 0) === replicasOf(d)) {
      for (const rs of active(oldRSs)) this.scaleIfChanged(rs, 0);
      return;
    }
    if (!isRollingUpdate(d)) return;
    const allowed = replicasOf(d) > 0 ? replicasOf(d) + maxSurge(d) : 0;
    const toAdd = allowed - sum(act, specReplicas);
    // Scaling up favours the largest, then newest, ReplicaSets; scaling down the largest, then oldest.
    const ordered = [...act].sort((a, b) => specReplicas(b) - specReplicas(a)
      || (toAdd > 0 ? byCreation(b, a) : byCreation(a, b)));
    const sizes = new Map<ReplicaSet, number>();
    let added = 0;
    for (const rs of ordered) {
      const p = toAdd !== 0 ? this.proportion(rs, toAdd, added) : 0;
      sizes.set(rs, specReplicas(rs) + p);
      added += p;
    }
    ordered.forEach((rs, i) => {
      let size = sizes.get(rs)!;
      if (i === 0 && toAdd !== 0) size = Math.max(0, size + toAdd - added);
      this.scaleReplicaSet(rs, size);
    });
  }

  private proportion(rs: ReplicaSet, toAdd: number, added: number): number {
    const d = this.d;
    if (specReplicas(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
    let fraction: number;
    if (replicasOf(d) === 0) fraction = -specReplicas(rs);
    else {
      const recorded = rs.metadata.annotations?.[MAX_REPLICAS];
      const annotated = recorded !== undefined ? Number(recorded) : (d.status?.replicas ?? 0);
      fraction = Math.round((specReplicas(rs) * (replicasOf(d) + maxSurge(d))) / annotated) - specReplicas(rs);
    }
    const allowed = toAdd - added;
    return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
  }

  // ---- rollouts

  private rolloutRolling(rsList: ReplicaSet[]): ReconcileResult {
    const { newRS, oldRSs } = this.replicaSets(rsList, true);
    const all = [...oldRSs, newRS!];
    if (this.reconcileNewReplicaSet(all, newRS!)) return this.syncRolloutStatus(all, newRS);
    if (this.reconcileOldReplicaSets(all, active(oldRSs), newRS!)) return this.syncRolloutStatus(all, newRS);
    if (deploymentComplete(this.d, this.d.status)) this.cleanup(oldRSs);
    return this.syncRolloutStatus(all, newRS);
  }

  private reconcileNewReplicaSet(all: ReplicaSet[], newRS: ReplicaSet): boolean {
    const want = replicasOf(this.d);
    if (specReplicas(newRS) === want) return false;
    if (specReplicas(newRS) > want) return this.scaleIfChanged(newRS, want);
    return this.scaleIfChanged(newRS, newRSNewReplicas(this.d, all, newRS));
  }

  /**
   * Scales old ReplicaSets down as far as availability allows: first the pods that are not
   * available anyway, then available ones while at least replicas-maxUnavailable stay available.
   */
  private reconcileOldReplicaSets(all: ReplicaSet[], oldRSs: ReplicaSet[], newRS: ReplicaSet): boolean {
    if (sum(oldRSs, specReplicas) === 0) return false;
    const minAvailable = replicasOf(this.d) - maxUnavailable(this.d);
    const newUnavailable = specReplicas(newRS) - (newRS.status?.availableReplicas ?? 0);
    const maxScaledDown = sum(all, specReplicas) - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) return false;
    const oldest = [...oldRSs].sort(byCreation);
    let cleaned = 0;
    for (const rs of oldest) {
      if (cleaned >= maxScaledDown) break;
      const unavailable = specReplicas(rs) - (rs.status?.availableReplicas ?? 0);
      if (specReplicas(rs) === 0 || unavailable <= 0) continue;
      const n = Math.min(maxScaledDown - cleaned, unavailable);
      this.scaleReplicaSet(rs, specReplicas(rs) - n);
      cleaned += n;
    }
    const available = sum(all, (rs) => rs.status?.availableReplicas ?? 0);
    const toScaleDown = available - minAvailable;
    let scaledDown = 0;
    for (const rs of oldest) {
      if (scaledDown >= toScaleDown) break;
      if (specReplicas(rs) === 0) continue;
      const n = Math.min(specReplicas(rs), toScaleDown - scaledDown);
      this.scaleReplicaSet(rs, specReplicas(rs) - n);
      scaledDown += n;
    }
    return cleaned + scaledDown > 0;
  }

  private rolloutRecreate(rsList: ReplicaSet[]): ReconcileResult {
    let { newRS, oldRSs } = this.replicaSets(rsList, false);
    let all = [...oldRSs, ...(newRS ? [newRS] : [])];
    let scaledDown = false;
    for (const rs of active(oldRSs)) scaledDown = this.scaleIfChanged(rs, 0) || scaledDown;
    if (scaledDown || this.oldPodsRunning(newRS, oldRSs)) return this.syncRolloutStatus(all, newRS);
    if (!newRS) {
      ({ newRS, oldRSs } = this.replicaSets(rsList, true));
      all = [...oldRSs, newRS!];
    }
    this.scaleIfChanged(newRS!, replicasOf(this.d));
    if (deploymentComplete(this.d, this.d.status)) this.cleanup(oldRSs);
    return this.syncRolloutStatus(all, newRS);
  }

  /** Old pods still exist that have not finished: a Recreate rollout must wait for them. */
  private oldPodsRunning(newRS: ReplicaSet | undefined, oldRSs: ReplicaSet[]): boolean {
    if (sum(oldRSs, (rs) => rs.status?.replicas ?? 0) > 0) return true;
    const oldUids = new Set(oldRSs.map((rs) => rs.metadata.uid));
    const selector = fromLabelSelector(this.d.spec.selector);
    return (this.ctx.api.store.list('Pod', this.namespace) as Pod[]).some((p) => {
      const owner = controllerOf(p)?.uid;
      return owner !== newRS?.metadata.uid && oldUids.has(owner) && matchesLabels(selector, p.metadata.labels)
        && p.status?.phase !== 'Failed' && p.status?.phase !== 'Succeeded';
    });
  }

  /** Deletes the oldest revisions beyond revisionHistoryLimit, among those fully scaled down. */
  private cleanup(oldRSs: ReplicaSet[]): void {
    const limit = this.d.spec.revisionHistoryLimit ?? 10;
    if (limit === 2147483647) return;
    const alive = oldRSs.filter((rs) => !rs.metadata.deletionTimestamp);
    const diff = alive.length - limit;
    if (diff <= 0) return;
    const byRevision = [...alive].sort((a, b) => revisionOf(a) - revisionOf(b) || byCreation(a, b));
    for (const rs of byRevision.slice(0, diff)) {
      if ((rs.status?.replicas ?? 0) !== 0 || specReplicas(rs) !== 0 || (rs.metadata.generation ?? 0) > (rs.status?.observedGeneration ?? 0)) continue;
      this.ctx.api.delete('ReplicaSet', this.namespace, rs.metadata.name!, { preconditions: { uid: rs.metadata.uid } });
    }
  }

  // ---- status

  private calculateStatus(all: ReplicaSet[], newRS: ReplicaSet | undefined): DeploymentStatus {
    const d = this.d;
    const available = sum(all, (rs) => rs.status?.availableReplicas ?? 0);
    const status: DeploymentStatus = {
      observedGeneration: d.metadata.generation,
      replicas: sum(all, (rs) => rs.status?.replicas ?? 0),
      updatedReplicas: newRS?.status?.replicas ?? 0,
      readyReplicas: sum(all, (rs) => rs.status?.readyReplicas ?? 0),
      availableReplicas: available,
      unavailableReplicas: Math.max(0, sum(all, specReplicas) - available),
      collisionCount: d.status?.collisionCount,
      conditions: clone(d.status?.conditions ?? []),
    };
    if (available >= replicasOf(d) - maxUnavailable(d)) {
      setCondition(status, newCondition('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.', this.now));
    } else {
      setCondition(status, newCondition('Available', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.', this.now));
    }
    return status;
  }

  private finish(status: DeploymentStatus): DeploymentStatus {
    if (status.collisionCount === undefined) delete status.collisionCount;
    if (!status.conditions?.length) delete status.conditions;
    return omitZero(status, ['replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'unavailableReplicas']);
  }

  private syncStatusOnly(rsList: ReplicaSet[]): ReconcileResult {
    const { newRS, oldRSs } = this.replicaSets(rsList, false);
    this.syncDeploymentStatus([...oldRSs, ...(newRS ? [newRS] : [])], newRS);
  }

  private syncDeploymentStatus(all: ReplicaSet[], newRS: ReplicaSet | undefined): void {
    const status = this.finish(this.calculateStatus(all, newRS));
    if (canonicalJson(status) !== canonicalJson(this.d.status ?? {})) this.writeStatus(status);
  }

  private checkPausedConditions(): void {
    const d = this.d;
    if (!hasProgressDeadline(d)) return;
    const cond = getCondition(d.status, 'Progressing');
    if (cond?.reason === 'ProgressDeadlineExceeded') return;
    const pausedShown = cond?.reason === 'DeploymentPaused';
    if (!!d.spec.paused === pausedShown) return;
    const status = clone(d.status ?? {});
    setCondition(status, d.spec.paused
      ? newCondition('Progressing', 'Unknown', 'DeploymentPaused', 'Deployment is paused', this.now)
      : newCondition('Progressing', 'Unknown', 'DeploymentResumed', 'Deployment is resumed', this.now));
    this.writeStatus(status);
  }

  /** Status plus the Progressing condition: complete, progressing (refreshing its update time), or timed out. */
  private syncRolloutStatus(all: ReplicaSet[], newRS: ReplicaSet | undefined): ReconcileResult {
    const d = this.d;
    const now = this.now;
    const status = this.calculateStatus(all, newRS);
    if (!hasProgressDeadline(d)) removeCondition(status, 'Progressing');
    const current = getCondition(d.status, 'Progressing');
    const isComplete = (status.replicas ?? 0) === (status.updatedReplicas ?? 0) && current?.reason === 'NewReplicaSetAvailable';
    if (hasProgressDeadline(d) && !isComplete) {
      const subject = newRS ? `ReplicaSet "${newRS.metadata.name}"` : `Deployment "${d.metadata.name}"`;
      if (deploymentComplete(d, status)) {
        setCondition(status, newCondition('Progressing', 'True', 'NewReplicaSetAvailable', `${subject} has successfully progressed.`, now));
      } else if (deploymentProgressing(d, status)) {
        const c = newCondition('Progressing', 'True', 'ReplicaSetUpdated', `${subject} is progressing.`, now);
        if (current?.status === 'True') c.lastTransitionTime = current.lastTransitionTime;
        if (current) removeCondition(status, 'Progressing');
        setCondition(status, c);
      } else if (deploymentTimedOut(d, status, now)) {
        setCondition(status, newCondition('Progressing', 'False', 'ProgressDeadlineExceeded', `${subject} has timed out progressing.`, now));
      }
    }
    const failure = all.map((rs) => rs.status?.conditions?.find((c) => c.type === 'ReplicaFailure' && c.status === 'True')).find(Boolean);
    if (failure) setCondition(status, { type: 'ReplicaFailure', status: failure.status, lastUpdateTime: failure.lastTransitionTime, lastTransitionTime: failure.lastTransitionTime, reason: failure.reason, message: failure.message });
    else removeCondition(status, 'ReplicaFailure');
    const final = this.finish(status);
    if (canonicalJson(final) !== canonicalJson(d.status ?? {})) { this.writeStatus(final); return; }
    return this.requeueIfStuck(final);
  }

  /** A rollout that makes no progress is looked at again when its deadline passes. */
  private requeueIfStuck(status: DeploymentStatus): ReconcileResult {
    const d = this.d;
    const cond = getCondition(d.status, 'Progressing');
    if (!hasProgressDeadline(d) || !cond || deploymentComplete(d, status) || cond.reason === 'ProgressDeadlineExceeded') return;
    const after = Date.parse(cond.lastUpdateTime ?? '') + progressDeadline(d) * 1000 - this.now.getTime();
    return { requeueAfterMs: after < 1000 ? 0 : after + 1000 };
  }
}
