import { ApiError, type KubeObject } from './object.ts';
import type { ResourceKind } from './registry.ts';

// A lab's objects and the history of their changes. One monotonically increasing resourceVersion
// orders every change of every kind, as etcd's revision does for a real API server; watches resume
// from any resourceVersion still in the history and get 410 Expired for older ones, which makes
// clients (kubectl get -w, informers) relist. The store holds no policy: admission, deletion and
// subresource rules live in api.ts. Objects handed out are copies; the store's own are never shared.

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: WatchEventType;
  kind: ResourceKind;
  object: KubeObject;
  rv: number;
}

export type StoreListener = (e: StoreEvent) => void;

const keyOf = (namespace: string | undefined, name: string) => `${namespace ?? ''}/${name}`;

/** Objects are JSON (they are persisted as JSON): a JSON round trip copies them, several times
 *  faster than structuredClone, and controllers list objects on every change. */
export const clone = <T>(v: T): T => (v === undefined ? v : JSON.parse(JSON.stringify(v)));

const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class ObjectStore {
  /** Per kind, "namespace/name" → object. */
  private readonly objects = new Map<ResourceKind, Map<string, KubeObject>>();
  private readonly history: StoreEvent[] = [];
  private readonly listeners = new Set<StoreListener>();
  private rv = 1;

  /** `scope` says which kinds are namespaced (a lab's kind registry). */
  constructor(private readonly scope: { namespaced(kind: ResourceKind): boolean }, private readonly historyLimit = 10_000) {}

  get resourceVersion(): string { return String(this.rv); }

  private ofKind(kind: ResourceKind): Map<string, KubeObject> {
    let m = this.objects.get(kind);
    if (!m) { m = new Map(); this.objects.set(kind, m); }
    return m;
  }

  get(kind: ResourceKind, namespace: string | undefined, name: string): KubeObject | undefined {
    const o = this.objects.get(kind)?.get(keyOf(this.scope.namespaced(kind) ? namespace : undefined, name));
    return o && clone(o);
  }

  /**
   * Objects of a kind, in one namespace or all, ordered by namespace then name as etcd's keys are;
   * `where` is applied to the store's own objects (it must not keep or change them), so only what
   * it selects is copied.
   */
  list(kind: ResourceKind, namespace?: string, where?: (o: KubeObject) => boolean): KubeObject[] {
    const prefix = namespace !== undefined && this.scope.namespaced(kind) ? `${namespace}/` : '';
    const found: [string, KubeObject][] = [];
    for (const [k, o] of this.objects.get(kind) ?? []) if (k.startsWith(prefix) && (!where || where(o))) found.push([k, o]);
    return found.sort(([a], [b]) => byKey(a, b)).map(([, o]) => clone(o));
  }

  /** Stores a new object or a new version of one; stamps and returns its resourceVersion. */
  put(kind: ResourceKind, obj: KubeObject): KubeObject {
    const key = keyOf(obj.metadata.namespace, obj.metadata.name!);
    const objects = this.ofKind(kind);
    const existed = objects.has(key);
    const stored = clone(obj);
    stored.metadata.resourceVersion = String(++this.rv);
    objects.set(key, stored);
    this.emit({ type: existed ? 'MODIFIED' : 'ADDED', kind, object: stored, rv: this.rv });
    return clone(stored);
  }

  remove(kind: ResourceKind, namespace: string | undefined, name: string): KubeObject | undefined {
    const key = keyOf(namespace, name);
    const objects = this.ofKind(kind);
    const o = objects.get(key);
    if (!o) return undefined;
    objects.delete(key);
    // A deleted object's last state carries the deletion's resourceVersion, as etcd reports it.
    const last = { ...o, metadata: { ...o.metadata, resourceVersion: String(++this.rv) } };
    this.emit({ type: 'DELETED', kind, object: last, rv: this.rv });
    return clone(last);
  }

  private emit(e: StoreEvent): void {
    this.history.push(e);
    if (this.history.length > this.historyLimit) this.history.splice(0, this.history.length - this.historyLimit);
    for (const l of this.listeners) {
      try { l(e); } catch { /* a listener's failure is its own; the store carries on */ }
    }
  }

  /**
   * Calls `listener` with every change after `sinceRV` (replayed from history), then with every new
   * one, until the returned function is called. Throws 410 Expired when the history no longer
   * reaches back to `sinceRV`.
   */
  subscribe(sinceRV: number | undefined, listener: StoreListener): () => void {
    if (sinceRV !== undefined && sinceRV < this.rv) {
      const oldest = this.history[0]?.rv ?? this.rv + 1;
      if (sinceRV + 1 < oldest) throw new ApiError(410, 'Expired', `too old resource version: ${sinceRV} (${oldest - 1})`);
      for (const e of this.history) if (e.rv > sinceRV) listener(e);
    }
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  /** Every object, for a snapshot. */
  all(): { kind: ResourceKind; object: KubeObject }[] {
    return [...this.objects].flatMap(([kind, m]) => [...m.values()].map((o) => ({ kind, object: clone(o) })));
  }

  /** The snapshot load() takes, as JSON text: written without copying the objects first. */
  snapshot(): string {
    return JSON.stringify({ resourceVersion: this.rv, objects: [...this.objects].flatMap(([kind, m]) => [...m.values()].map((object) => ({ kind, object }))) });
  }

  /** Restores what snapshot() (or all()) saved; only into an empty store. */
  load(items: { kind: ResourceKind; object: KubeObject }[], rv: number): void {
    if ([...this.objects.values()].some((m) => m.size)) throw new Error('load needs an empty store');
    for (const { kind, object } of items) this.ofKind(kind).set(keyOf(object.metadata.namespace, object.metadata.name!), clone(object));
    this.rv = Math.max(rv, ...items.map((i) => Number(i.object.metadata.resourceVersion) || 0));
  }
}
