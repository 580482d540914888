import { ALL_VERBS, KINDS, KIND_NAMES, groupVersion, isBuiltin, type KindInfo, type KindName, type Subresource } from './kinds.ts';
import { conditionTrue, customResourceDefinition, type CustomResourceDefinition, type DefinitionVersion, type JsonSchema, type PrinterColumn } from './crd/definition.ts';
import { ApiError } from './object.ts';
import type { ObjectStore, StoreEvent } from './store.ts';

// Every kind one lab's API serves: the built-in table (kinds.ts) and the kinds its established
// CustomResourceDefinitions add. REST routing, discovery, OpenAPI, Tables, the store and the
// controllers ask this registry, never the table alone, so a custom kind is served everywhere a
// built-in one is. As kube-apiserver does, a definition's kinds are served under the names its
// status accepted, once its Established condition is True, and until the definition is gone.

/** A custom kind's name in the store: its definition's name, "<plural>.<group>". Built-in kind
 *  names hold no dot, so the two never meet. */
export type CustomKindName = `${string}.${string}`;

/** A kind the store keeps and the API serves. */
export type ResourceKind = KindName | CustomKindName;

/** One served version of a custom kind. */
export interface CustomVersion {
  info: KindInfo;
  schema?: JsonSchema;
  columns: PrinterColumn[];
  deprecationWarning?: string;
}

export interface CustomKind {
  name: CustomKindName;
  /** The version objects are stored in: what the store's objects say in apiVersion. */
  storage: CustomVersion;
  /** Served versions, in the definition's order. */
  versions: CustomVersion[];
  /** The definition is being deleted: its objects are going, no new ones are accepted. */
  terminating: boolean;
}

/** A kind as served at one group version: a built-in kind, or one version of a custom kind. */
export interface ServedKind { kind: ResourceKind; info: KindInfo; custom?: CustomVersion }

const CRD_KIND: KindName = 'CustomResourceDefinition';

/** The status subresource, when declared. (A declared scale subresource is not served yet.) */
function subresourcesOf(kind: string, v: DefinitionVersion): Subresource[] {
  const subs: Subresource[] = [];
  if (v.subresources?.status) subs.push({ name: 'status', kind, verbs: ['get', 'patch', 'update'] });
  return subs;
}

/** The API server's warning for a deprecated version, pointing at the best newer version served. */
function deprecationWarning(crd: CustomResourceDefinition, version: string, kind: string): string {
  const newer = crd.spec.versions.filter((v) => v.served && !v.deprecated && byVersionPriority(v.name, version) < 0).map((v) => v.name).sort(byVersionPriority);
  const warning = `${crd.spec.group}/${version} ${kind} is deprecated`;
  return newer.length ? `${warning}; use ${crd.spec.group}/${newer[0]} ${kind}` : warning;
}

/** The custom kind a definition establishes, or undefined while it is not established. */
export function customKindOf(crd: CustomResourceDefinition): CustomKind | undefined {
  const accepted = crd.status?.acceptedNames;
  const kind = accepted?.kind;
  const plural = accepted?.plural;
  if (!conditionTrue(crd, 'Established') || !plural || !kind) return undefined;
  const versionOf = (v: DefinitionVersion): CustomVersion => ({
    info: {
      group: crd.spec.group, version: v.name, kind, plural, singular: accepted.singular || kind.toLowerCase(),
      namespaced: crd.spec.scope === 'Namespaced', shortNames: accepted.shortNames ?? [], categories: accepted.categories ?? [],
      verbs: ALL_VERBS, subresources: subresourcesOf(kind, v),
    },
    schema: v.schema?.openAPIV3Schema,
    columns: v.additionalPrinterColumns ?? [],
    ...(v.deprecated ? { deprecationWarning: v.deprecationWarning ?? deprecationWarning(crd, v.name, kind) } : {}),
  });
  const storage = crd.spec.versions.find((v) => v.storage);
  if (!storage) return undefined;
  return {
    // The definition's own name, which validation holds to spec.names.plural + "." + spec.group.
    name: `${crd.spec.names.plural}.${crd.spec.group}`,
    storage: versionOf(storage),
    versions: crd.spec.versions.filter((v) => v.served).map(versionOf),
    terminating: crd.metadata.deletionTimestamp !== undefined,
  };
}

/** Kubernetes' version priority (CompareKubeAwareVersionStrings): GA before beta before alpha,
 *  higher numbers first; versions of another form after them, alphabetically. */
export function byVersionPriority(a: string, b: string): number {
  const rank = (v: string) => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    return m ? [m[2] === 'alpha' ? 1 : m[2] === 'beta' ? 2 : 3, Number(m[1]), Number(m[3] ?? 0)] : undefined;
  };
  const ra = rank(a);
  const rb = rank(b);
  if (!ra || !rb) return ra ? -1 : rb ? 1 : a.localeCompare(b);
  return rb[0] - ra[0] || rb[1] - ra[1] || rb[2] - ra[2];
}

export class KindRegistry {
  private readonly custom = new Map<CustomKindName, CustomKind>();
  /** Which custom kind each definition (by name) established. */
  private readonly byDefinition = new Map<string, CustomKindName>();
  private listeners = new Set<() => void>();

  /** The kind's facts, at its storage version for a custom kind; 404 for a kind no longer served. */
  info(kind: ResourceKind): KindInfo {
    if (isBuiltin(kind)) return KINDS[kind];
    return this.requireCustom(kind).storage.info;
  }

  namespaced(kind: ResourceKind): boolean {
    return isBuiltin(kind) ? KINDS[kind].namespaced : this.custom.get(kind)?.storage.info.namespaced ?? false;
  }

  customKind(kind: ResourceKind): CustomKind | undefined {
    return isBuiltin(kind) ? undefined : this.custom.get(kind);
  }

  /** A custom kind that must be served (it was when the request was routed); 404 once it is not. */
  requireCustom(kind: CustomKindName): CustomKind {
    const c = this.custom.get(kind);
    if (!c) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    return c;
  }

  /** Every kind the store may hold: the built-in ones, then the custom ones. */
  kinds(): ResourceKind[] {
    return [...KIND_NAMES, ...this.custom.keys()];
  }

  /** Every kind at every version it is served at, built-in kinds first, custom ones in the order they were established. */
  served(): ServedKind[] {
    return [
      ...KIND_NAMES.map((kind) => ({ kind, info: KINDS[kind] })),
      ...[...this.custom.values()].flatMap((c) => c.versions.map((v) => ({ kind: c.name, info: v.info, custom: v }))),
    ];
  }

  /** The served group versions, core ("v1") first, in the order discovery lists them: groups as
   *  their kinds first appear, each group's versions by priority (its first is the preferred one). */
  groupVersions(): { group: string; version: string }[] {
    const byGroup = new Map<string, Set<string>>();
    for (const { info } of this.served()) byGroup.set(info.group, (byGroup.get(info.group) ?? new Set()).add(info.version));
    return [...byGroup].flatMap(([group, versions]) => [...versions].sort(byVersionPriority).map((version) => ({ group, version })));
  }

  /** The kind served at /api(s)/<group>/<version>/.../<plural>, if any. */
  byPlural(group: string, version: string, plural: string): ServedKind | undefined {
    return this.served().find(({ info }) => info.group === group && info.version === version && info.plural === plural);
  }

  /** The kind an object's apiVersion and kind name, if it is served. */
  byApiVersion(apiVersion: string | undefined, kind: string | undefined): ServedKind | undefined {
    return this.served().find(({ info }) => groupVersion(info) === apiVersion && info.kind === kind);
  }

  /** Called after every change to the served custom kinds (documents built from them go stale). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  /** Serves the kinds of the store's definitions, now and as they change; returns how to stop. */
  follow(store: ObjectStore): () => void {
    for (const crd of store.list(CRD_KIND)) this.define(crd.metadata.name!, crd);
    this.changed();
    return store.subscribe(undefined, (e: StoreEvent) => {
      if (e.kind !== CRD_KIND) return;
      if (e.type === 'DELETED') this.forget(e.object.metadata.name!); else this.define(e.object.metadata.name!, e.object);
      this.changed();
    });
  }

  private define(name: string, object: unknown): void {
    const parsed = customResourceDefinition.safeParse(object);
    const kind = parsed.success ? customKindOf(parsed.data) : undefined;
    const before = this.byDefinition.get(name);
    if (before && before !== kind?.name) this.custom.delete(before);
    if (!kind) { this.byDefinition.delete(name); return; }
    this.byDefinition.set(name, kind.name);
    this.custom.set(kind.name, kind);
  }

  private forget(name: string): void {
    const kind = this.byDefinition.get(name);
    if (kind) this.custom.delete(kind);
    this.byDefinition.delete(name);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}
