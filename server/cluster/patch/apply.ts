// Server-side apply (`kubectl apply --server-side`, application/apply-patch+yaml), approximated:
// without field managers there is no ownership to compute, so the applied configuration is merged
// over the live object with strategic-merge semantics (lists with a merge key merge by key, other
// lists are atomic and replaced, maps merge). What this cannot do: remove fields a manager applied
// before and has now dropped, report conflicts between managers, or maintain managedFields.

import { badRequest } from '../object.ts';
import { unmarshalMessage } from './errors.ts';
import type { PatchSchema } from './merge-keys.ts';
import { strategicMerge } from './strategic.ts';
import { isObject, type Json, type JsonObject } from './values.ts';

export function applyConfiguration(live: JsonObject, config: unknown, schema: PatchSchema): JsonObject {
  if (!isObject(config)) throw badRequest(`error decoding YAML: ${unmarshalMessage(config, 'map[string]interface {}')}`);
  // An apply configuration is an object, not a patch: "$patch" and friends are unknown fields to
  // the schema, not directives.
  const directive = findDirective(config, '');
  if (directive) throw badRequest(`failed to create typed patch object: ${directive}: field not declared in schema`);
  return strategicMerge(live, config, schema);
}

/** The path (".spec.template.$patch") of the first "$"-prefixed key in `value`, if any. */
function findDirective(value: Json, path: string): string | undefined {
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = findDirective(item, `${path}[${i}]`);
      if (found) return found;
    }
  } else if (isObject(value)) {
    for (const [key, field] of Object.entries(value)) {
      const found = key.startsWith('$') ? `${path}.${key}` : findDirective(field, `${path}.${key}`);
      if (found) return found;
    }
  }
  return undefined;
}
