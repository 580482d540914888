import type { ClusterApi } from '../api.ts';
import type { KindName } from '../kinds.ts';
import type { KubeObject } from '../object.ts';
import { matchesLabels, type LabelSelector } from '../selectors.ts';
import { controllerOf } from './controller.ts';
import { controllerRef } from './podutil.ts';

// Which objects a controller manages (pkg/controller's ControllerRefManager): those whose
// controller reference names it, while its selector matches them. An orphan that matches is
// adopted (the controller reference is added), unless the owner or the orphan is being deleted;
// an owned object that no longer matches (its labels were edited) is released (the reference is
// removed) and so leaves the owner's count, which then replaces it.

export function claim<T extends KubeObject>(api: ClusterApi, kind: KindName, owner: KubeObject, selector: LabelSelector, candidates: T[]): T[] {
  const ownerUid = owner.metadata.uid;
  const ownerDeleting = !!owner.metadata.deletionTimestamp;
  const claimed: T[] = [];
  for (const c of candidates) {
    const ref = controllerOf(c);
    const matches = matchesLabels(selector, c.metadata.labels);
    if (ref) {
      if (ref.uid !== ownerUid) continue;
      if (matches) claimed.push(c);
      else if (!ownerDeleting) release(api, kind, c, ownerUid!);
      continue;
    }
    if (ownerDeleting || !matches || c.metadata.deletionTimestamp) continue;
    // Adopt only when the owner read afresh is still the same object and still alive.
    const fresh = api.tryGet(owner.kind as KindName, owner.metadata.namespace, owner.metadata.name!);
    if (!fresh || fresh.metadata.uid !== ownerUid || fresh.metadata.deletionTimestamp) continue;
    const adopted = api.mutate(kind, c.metadata.namespace, c.metadata.name!, (o) => {
      if (controllerOf(o)) return false;
      o.metadata.ownerReferences = [...(o.metadata.ownerReferences ?? []).filter((r) => r.uid !== ownerUid), controllerRef(owner)];
    });
    if (adopted && controllerOf(adopted)?.uid === ownerUid) claimed.push(adopted as T);
  }
  return claimed;
}

function release(api: ClusterApi, kind: KindName, o: KubeObject, ownerUid: string): void {
  api.mutate(kind, o.metadata.namespace, o.metadata.name!, (cur) => {
    const refs = (cur.metadata.ownerReferences ?? []).filter((r) => r.uid !== ownerUid);
    if (refs.length) cur.metadata.ownerReferences = refs; else delete cur.metadata.ownerReferences;
  });
}

/** Keys of the owners of `kind` that a change to an object concerns: its controller, if of that kind. */
export function ownerKey(o: KubeObject, kind: string): string | undefined {
  const ref = controllerOf(o);
  return ref && ref.kind === kind ? `${o.metadata.namespace}/${ref.name}` : undefined;
}
