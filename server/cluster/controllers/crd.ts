import { API_APPROVAL_ANNOTATION as APPROVAL, CLEANUP_FINALIZER, conditionTrue, customResourceDefinition, isProtectedGroup, type CustomResourceDefinition, type CustomResourceNames, type DefinitionCondition } from '../crd/definition.ts';
import { ApiError } from '../object.ts';
import type { ControllerContext, ControllerSpec, ReconcileResult } from './controller.ts';
import { timestamp } from './podutil.ts';

// apiextensions-apiserver's controllers for CustomResourceDefinitions, in one:
// - naming: the names a definition asks for are accepted unless another definition of the same
//   group already has them (NamesAccepted, with status.acceptedNames); a definition whose names
//   were accepted once becomes Established, and the API serves its kinds from then on;
// - API approval: a definition in a group under k8s.io or kubernetes.io reports whether its
//   api-approved.kubernetes.io annotation links an approved review;
// - finalizer: deleting a definition marks it Terminating; every object of its kind is deleted,
//   and once none is left the cleanup finalizer goes and so does the definition.

/** Looked at again while objects of a terminating definition remain (some have finalizers of their own). */
const RECHECK_MS = 1_000;

interface Want { type: string; status: DefinitionCondition['status']; reason: string; message: string }

function definitions(ctx: ControllerContext): CustomResourceDefinition[] {
  return ctx.api.store.list('CustomResourceDefinition').flatMap((o) => {
    const parsed = customResourceDefinition.safeParse(o);
    return parsed.success ? [parsed.data] : [];
  });
}

/** The first name `crd` asks for that another definition of its group has accepted, as the naming controller reports it. */
function nameConflict(crd: CustomResourceDefinition, others: CustomResourceDefinition[]): Want | undefined {
  const taken = others.filter((o) => o.spec.group === crd.spec.group && o.metadata.name !== crd.metadata.name).map((o) => o.status?.acceptedNames ?? {});
  const resources = new Set(taken.flatMap((n) => [n.plural, n.singular, ...(n.shortNames ?? [])]).filter(Boolean));
  const kinds = new Set(taken.flatMap((n) => [n.kind, n.listKind]).filter(Boolean));
  const names = crd.spec.names;
  const conflict = (reason: string, name: string): Want => ({ type: 'NamesAccepted', status: 'False', reason, message: `"${name}" is already in use` });
  if (resources.has(names.plural)) return conflict('PluralConflict', names.plural);
  if (names.singular && resources.has(names.singular)) return conflict('SingularConflict', names.singular);
  const short = names.shortNames?.find((s) => resources.has(s));
  if (short) return conflict('ShortNamesConflict', short);
  if (kinds.has(names.kind)) return conflict('KindConflict', names.kind);
  if (names.listKind && kinds.has(names.listKind)) return conflict('ListKindConflict', names.listKind);
  return undefined;
}

function approval(crd: CustomResourceDefinition): Want | undefined {
  if (!isProtectedGroup(crd.spec.group)) return undefined;
  const value = crd.metadata.annotations?.[APPROVAL] ?? '';
  const type = 'KubernetesAPIApprovalPolicyConformant';
  if (!value) return { type, status: 'False', reason: 'MissingAnnotation', message: `protected groups must have approval annotation "${APPROVAL}", see https://github.com/kubernetes/enhancements/pull/1111` };
  if (value.startsWith('unapproved')) return { type, status: 'False', reason: 'UnapprovedAnnotation', message: `not approved: "${value}"` };
  return { type, status: 'True', reason: 'ApprovedAnnotation', message: `approved in ${value}` };
}

/** Sets each condition, keeping lastTransitionTime unless the status changes; false when nothing changed. */
function withConditions(current: DefinitionCondition[], wants: Want[], now: string): DefinitionCondition[] {
  const out = [...current];
  for (const want of wants) {
    const i = out.findIndex((c) => c.type === want.type);
    if (i < 0) { out.push({ ...want, lastTransitionTime: now }); continue; }
    out[i] = { ...out[i], ...want, lastTransitionTime: out[i].status === want.status ? out[i].lastTransitionTime : now };
  }
  return out;
}

function writeStatus(ctx: ControllerContext, name: string, conditions: Want[], acceptedNames?: CustomResourceNames): void {
  const now = timestamp(ctx.api.now());
  ctx.api.mutate('CustomResourceDefinition', undefined, name, (o) => {
    const status = (o.status ?? {}) as { conditions?: DefinitionCondition[]; acceptedNames?: CustomResourceNames };
    o.status = { ...status, ...(acceptedNames ? { acceptedNames } : {}), conditions: withConditions(status.conditions ?? [], conditions, now) };
  }, { subresource: 'status' });
}

function acceptNames(ctx: ControllerContext, crd: CustomResourceDefinition): void {
  const conflict = nameConflict(crd, definitions(ctx));
  const established = conditionTrue(crd, 'Established');
  const wants: Want[] = conflict
    ? [conflict, ...(established ? [] : [{ type: 'Established', status: 'False', reason: 'NotAccepted', message: 'not all names are accepted' } as const])]
    : [{ type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found' },
      ...(established ? [] : [{ type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted' } as const])];
  const approved = approval(crd);
  if (approved) wants.push(approved);
  writeStatus(ctx, crd.metadata.name, wants, conflict ? undefined : crd.spec.names);
}

/** Deletes the definition's objects; true once none is left. */
function deleteInstances(ctx: ControllerContext, crd: CustomResourceDefinition): boolean {
  const kind = ctx.api.kinds.kinds().find((k) => k === crd.metadata.name);
  if (!kind) return true;
  const left = ctx.api.store.list(kind);
  for (const o of left) {
    if (o.metadata.deletionTimestamp) continue;
    try {
      ctx.api.delete(kind, o.metadata.namespace, o.metadata.name!, { propagationPolicy: 'Background' });
    } catch (e) {
      if (!(e instanceof ApiError && e.reason === 'NotFound')) throw e;
    }
  }
  return ctx.api.store.list(kind).length === 0;
}

function finalize(ctx: ControllerContext, crd: CustomResourceDefinition): ReconcileResult {
  if (!crd.metadata.finalizers?.includes(CLEANUP_FINALIZER)) return;
  writeStatus(ctx, crd.metadata.name, [{ type: 'Terminating', status: 'True', reason: 'InstanceDeletionInProgress', message: 'CustomResource deletion is in progress' }]);
  if (!deleteInstances(ctx, crd)) return { requeueAfterMs: RECHECK_MS };
  ctx.api.mutate('CustomResourceDefinition', undefined, crd.metadata.name, (o) => {
    o.metadata.finalizers = (o.metadata.finalizers ?? []).filter((f) => f !== CLEANUP_FINALIZER);
  });
}

export function customResourceDefinitions(): ControllerSpec {
  return {
    name: 'apiextensions',
    watches: 'all',
    initialKeys: (ctx) => ctx.api.store.list('CustomResourceDefinition').map((o) => o.metadata.name!),
    keysFor(e, ctx) {
      if (e.kind !== 'CustomResourceDefinition') {
        // An object of a terminating definition going away may let the definition go.
        const crd = ctx.api.kinds.customKind(e.kind);
        return e.type === 'DELETED' && crd?.terminating ? [e.kind] : [];
      }
      // A definition gone, or whose names changed, may free names another one waits for.
      const group = (e.object.spec as { group?: string } | undefined)?.group;
      const waiting = definitions(ctx).filter((d) => d.spec.group === group && !conditionTrue(d, 'NamesAccepted')).map((d) => d.metadata.name);
      return e.type === 'DELETED' ? waiting : [e.object.metadata.name!, ...waiting];
    },
    reconcile(name, ctx) {
      const parsed = customResourceDefinition.safeParse(ctx.api.tryGet('CustomResourceDefinition', undefined, name));
      if (!parsed.success) return;
      return parsed.data.metadata.deletionTimestamp ? finalize(ctx, parsed.data) : acceptNames(ctx, parsed.data);
    },
  };
}
