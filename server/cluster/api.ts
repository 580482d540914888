import { randomUUID } from 'node:crypto';
import { randomNameSuffix } from './admission/defaults.ts';
import { CLEANUP_FINALIZER } from './crd/definition.ts';
import { groupVersion } from './kinds.ts';
import { ApiError, alreadyExists, badRequest, conflict, invalid, notFound, type KubeObject } from './object.ts';
import type { KindRegistry, ResourceKind } from './registry.ts';
import { checkFieldSelector, matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from './selectors.ts';
import { clone, ObjectStore, type StoreEvent, type WatchEventType } from './store.ts';

// What the API server does between a request and the store, shared by the REST handlers and the
// controllers, so a controller's write follows the same rules as kubectl's: admission (defaults,
// allocation, validation), optimistic concurrency on resourceVersion, the status subresource
// (a write to the object keeps its status, a write to /status keeps the rest), generation, and
// deletion (graceful for pods on a node, finalizers, propagation to dependents).

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

export interface ApiDeps {
  /** Defaults, allocates and validates an object about to be stored; throws ApiError. */
  admit(kind: ResourceKind, obj: KubeObject, old: KubeObject | undefined, api: ClusterApi, opts?: AdmitOptions): KubeObject;
  patch(kind: ResourceKind, current: object, type: PatchType, patch: unknown): object;
  now(): Date;
}

/** How the API server treats fields an object's schema does not declare (the `fieldValidation`
 *  query parameter): drop them silently, drop them with a warning (the default), or refuse the write. */
export type FieldValidation = 'Ignore' | 'Warn' | 'Strict';

export interface AdmitOptions {
  /** The ephemeralcontainers subresource: validated as that, the rest of the pod is as stored. */
  ephemeral?: boolean;
  subresource?: string;
  fieldValidation?: FieldValidation;
  /** Receives the warnings the API server sends back in Warning headers. */
  warn?(message: string): void;
}

export interface WriteOptions {
  dryRun?: boolean;
  subresource?: string;
  fieldValidation?: FieldValidation;
  warn?(message: string): void;
}

export interface DeleteOptions {
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

export interface ListOptions {
  labelSelector?: string | null;
  fieldSelector?: string | null;
}

export interface WatchEvent { type: WatchEventType | 'BOOKMARK'; object: KubeObject }


/** Everything but metadata and status: what a change to bumps metadata.generation. */
function specPart(o: KubeObject): string {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
  return JSON.stringify(rest);
}

export class ClusterApi {
  constructor(readonly store: ObjectStore, readonly kinds: KindRegistry, private readonly deps: ApiDeps) {}

  private hasStatus(kind: ResourceKind): boolean {
    return this.kinds.info(kind).subresources.some((s) => s.name === 'status');
  }

  now(): Date { return this.deps.now(); }

  private namespaceOf(kind: ResourceKind, namespace: string | undefined): string | undefined {
    if (!this.kinds.info(kind).namespaced) return undefined;
    if (!namespace) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    return namespace;
  }

  tryGet(kind: ResourceKind, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.store.get(kind, this.kinds.info(kind).namespaced ? namespace : undefined, name);
  }

  get(kind: ResourceKind, namespace: string | undefined, name: string): KubeObject {
    const o = this.tryGet(kind, namespace, name);
    if (!o) throw notFound(this.kinds.info(kind).plural, this.kinds.info(kind).group, name);
    return o;
  }

  list(kind: ResourceKind, namespace: string | undefined, opts: ListOptions = {}): { items: KubeObject[]; resourceVersion: string } {
    const labels = parseLabelSelector(opts.labelSelector);
    const fields = parseFieldSelector(opts.fieldSelector);
    if (fields.length) checkFieldSelector(kind, fields, { apiVersion: '', kind: '', metadata: { name: '', namespace: '' } });
    const resourceVersion = this.store.resourceVersion;
    const items = this.store.list(kind, this.kinds.info(kind).namespaced ? namespace : undefined,
      labels.length || fields.length ? (o) => matchesLabels(labels, o.metadata.labels) && matchesFields(kind, fields, o) : undefined);
    return { items, resourceVersion };
  }

  /** Watches a kind from `resourceVersion` (absent or "0": the current objects first, as ADDED). */
  watch(kind: ResourceKind, namespace: string | undefined, opts: ListOptions & { resourceVersion?: string }, send: (e: WatchEvent) => void): () => void {
    const labels = parseLabelSelector(opts.labelSelector);
    const fields = parseFieldSelector(opts.fieldSelector);
    const ns = this.kinds.info(kind).namespaced ? namespace : undefined;
    const selected = (o: KubeObject) => (ns === undefined || o.metadata.namespace === ns) && matchesLabels(labels, o.metadata.labels) && matchesFields(kind, fields, o);
    const rv = opts.resourceVersion && opts.resourceVersion !== '0' ? Number(opts.resourceVersion) : undefined;
    if (rv !== undefined && !Number.isInteger(rv)) throw badRequest(`invalid resource version: ${opts.resourceVersion}`);
    if (rv === undefined) for (const o of this.store.list(kind, ns)) if (selected(o)) send({ type: 'ADDED', object: o });
    // An object that stops matching a selector leaves the watch as DELETED, and one that starts
    // matching enters as ADDED, as the API server's watch cache reports them.
    const known = new Set(this.store.list(kind, ns).filter(selected).map((o) => o.metadata.uid));
    return this.store.subscribe(rv ?? Number(this.store.resourceVersion), (e: StoreEvent) => {
      if (e.kind !== kind) return;
      const now = e.type !== 'DELETED' && selected(e.object);
      const before = known.has(e.object.metadata.uid);
      if (now) known.add(e.object.metadata.uid); else known.delete(e.object.metadata.uid);
      if (e.type === 'DELETED') { if (before || selected(e.object)) send({ type: 'DELETED', object: clone(e.object) }); return; }
      if (now) send({ type: before ? 'MODIFIED' : 'ADDED', object: clone(e.object) });
      else if (before) send({ type: 'DELETED', object: clone(e.object) });
    });
  }

  create(kind: ResourceKind, namespace: string | undefined, body: KubeObject, opts: WriteOptions = {}): KubeObject {
    const info = this.kinds.info(kind);
    const ns = this.namespaceOf(kind, namespace ?? body.metadata?.namespace);
    if (!body || typeof body !== 'object' || !body.metadata || typeof body.metadata !== 'object') throw badRequest('Object \'metadata\' is missing');
    if (body.metadata.namespace && ns && body.metadata.namespace !== ns) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    if (body.apiVersion !== groupVersion(info) || body.kind !== info.kind) {
      throw badRequest(`the API version in the data (${body.apiVersion}) does not match the expected API version (${groupVersion(info)})`);
    }
    if (this.kinds.customKind(kind)?.terminating) throw new ApiError(405, 'MethodNotAllowed', 'create not allowed while custom resource definition is terminating');
    if (ns !== undefined) {
      const nsObj = this.tryGet('Namespace', undefined, ns);
      if (!nsObj) throw notFound('namespaces', '', ns);
      if (nsObj.metadata.deletionTimestamp) {
        throw new ApiError(403, 'Forbidden', `${info.plural} "${body.metadata.name ?? body.metadata.generateName ?? ''}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`);
      }
    }
    const obj = clone(body);
    const meta = obj.metadata;
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomNameSuffix()}`;
    if (!meta.name) throw new ApiError(422, 'Invalid', `${info.kind} "" is invalid: metadata.name: Required value: name or generateName is required`, { kind: info.kind, causes: [{ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' }] });
    if (ns !== undefined) meta.namespace = ns; else delete meta.namespace;
    if (this.tryGet(kind, ns, meta.name)) throw alreadyExists(info.plural, info.group, meta.name);
    meta.uid = randomUUID();
    meta.creationTimestamp = this.now().toISOString().replace(/\.\d+Z$/, 'Z');
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    if (kind !== 'Event' && kind !== 'ConfigMap' && kind !== 'Secret' && kind !== 'ServiceAccount' && kind !== 'Endpoints' && kind !== 'EndpointSlice' && kind !== 'Namespace' && kind !== 'Node') meta.generation = 1;
    const admitted = this.deps.admit(kind, obj, undefined, this, { fieldValidation: opts.fieldValidation, warn: opts.warn });
    if (opts.dryRun) return admitted;
    return this.store.put(kind, admitted);
  }

  update(kind: ResourceKind, namespace: string | undefined, name: string, body: KubeObject, opts: WriteOptions = {}): KubeObject {
    const info = this.kinds.info(kind);
    const ns = this.kinds.info(kind).namespaced ? namespace : undefined;
    if (!body || typeof body !== 'object' || !body.metadata) throw badRequest('Object \'metadata\' is missing');
    if (body.metadata.name && body.metadata.name !== name) throw badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`);
    const old = this.get(kind, ns, name);
    const rv = body.metadata.resourceVersion;
    if (rv && rv !== old.metadata.resourceVersion) {
      throw conflict(info.plural, info.group, name, 'the object has been modified; please apply your changes to the latest version and try again');
    }
    let obj = clone(body);
    obj.apiVersion = groupVersion(info);
    obj.kind = info.kind;
    const sub = opts.subresource;
    if (sub === 'status') {
      // /status changes status only: spec and metadata stay as stored (labels and annotations too).
      obj = { ...old, status: obj.status };
    } else if (sub === 'ephemeralcontainers') {
      // kubectl debug adds an ephemeral container; those already there cannot change or go.
      const before = ((old.spec as { ephemeralContainers?: { name: string }[] }).ephemeralContainers ?? []);
      const after = ((obj.spec as { ephemeralContainers?: { name: string }[] } | undefined)?.ephemeralContainers ?? []);
      for (const c of before) {
        const now = after.find((x) => x.name === c.name);
        if (!now || JSON.stringify(now) !== JSON.stringify(c)) {
          throw invalid('Pod', '', name, [{ field: 'spec.ephemeralContainers', message: 'Forbidden: existing ephemeral containers may not be removed or changed', reason: 'FieldValueForbidden' }]);
        }
      }
      obj = { ...old, spec: { ...(old.spec as object), ephemeralContainers: after } };
      const admitted = this.deps.admit(kind, obj, old, this, { ephemeral: true });
      return opts.dryRun ? admitted : this.store.put(kind, admitted);
    } else {
      if (this.hasStatus(kind) && sub !== 'finalize') obj.status = old.status;
      // Metadata the server owns stays the server's.
      obj.metadata = { ...obj.metadata, name, uid: old.metadata.uid, creationTimestamp: old.metadata.creationTimestamp,
        deletionTimestamp: old.metadata.deletionTimestamp, deletionGracePeriodSeconds: old.metadata.deletionGracePeriodSeconds, generation: old.metadata.generation };
      if (ns !== undefined) obj.metadata.namespace = ns;
      for (const k of Object.keys(obj.metadata) as (keyof typeof obj.metadata)[]) if (obj.metadata[k] === undefined) delete obj.metadata[k];
    }
    // A built-in kind's status is its controllers' report, stored as written; a custom kind's is
    // checked against its schema like the rest of the object.
    const admitted = sub === 'status' && !this.kinds.customKind(kind) ? obj
      : this.deps.admit(kind, obj, old, this, { subresource: sub, fieldValidation: opts.fieldValidation, warn: opts.warn });
    // The generation counts changes to the object as it is stored, defaults filled in: a write
    // that only leaves out what defaulting restores changes nothing.
    if (sub !== 'status' && old.metadata.generation !== undefined && specPart(admitted) !== specPart(old)) admitted.metadata.generation = old.metadata.generation + 1;
    if (opts.dryRun) return admitted;
    // A write that changes nothing is not stored: the object keeps its resourceVersion, and
    // watchers see no event (kube-apiserver skips such no-op updates).
    if (JSON.stringify({ ...admitted, metadata: { ...admitted.metadata, resourceVersion: old.metadata.resourceVersion } }) === JSON.stringify(old)) return old;
    // An object being deleted whose last finalizer went goes away now.
    if (admitted.metadata.deletionTimestamp && !(admitted.metadata.finalizers?.length) && !(kind === 'Namespace' && (admitted.spec as { finalizers?: string[] } | undefined)?.finalizers?.length)) {
      // A pod on a node is removed by its kubelet once its containers are stopped; any other goes now.
      const podSpec = admitted.spec as { nodeName?: string } | undefined;
      const phase = (admitted.status as { phase?: string } | undefined)?.phase;
      if (kind !== 'Pod' || !podSpec?.nodeName || phase === 'Succeeded' || phase === 'Failed' || admitted.metadata.deletionGracePeriodSeconds === 0) {
        this.store.put(kind, admitted);
        return this.store.remove(kind, ns, name)!;
      }
    }
    return this.store.put(kind, admitted);
  }

  /** PATCH in any of the four types; apply creates the object when it does not exist. */
  patch(kind: ResourceKind, namespace: string | undefined, name: string, type: PatchType, body: unknown, opts: WriteOptions = {}): KubeObject {
    const info = this.kinds.info(kind);
    const current = this.tryGet(kind, namespace, name);
    if (!current) {
      if (type !== 'apply') throw notFound(info.plural, info.group, name);
      const obj = body as KubeObject;
      if (!obj?.metadata?.name) throw badRequest('metadata.name is required');
      return this.create(kind, namespace, obj, opts);
    }
    const patched = this.deps.patch(kind, current, type, body) as KubeObject;
    if (!patched || typeof patched !== 'object' || !patched.metadata) throw badRequest('the patch removed the object\'s metadata');
    // A patch carries the version it was computed from only when the client put it there.
    const sent = (body as { metadata?: { resourceVersion?: string } } | null)?.metadata?.resourceVersion;
    patched.metadata.resourceVersion = sent ?? current.metadata.resourceVersion;
    return this.update(kind, namespace, name, patched, opts);
  }

  /** A patch applied to a value without storing it (the Scale subresource's patches). */
  patchValue(kind: ResourceKind, current: object, type: PatchType, body: unknown): object {
    return this.deps.patch(kind, current, type, body);
  }

  /** Reads, changes and writes an object, retrying on conflicts: what controllers use. */
  mutate(kind: ResourceKind, namespace: string | undefined, name: string, change: (o: KubeObject) => void | false, opts: WriteOptions = {}): KubeObject | undefined {
    for (let attempt = 0; attempt < 5; attempt++) {
      const o = this.tryGet(kind, namespace, name);
      if (!o) return undefined;
      const before = JSON.stringify(o);
      if (change(o) === false || JSON.stringify(o) === before) return o;
      try {
        return this.update(kind, namespace, name, o, opts);
      } catch (e) {
        if (!(e instanceof ApiError && e.reason === 'Conflict')) throw e;
      }
    }
    throw new ApiError(409, 'Conflict', `could not update ${this.kinds.info(kind).plural} "${name}" after 5 attempts`);
  }

  /**
   * DELETE. Pods on a node get a deletionTimestamp and a grace period: the kubelet stops them and
   * then removes them. Objects with finalizers (and namespaces, with spec.finalizers) are marked and
   * stay until their finalizers are gone. Foreground propagation waits on the dependents; Orphan
   * strips their owner references; Background (kubectl's default) leaves them to the garbage collector.
   */
  delete(kind: ResourceKind, namespace: string | undefined, name: string, opts: DeleteOptions = {}): { object: KubeObject; gone: boolean } {
    const info = this.kinds.info(kind);
    const ns = info.namespaced ? namespace : undefined;
    const old = this.get(kind, ns, name);
    const pre = opts.preconditions;
    if (pre?.uid && pre.uid !== old.metadata.uid) throw conflict(info.plural, info.group, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`);
    if (pre?.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) {
      throw conflict(info.plural, info.group, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`);
    }
    if (opts.dryRun) return { object: old, gone: false };
    const now = this.now().toISOString().replace(/\.\d+Z$/, 'Z');
    const obj = clone(old);
    const finalizers = new Set(obj.metadata.finalizers ?? []);
    if (opts.propagationPolicy === 'Foreground') finalizers.add('foregroundDeletion');
    if (opts.propagationPolicy === 'Orphan') finalizers.add('orphan');
    // A definition's storage holds it until its custom resources are gone.
    if (kind === 'CustomResourceDefinition') finalizers.add(CLEANUP_FINALIZER);
    const nsFinalizers = kind === 'Namespace' ? ((obj.spec as { finalizers?: string[] } | undefined)?.finalizers ?? []) : [];
    if (kind === 'Pod') {
      const spec = (obj.spec ?? {}) as { nodeName?: string; terminationGracePeriodSeconds?: number };
      const phase = (obj.status as { phase?: string } | undefined)?.phase;
      const grace = opts.gracePeriodSeconds ?? spec.terminationGracePeriodSeconds ?? 30;
      // A pod that never reached a node, or has finished, has nothing to stop.
      const graceful = spec.nodeName && grace > 0 && phase !== 'Succeeded' && phase !== 'Failed';
      if (graceful || finalizers.size) {
        if (!obj.metadata.deletionTimestamp) {
          obj.metadata.deletionTimestamp = graceful ? new Date(this.now().getTime() + grace * 1000).toISOString().replace(/\.\d+Z$/, 'Z') : now;
          obj.metadata.deletionGracePeriodSeconds = graceful ? grace : 0;
        } else if (graceful && grace < (obj.metadata.deletionGracePeriodSeconds ?? 30)) {
          // A second delete with a shorter grace period (--force --grace-period=0, --now) shortens it.
          obj.metadata.deletionGracePeriodSeconds = grace;
        }
        obj.metadata.finalizers = finalizers.size ? [...finalizers] : undefined;
        if (!obj.metadata.finalizers) delete obj.metadata.finalizers;
        if (!graceful && !finalizers.size) return { object: this.store.remove(kind, ns, name)!, gone: true };
        return { object: this.store.put(kind, obj), gone: false };
      }
      return { object: this.store.remove(kind, ns, name)!, gone: true };
    }
    if (finalizers.size || nsFinalizers.length) {
      if (!obj.metadata.deletionTimestamp) {
        obj.metadata.deletionTimestamp = now;
        obj.metadata.deletionGracePeriodSeconds = 0;
      }
      if (finalizers.size) obj.metadata.finalizers = [...finalizers];
      if (kind === 'Namespace') obj.status = { ...(obj.status as object), phase: 'Terminating' };
      return { object: this.store.put(kind, obj), gone: false };
    }
    return { object: this.store.remove(kind, ns, name)!, gone: true };
  }

  /** Removes an object now, whatever its state: the kubelet's last step for a stopped pod. */
  forget(kind: ResourceKind, namespace: string | undefined, name: string): void {
    this.store.remove(kind, this.kinds.info(kind).namespaced ? namespace : undefined, name);
  }
}
