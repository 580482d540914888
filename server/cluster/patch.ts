// PATCH, in the four flavours the API server accepts, picked by the request's Content-Type:
//   application/json-patch+json            RFC 6902 operations   (kubectl patch --type json)
//   application/merge-patch+json           RFC 7386 merge patch  (kubectl scale, label, annotate, patch --type merge)
//   application/strategic-merge-patch+json strategic merge patch (kubectl edit, client-side apply, rollout restart, patch)
//   application/apply-patch+yaml           server-side apply     (kubectl apply --server-side)
// application/apply-patch+cbor exists upstream behind a feature gate; like any other type it is
// unsupported here (the REST layer answers 415 listing PATCH_CONTENT_TYPES).
// The REST layer owns what surrounds a patch: reading the live object, creating it for an apply of
// an absent object, then checking the result (name, namespace, kind, resourceVersion) and storing it.

import { isBuiltin } from './kinds.ts';
import { ApiError } from './object.ts';
import type { ResourceKind } from './registry.ts';
import { applyConfiguration } from './patch/apply.ts';
import { cannotUnmarshal } from './patch/errors.ts';
import { applyJsonPatch } from './patch/json-patch.ts';
import { CUSTOM_RESOURCE_PATCH_SCHEMA, PATCH_SCHEMAS } from './patch/merge-keys.ts';
import { applyMergePatch } from './patch/merge-patch.ts';
import { strategicMerge } from './patch/strategic.ts';
import { isObject, type JsonObject } from './patch/values.ts';

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

/** The media types PATCH accepts, in the order the API server lists them in a 415. */
export const PATCH_CONTENT_TYPES = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
} as const satisfies Record<string, PatchType>;

/** The patch type a Content-Type names (parameters such as "; charset=utf-8" ignored), if supported. */
export function patchTypeOf(contentType: string | undefined): PatchType | undefined {
  const mediaType = (contentType ?? '').split(';')[0].trim().toLowerCase();
  return Object.prototype.hasOwnProperty.call(PATCH_CONTENT_TYPES, mediaType)
    ? PATCH_CONTENT_TYPES[mediaType as keyof typeof PATCH_CONTENT_TYPES]
    : undefined;
}

/** Applies `patch` (the already-parsed body) to `current` (a plain JSON object of `kind`) and returns
 *  the new object; never mutates its inputs. Throws ApiError: 400 for a malformed patch, 422 for a
 *  JSON patch operation that does not apply, 413 for an oversized JSON patch. */
export function applyPatch(kind: ResourceKind, current: object, type: PatchType, patch: unknown): object {
  const live = current as JsonObject;
  const schema = isBuiltin(kind) ? PATCH_SCHEMAS[kind] : undefined;
  switch (type) {
    case 'json': return applyJsonPatch(live, patch);
    case 'merge': return applyMergePatch(live, patch);
    case 'strategic':
      // Strategic merge needs Go types' merge keys: custom resources have none, and the API server
      // does not offer the patch type for them (kubectl apply and edit send merge patches instead).
      if (!schema) throw unsupportedPatchType(CUSTOM_RESOURCE_PATCH_TYPES);
      if (!isObject(patch)) throw cannotUnmarshal(patch, 'map[string]interface {}');
      return strategicMerge(live, patch, schema);
    case 'apply': return applyConfiguration(live, patch, schema ?? CUSTOM_RESOURCE_PATCH_SCHEMA);
  }
}

/** The patch media types a custom resource takes. */
export const CUSTOM_RESOURCE_PATCH_TYPES = Object.keys(PATCH_CONTENT_TYPES).filter((t) => t !== 'application/strategic-merge-patch+json');

/** 415, listing the media types the resource does take. */
export const unsupportedPatchType = (accepted: readonly string[]) =>
  new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`);
