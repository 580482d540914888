import type { AdmitOptions } from '../api.ts';
import { invalidError, isDNS1123Subdomain, validateObjectMeta } from './validate.ts';
import { badRequest, type KubeObject } from '../object.ts';
import type { CustomKind } from '../registry.ts';
import { clone } from '../store.ts';
import { applySchema } from '../crd/structural.ts';

// Admission of a custom resource, as apiextensions-apiserver's strategy and codec do it: with a
// status subresource a new object's status is dropped (it is the controllers' to write); the
// storage version's schema prunes, defaults and validates the object; fields it does not declare
// are refused under fieldValidation=Strict (what kubectl sends by default), reported as warnings
// under Warn, and dropped silently under Ignore; the name is a DNS subdomain.

export function admitCustomResource(custom: CustomKind, input: KubeObject, old: KubeObject | undefined, opts: AdmitOptions): KubeObject {
  const { info, schema } = custom.storage;
  const obj = clone(input);
  if (!old && info.subresources.some((s) => s.name === 'status')) delete obj.status;
  const outcome = schema ? applySchema(obj, schema, old) : { value: obj, errors: [], unknownFields: [] };
  if (outcome.unknownFields.length && opts.fieldValidation === 'Strict') {
    const fields = outcome.unknownFields.map((f) => `unknown field "${f}"`).join(', ');
    throw badRequest(`${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: strict decoding error: ${fields}`);
  }
  if (opts.fieldValidation !== 'Ignore') for (const f of outcome.unknownFields) opts.warn?.(`unknown field "${f}"`);
  const admitted = outcome.value as KubeObject;
  const errors = [...validateObjectMeta(admitted.metadata as Record<string, unknown>, info.namespaced, isDNS1123Subdomain), ...outcome.errors];
  if (errors.length) throw invalidError(info, admitted.metadata.name ?? '', errors);
  return admitted;
}
