import type { ClusterApi } from '../api.ts';
import type { ResourceKind } from '../registry.ts';
import { ApiError, type KubeObject, type OwnerReference } from '../object.ts';
import type { ControllerContext, ControllerSpec, ReconcileResult } from './controller.ts';

// The garbage collector (pkg/controller/garbagecollector), over owner references:
// - Background: an object all of whose owners are gone (no object of that name and uid) is deleted;
//   one that still has a live owner only loses the references to the dead ones.
// - Foreground: an owner deleted with propagationPolicy=Foreground carries the `foregroundDeletion`
//   finalizer; its dependents are deleted (themselves in the foreground when they have dependents),
//   and the finalizer is removed once no dependent with blockOwnerDeletion is left.
// - Orphan: an owner carrying the `orphan` finalizer has its references stripped from its
//   dependents, which stay, and then the finalizer is removed.
// Keys are `<Kind>/<namespace>/<name>` (namespace empty for cluster-scoped objects).

const FOREGROUND = 'foregroundDeletion';
const ORPHAN = 'orphan';

const gcKey = (kind: ResourceKind, o: KubeObject) => `${kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

function parseKey(key: string): { kind: ResourceKind; namespace?: string; name: string } {
  const [kind, namespace, name] = key.split('/');
  return { kind: kind as ResourceKind, namespace: namespace || undefined, name };
}

const hasFinalizer = (o: KubeObject, f: string) => !!o.metadata.finalizers?.includes(f);
const deletingDependents = (o: KubeObject) => !!o.metadata.deletionTimestamp && hasFinalizer(o, FOREGROUND);

/** Every object that names `uid` among its owners: in the owner's namespace, or anywhere for a cluster-scoped owner. */
function dependentsOf(api: ClusterApi, uid: string, namespace: string | undefined): { kind: ResourceKind; object: KubeObject; ref: OwnerReference }[] {
  const out: { kind: ResourceKind; object: KubeObject; ref: OwnerReference }[] = [];
  for (const kind of api.kinds.kinds()) {
    // Events are many and never owned: not worth a scan on every deletion.
    if (kind === 'Event' || (namespace !== undefined && !api.kinds.namespaced(kind))) continue;
    for (const o of api.store.list(kind, namespace)) {
      const ref = o.metadata.ownerReferences?.find((r) => r.uid === uid);
      if (ref) out.push({ kind, object: o, ref });
    }
  }
  return out;
}

export function garbageCollector(): ControllerSpec {
  /** Owners in foreground deletion, by key, with their uid: a change to one of their dependents may unblock them. */
  const waitingOwners = new Map<string, string>();
  return {
    name: 'garbagecollector',
    watches: 'all',
    initialKeys: (ctx) => ctx.api.store.all().filter(({ object }) => object.metadata.ownerReferences?.length || object.metadata.deletionTimestamp).map(({ kind, object }) => gcKey(kind, object)),
    keysFor(e, ctx) {
      const o = e.object;
      const key = gcKey(e.kind, o);
      const keys: string[] = [];
      if (e.type === 'DELETED') {
        waitingOwners.delete(key);
        for (const d of dependentsOf(ctx.api, o.metadata.uid!, o.metadata.namespace)) keys.push(gcKey(d.kind, d.object));
      } else {
        if (o.metadata.ownerReferences?.length) keys.push(key);
        if (o.metadata.deletionTimestamp && (hasFinalizer(o, FOREGROUND) || hasFinalizer(o, ORPHAN))) keys.push(key);
        if (deletingDependents(o)) waitingOwners.set(key, o.metadata.uid!);
      }
      for (const [ownerKey, uid] of waitingOwners) if (o.metadata.ownerReferences?.some((r) => r.uid === uid)) keys.push(ownerKey);
      return keys;
    },
    reconcile(key, ctx): ReconcileResult {
      const { kind, namespace, name } = parseKey(key);
      const o = ctx.api.tryGet(kind, namespace, name);
      if (!o) return;
      if (o.metadata.deletionTimestamp) {
        if (hasFinalizer(o, ORPHAN)) orphanDependents(ctx, kind, o);
        else if (hasFinalizer(o, FOREGROUND)) deleteDependentsFirst(ctx, kind, o);
        return;
      }
      attemptToDelete(ctx, kind, o);
    },
  };
}

type OwnerState = 'solid' | 'dangling' | 'waiting';

/** An owner is gone (dangling), being deleted in the foreground (waiting for its dependents), or there. */
function ownerState(api: ClusterApi, dependent: KubeObject, ref: OwnerReference): OwnerState {
  const kind = api.kinds.byApiVersion(ref.apiVersion, ref.kind)?.kind;
  // A kind this API does not serve cannot be looked up: its dependents are left alone.
  if (!kind) return 'solid';
  const owner = api.tryGet(kind, api.kinds.namespaced(kind) ? dependent.metadata.namespace : undefined, ref.name);
  if (!owner || owner.metadata.uid !== ref.uid) return 'dangling';
  return deletingDependents(owner) ? 'waiting' : 'solid';
}

function attemptToDelete(ctx: ControllerContext, kind: ResourceKind, item: KubeObject): void {
  const refs = item.metadata.ownerReferences ?? [];
  if (!refs.length) return;
  const states = refs.map((r) => ({ r, s: ownerState(ctx.api, item, r) }));
  const gone = new Set(states.filter((x) => x.s !== 'solid').map((x) => x.r.uid));
  if (states.some((x) => x.s === 'solid')) {
    // Still owned: only the references to owners that are gone or going are dropped.
    if (gone.size) removeOwnerReferences(ctx.api, kind, item, gone);
    return;
  }
  const ownerWaiting = states.some((x) => x.s === 'waiting');
  let policy: 'Foreground' | 'Background' | 'Orphan';
  if (ownerWaiting && dependentsOf(ctx.api, item.metadata.uid!, ctx.api.kinds.namespaced(kind) ? item.metadata.namespace : undefined).length) policy = 'Foreground';
  else if (hasFinalizer(item, ORPHAN)) policy = 'Orphan';
  else if (hasFinalizer(item, FOREGROUND)) policy = 'Foreground';
  else policy = 'Background';
  deleteObject(ctx.api, kind, item, policy);
}

function deleteObject(api: ClusterApi, kind: ResourceKind, o: KubeObject, policy: 'Foreground' | 'Background' | 'Orphan'): void {
  try {
    api.delete(kind, o.metadata.namespace, o.metadata.name!, { propagationPolicy: policy, preconditions: { uid: o.metadata.uid } });
  } catch (e) {
    if (!(e instanceof ApiError && (e.reason === 'NotFound' || e.reason === 'Conflict'))) throw e;
  }
}

function removeOwnerReferences(api: ClusterApi, kind: ResourceKind, o: KubeObject, uids: Set<string | undefined>): void {
  api.mutate(kind, o.metadata.namespace, o.metadata.name!, (cur) => {
    if (cur.metadata.uid !== o.metadata.uid) return false;
    const refs = (cur.metadata.ownerReferences ?? []).filter((r) => !uids.has(r.uid));
    if (refs.length) cur.metadata.ownerReferences = refs; else delete cur.metadata.ownerReferences;
  });
}

function removeFinalizer(api: ClusterApi, kind: ResourceKind, o: KubeObject, finalizer: string): void {
  api.mutate(kind, o.metadata.namespace, o.metadata.name!, (cur) => {
    if (cur.metadata.uid !== o.metadata.uid) return false;
    const rest = (cur.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    if (rest.length) cur.metadata.finalizers = rest; else delete cur.metadata.finalizers;
  });
}

/** Foreground: dependents go first; the owner's finalizer goes when none that blocks it is left. */
function deleteDependentsFirst(ctx: ControllerContext, kind: ResourceKind, owner: KubeObject): void {
  const dependents = dependentsOf(ctx.api, owner.metadata.uid!, ctx.api.kinds.namespaced(kind) ? owner.metadata.namespace : undefined);
  const blocking = dependents.filter((d) => d.ref.blockOwnerDeletion);
  if (!blocking.length) { removeFinalizer(ctx.api, kind, owner, FOREGROUND); return; }
  for (const d of dependents) if (!d.object.metadata.deletionTimestamp) attemptToDelete(ctx, d.kind, d.object);
}

/** Orphan: the dependents stay, without their references to this owner. */
function orphanDependents(ctx: ControllerContext, kind: ResourceKind, owner: KubeObject): void {
  for (const d of dependentsOf(ctx.api, owner.metadata.uid!, ctx.api.kinds.namespaced(kind) ? owner.metadata.namespace : undefined)) {
    removeOwnerReferences(ctx.api, d.kind, d.object, new Set([owner.metadata.uid]));
  }
  removeFinalizer(ctx.api, kind, owner, ORPHAN);
}
