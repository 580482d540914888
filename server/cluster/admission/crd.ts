import type { z } from 'zod';
import { API_APPROVAL_ANNOTATION as APPROVAL, conditionTrue, customResourceDefinition, fieldPath, isProtectedGroup, type CustomResourceDefinition, type JsonSchema } from '../crd/definition.ts';
import { parseJsonPath } from '../jsonpath.ts';
import {
  duplicate, FIELD_IMMUTABLE, goText, invalid, invalidEach, isDNS1035Label, isDNS1123Subdomain, notSupported, required, validateObjectMeta, type FieldError,
} from './validate.ts';

// CustomResourceDefinitions as apiextensions-apiserver defaults and validates them (v1): the shape
// first (crd/definition.ts, with zod), then the rules between fields, word for word where kubectl
// users meet them: the name is <plural>.<group>, exactly one storage version, a structural schema
// per version, printer columns with simple JSON paths, the approval annotation for groups under
// k8s.io and kubernetes.io, and on update the group, plural and (once established) scope and kind
// stay as they were.

type Obj = Record<string, unknown>;
const rec = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});

/** SetDefaults_CustomResourceDefinition. */
export function defaultCustomResourceDefinition(crd: Obj): void {
  const spec = rec(crd.spec);
  const names = rec(spec.names);
  if (typeof names.kind === 'string' && names.kind) {
    names.singular ||= names.kind.toLowerCase();
    names.listKind ||= `${names.kind}List`;
  }
  if (crd.spec) spec.conversion ??= { strategy: 'None' };
}

/** The registry's PrepareForCreate and PrepareForUpdate: a new definition's status starts empty but
 *  for its storage version; a changed one remembers every version objects were ever stored in. */
export function preparedDefinitionStatus(crd: Obj, creating: boolean): Obj {
  const versions = rec(crd.spec).versions;
  const storage = (Array.isArray(versions) ? versions : []).map(rec).find((v) => v.storage === true)?.name;
  if (creating) return { acceptedNames: { kind: '', plural: '' }, storedVersions: typeof storage === 'string' ? [storage] : [] };
  const status = rec(crd.status);
  const stored = Array.isArray(status.storedVersions) ? status.storedVersions : [];
  return typeof storage === 'string' && !stored.includes(storage) ? { ...status, storedVersions: [...stored, storage] } : status;
}

/** A zod issue as the API server's field error. */
function issueError(issue: z.core.$ZodIssue, object: unknown): FieldError {
  const field = fieldPath(issue.path);
  const value = issue.path.reduce<unknown>((v, k) => rec(v)[String(k)] ?? (Array.isArray(v) ? v[Number(k)] : undefined), object);
  if (value === undefined) return required(field);
  if (issue.code === 'invalid_value') return notSupported(field, typeof value === 'string' ? value : JSON.stringify(value), issue.values.map(String));
  if (issue.code === 'invalid_type') return invalid(field, goText(JSON.stringify(value)), `must be of type ${issue.expected}`);
  return invalid(field, goText(JSON.stringify(value)), issue.message);
}


/** A structural schema: every specified field has a type, unless it preserves unknown fields or is int-or-string. */
function structuralErrors(schema: JsonSchema, path: string, root: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const typeless = !schema.type && !schema['x-kubernetes-preserve-unknown-fields'] && !schema['x-kubernetes-int-or-string'];
  if (root && schema.type !== 'object') {
    errs.push(schema.type ? notSupported(`${path}.type`, schema.type, ['object']) : required(`${path}.type`, 'must not be empty at the root'));
  } else if (typeless) {
    errs.push(required(`${path}.type`, 'must not be empty for specified object fields'));
  }
  for (const [name, prop] of Object.entries(schema.properties ?? {})) errs.push(...structuralErrors(prop, `${path}.properties[${name}]`, false));
  if (schema.items) errs.push(...structuralErrors(schema.items, `${path}.items`, false));
  if (typeof schema.additionalProperties === 'object') errs.push(...structuralErrors(schema.additionalProperties, `${path}.additionalProperties`, false));
  return errs;
}

function specErrors(crd: CustomResourceDefinition): FieldError[] {
  const errs: FieldError[] = [];
  const { spec, metadata } = crd;
  const want = `${spec.names.plural}.${spec.group}`;
  if (metadata.name !== want) errs.push(invalid('metadata.name', metadata.name, 'must be spec.names.plural+"."+spec.group'));
  if (!spec.group) errs.push(required('spec.group'));
  else {
    errs.push(...invalidEach('spec.group', spec.group, isDNS1123Subdomain(spec.group)));
    if (!spec.group.includes('.')) errs.push(invalid('spec.group', spec.group, 'should be a domain with at least one dot'));
    if (isProtectedGroup(spec.group) && !metadata.annotations?.[APPROVAL]) {
      errs.push(required(`metadata.annotations[${APPROVAL}]`, `protected groups must have approval annotation "${APPROVAL}", see https://github.com/kubernetes/enhancements/pull/1111`));
    }
  }
  const names = spec.names;
  for (const [field, value] of [['plural', names.plural], ['singular', names.singular], ['listKind', names.listKind?.toLowerCase()], ['kind', names.kind.toLowerCase()]] as const) {
    if (!value) { if (field === 'plural' || field === 'kind') errs.push(required(`spec.names.${field}`)); continue; }
    errs.push(...invalidEach(`spec.names.${field}`, field === 'kind' ? names.kind : field === 'listKind' ? names.listKind! : value, isDNS1035Label(value)));
  }
  if (names.listKind && names.listKind === names.kind) errs.push(invalid('spec.names.listKind', names.listKind, 'kind and listKind may not be the same'));
  (names.shortNames ?? []).forEach((s, i) => errs.push(...invalidEach(`spec.names.shortNames[${i}]`, s, isDNS1035Label(s))));
  const versions = spec.versions;
  if (!versions.length) errs.push(required('spec.versions', 'must have exactly one version marked as storage version'));
  else if (versions.filter((v) => v.storage).length !== 1) errs.push(invalid('spec.versions', goText(`[${versions.map((v) => v.name).join(' ')}]`), 'must have exactly one version marked as storage version'));
  if (versions.length && !versions.some((v) => v.served)) errs.push(invalid('spec.versions', goText(`[${versions.map((v) => v.name).join(' ')}]`), 'must have at least one version marked as served'));
  const seen = new Set<string>();
  versions.forEach((v, i) => {
    const path = `spec.versions[${i}]`;
    if (seen.has(v.name)) errs.push(duplicate(`${path}.name`, v.name));
    seen.add(v.name);
    errs.push(...invalidEach(`${path}.name`, v.name, isDNS1035Label(v.name)));
    const schema = v.schema?.openAPIV3Schema;
    if (!schema) errs.push(required(`${path}.schema.openAPIV3Schema`, 'schemas are required'));
    else errs.push(...structuralErrors(schema, `${path}.schema.openAPIV3Schema`, true));
    (v.additionalPrinterColumns ?? []).forEach((c, j) => {
      const at = `${path}.additionalPrinterColumns[${j}]`;
      if (!c.name) errs.push(required(`${at}.name`));
      const parsed = parseJsonPath(c.jsonPath);
      if (!Array.isArray(parsed)) errs.push(invalid(`${at}.jsonPath`, c.jsonPath, parsed.error));
    });
  });
  return errs;
}

function updateErrors(crd: CustomResourceDefinition, old: CustomResourceDefinition): FieldError[] {
  const errs: FieldError[] = [];
  if (crd.spec.group !== old.spec.group) errs.push(invalid('spec.group', crd.spec.group, FIELD_IMMUTABLE));
  if (crd.spec.names.plural !== old.spec.names.plural) errs.push(invalid('spec.names.plural', crd.spec.names.plural, FIELD_IMMUTABLE));
  if (conditionTrue(old, 'Established')) {
    if (crd.spec.scope !== old.spec.scope) errs.push(invalid('spec.scope', crd.spec.scope, FIELD_IMMUTABLE));
    if (crd.spec.names.kind !== old.spec.names.kind) errs.push(invalid('spec.names.kind', crd.spec.names.kind, FIELD_IMMUTABLE));
  }
  return errs;
}

export function validateCustomResourceDefinition(obj: Obj, old?: Obj): FieldError[] {
  const errs = validateObjectMeta(rec(obj.metadata), false, isDNS1123Subdomain);
  const parsed = customResourceDefinition.safeParse(obj);
  if (!parsed.success) return [...errs, ...parsed.error.issues.map((i) => issueError(i, obj))];
  errs.push(...specErrors(parsed.data));
  const before = old && customResourceDefinition.safeParse(old);
  if (before?.success) errs.push(...updateErrors(parsed.data, before.data));
  return errs;
}
