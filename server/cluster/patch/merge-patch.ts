// JSON Merge Patch (RFC 7386): the patch mirrors the document; a null deletes the member, an object
// merges into the member (creating it), and anything else, lists included, replaces it. `kubectl
// scale`, `label` and `annotate` send these.

import { badRequest } from '../object.ts';
import { clone, isObject, own, setField, type Json, type JsonObject } from './values.ts';

export function applyMergePatch(doc: JsonObject, patch: unknown): JsonObject {
  // evanphx/json-patch's ErrBadJSONPatch, which the API server returns as a 400
  if (!isObject(patch)) throw badRequest('Invalid JSON Patch');
  return mergeInto(clone(doc), patch);
}

function mergeInto(target: JsonObject, patch: JsonObject): JsonObject {
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete target[key];
    else setField(target, key, mergeValue(own(target, key), value));
  }
  return target;
}

function mergeValue(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  return mergeInto(isObject(target) ? target : {}, patch);
}
