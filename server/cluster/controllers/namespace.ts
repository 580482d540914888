import { ApiError, type KubeObject } from '../object.ts';
import type { ControllerContext, ControllerSpec, ReconcileResult } from './controller.ts';
import { timestamp } from './podutil.ts';
import type { Condition } from './types.ts';

// The namespace controller (pkg/controller/namespace): a namespace being deleted (Terminating)
// has everything in it deleted (in the background: the garbage collector and the kubelets do the
// rest), reports in its conditions what is left and which finalizers hold it, and once it is
// empty loses the `kubernetes` finalizer from spec.finalizers, so the API server removes it.

const FINALIZER = 'kubernetes';
/** Looked at again while content remains, in case an object leaves without an event here. */
const RECHECK_MS = 5_000;

/** The condition types the deleter keeps, with their reason and message when all is well. */
const OK: [type: string, reason: string, message: string][] = [
  ['NamespaceDeletionDiscoveryFailure', 'ResourcesDiscovered', 'All resources successfully discovered'],
  ['NamespaceDeletionGroupVersionParsingFailure', 'ParsedGroupVersions', 'All legacy kube types successfully parsed'],
  ['NamespaceDeletionContentFailure', 'ContentDeleted', 'All content successfully deleted, may be waiting on finalization'],
  ['NamespaceContentRemaining', 'ContentRemoved', 'All content successfully removed'],
  ['NamespaceFinalizersRemaining', 'ContentRemoved', 'All content successfully removed'],
];

interface Namespace extends KubeObject { spec?: { finalizers?: string[] }; status?: { phase?: string; conditions?: Condition[] } }

export function namespaceController(): ControllerSpec {
  return {
    name: 'namespace',
    watches: 'all',
    initialKeys: (ctx) => ctx.api.store.list('Namespace').filter((n) => n.metadata.deletionTimestamp).map((n) => n.metadata.name!),
    keysFor(e, ctx) {
      if (e.kind === 'Namespace') return e.type !== 'DELETED' && e.object.metadata.deletionTimestamp ? [e.object.metadata.name!] : [];
      const ns = e.object.metadata.namespace;
      return ns && ctx.api.tryGet('Namespace', undefined, ns)?.metadata.deletionTimestamp ? [ns] : [];
    },
    reconcile: (name, ctx) => syncNamespace(name, ctx),
  };
}

function syncNamespace(name: string, ctx: ControllerContext): ReconcileResult {
  const ns = ctx.api.tryGet('Namespace', undefined, name) as Namespace | undefined;
  if (!ns?.metadata.deletionTimestamp || !ns.spec?.finalizers?.includes(FINALIZER)) return;
  const failures: string[] = [];
  const namespaced = ctx.api.kinds.kinds().filter((k) => ctx.api.kinds.namespaced(k));
  for (const kind of namespaced) {
    for (const o of ctx.api.store.list(kind, name)) {
      if (o.metadata.deletionTimestamp) continue;
      try {
        ctx.api.delete(kind, name, o.metadata.name!, { propagationPolicy: 'Background' });
      } catch (e) {
        if (!(e instanceof ApiError && e.reason === 'NotFound')) failures.push(`${(e as Error).message}`);
      }
    }
  }
  const remaining = new Map<string, number>();
  const finalizers = new Map<string, number>();
  for (const kind of namespaced) {
    const left = ctx.api.store.list(kind, name);
    const info = ctx.api.kinds.info(kind);
    if (left.length) remaining.set(`${info.plural}.${info.group}`, left.length);
    for (const o of left) for (const f of o.metadata.finalizers ?? []) finalizers.set(f, (finalizers.get(f) ?? 0) + 1);
  }
  updateConditions(ctx, ns, failures, remaining, finalizers);
  if (remaining.size) return { requeueAfterMs: RECHECK_MS };
  // Empty: the namespace may go.
  ctx.api.mutate('Namespace', undefined, name, (o) => {
    const spec = (o.spec ?? {}) as { finalizers?: string[] };
    spec.finalizers = (spec.finalizers ?? []).filter((f) => f !== FINALIZER);
    o.spec = spec;
  }, { subresource: 'finalize' });
}

function updateConditions(ctx: ControllerContext, ns: Namespace, failures: string[], remaining: Map<string, number>, finalizers: Map<string, number>): void {
  const problems = new Map<string, { reason: string; message: string }>();
  if (failures.length) {
    problems.set('NamespaceDeletionContentFailure', { reason: 'ContentDeletionFailed', message: `Failed to delete all resource types, ${failures.length} remaining: ${[...failures].sort().join(', ')}` });
  }
  if (remaining.size) {
    const list = [...remaining].map(([r, n]) => `${r} has ${n} resource instances`).sort().join(', ');
    problems.set('NamespaceContentRemaining', { reason: 'SomeResourcesRemain', message: `Some resources are remaining: ${list}` });
  }
  if (finalizers.size) {
    const list = [...finalizers].map(([f, n]) => `${f} in ${n} resource instances`).sort().join(', ');
    problems.set('NamespaceFinalizersRemaining', { reason: 'SomeFinalizerRemain', message: `Some finalizers are remaining: ${list}` });
  }
  const now = timestamp(ctx.api.now());
  ctx.api.mutate('Namespace', undefined, ns.metadata.name!, (o) => {
    const status = (o.status ?? {}) as NonNullable<Namespace['status']>;
    const conditions = [...(status.conditions ?? [])];
    for (const [type, okReason, okMessage] of OK) {
      const problem = problems.get(type);
      const want = { status: problem ? 'True' : 'False', reason: problem?.reason ?? okReason, message: problem?.message ?? okMessage } as const;
      const i = conditions.findIndex((c) => c.type === type);
      if (i < 0) { conditions.push({ type, status: want.status, lastTransitionTime: now, reason: want.reason, message: want.message }); continue; }
      const cur = conditions[i];
      if (cur.status === want.status && cur.reason === want.reason && cur.message === want.message) continue;
      conditions[i] = { ...cur, ...want, lastTransitionTime: cur.status !== want.status ? now : cur.lastTransitionTime };
    }
    o.status = { ...status, phase: 'Terminating', conditions };
  }, { subresource: 'status' });
}
