// The errors a patch can fail with, worded as the API server words them (apimachinery's mergepatch
// errors, evanphx/json-patch's messages), so that what kubectl prints matches a real cluster.
//
// Codes: the API server answers 400 for a body it cannot decode or a malformed directive, and 422 for
// a JSON patch operation that does not apply and for lists of lists. Strategic-merge errors it has
// no code for (a missing merge key, an unknown $patch value...) reach kubectl as a bare 500; here
// they are 400 BadRequest, which is what they are.

import { ApiError, badRequest } from '../object.ts';
import { goFormat, type Json, type JsonObject } from './values.ts';

export const unprocessable = (message: string) => new ApiError(422, 'Invalid', message);

/** A body that is valid JSON but not the shape the patch type needs, as encoding/json reports it. */
export const unmarshalMessage = (v: unknown, goType: string) => `json: cannot unmarshal ${jsonKindName(v)} into Go value of type ${goType}`;
export const cannotUnmarshal = (v: unknown, goType: string) => badRequest(unmarshalMessage(v, goType));

/** encoding/json's name for the kind of value it could not decode. */
function jsonKindName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'object' ? 'object' : typeof v;
}

export const noMergeKey = (item: Json, mergeKey: string) =>
  badRequest(`map: ${goFormat(item)} does not contain declared merge key: ${mergeKey}`);

export const badPatchType = (directive: Json, map: JsonObject) =>
  badRequest(`unknown patch type: ${goFormat(directive)} in map: ${goFormat(map)}`);

export const badRetainKeys = () => badRequest('invalid patch format of retainKeys');
export const badPrimitiveListDeletion = () => badRequest('invalid patch format of primitive list');
export const badSetElementOrder = () => badRequest('invalid patch format of setElementOrder list');
export const listOfLists = () => unprocessable('lists of lists are not supported');

export const mixedElementTypes = (lists: Json[][]) =>
  badRequest(`list element types are not identical: ${goFormat(lists)}`);

export const notAList = (v: Json) => badRequest(`expected a []interface {}, but received a ${goTypeName(v)}`);

export const orderMismatch = (patchList: Json[], order: Json[]) =>
  badRequest(`The order in patch list:\n${goFormat(patchList)}\n doesn't match $setElementOrder list:\n${goFormat(order)}\n`);

/** The Go type a decoded JSON value has. */
function goTypeName(v: Json): string {
  if (v === null) return '<nil>';
  if (Array.isArray(v)) return '[]interface {}';
  if (typeof v === 'object') return 'map[string]interface {}';
  return typeof v === 'number' ? 'float64' : typeof v === 'boolean' ? 'bool' : 'string';
}
