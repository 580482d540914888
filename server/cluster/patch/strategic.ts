// Strategic merge patch, applied the way the API server applies it (apimachinery's
// strategicpatch.StrategicMergeMapPatch: parallel lists merged, nulls that match nothing ignored).
//
// It is JSON merge patch plus knowledge of the schema: lists the schema marks "merge" are merged
// item by item (maps by their merge key, primitives as a set) instead of replaced, and the patch may
// carry directives that kubectl's three-way diff emits:
//   $patch: delete | replace     in a map: drop it / take the patch as is; in a list item: remove the
//                                item with that merge key / replace the whole list
//   $patch: merge                the default made explicit (upstream rejects it; accepted here)
//   $retainKeys: [k...]          clear every field of the live map not named (union types such as
//                                a Deployment's strategy or a volume's source)
//   $setElementOrder/<list>: [...]  the order the merged list must have
//   $deleteFromPrimitiveList/<list>: [...]  values to remove from a merged list of primitives
// Where the patch adds a value the live object lacks, the value is taken minus its directives and
// nulls (upstream's removeDirectives), so directives never end up stored.

import { badRequest } from '../object.ts';
import {
  badPatchType, badPrimitiveListDeletion, badRetainKeys, badSetElementOrder, listOfLists, mixedElementTypes,
  noMergeKey, notAList, orderMismatch,
} from './errors.ts';
import type { FieldPatchMeta, PatchSchema } from './merge-keys.ts';
import { clone, deepEqual, hasField, isObject, kindOfValue, own, setField, type Json, type JsonObject, type ValueKind } from './values.ts';

const PATCH = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ELEMENT_ORDER = '$setElementOrder';
const DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList';

/** Applies a strategic merge patch; neither argument is modified. */
export function strategicMerge(live: JsonObject, patch: JsonObject, schema: PatchSchema): JsonObject {
  return mergeMap(clone(live), clone(patch), schema);
}

const fieldMeta = (schema: PatchSchema, key: string): FieldPatchMeta | undefined =>
  Object.prototype.hasOwnProperty.call(schema, key) ? schema[key] : undefined;

// Works on (and returns) `live`, consuming the directives of `patch`: both are private copies.
function mergeMap(live: JsonObject, patch: JsonObject, schema: PatchSchema): JsonObject {
  if (hasField(patch, PATCH)) {
    const { [PATCH]: directive, ...rest } = patch;
    if (directive === 'delete') return {};
    if (directive === 'replace') return materialize(rest) as JsonObject;
    if (directive !== 'merge') throw badPatchType(directive, patch);
    patch = rest;
  }
  applyRetainKeys(live, patch);
  applyElementOrders(live, patch, schema);
  for (const [key, value] of Object.entries(patch)) {
    const deleteFrom = directiveField(key, DELETE_FROM_PRIMITIVE_LIST, badPrimitiveListDeletion);
    if (deleteFrom !== undefined) deleteFromList(live, deleteFrom, value);
    else mergeField(live, key, value, fieldMeta(schema, key));
  }
  return live;
}

function mergeField(live: JsonObject, key: string, value: Json, meta: FieldPatchMeta | undefined): void {
  if (value === null) {
    delete live[key];
    return;
  }
  const current = own(live, key);
  if (current === undefined || kindOfValue(current) !== kindOfValue(value)) {
    setOrDrop(live, key, materialize(value));
  } else if (isObject(current)) {
    setField(live, key, mergeMap(current, value as JsonObject, meta?.fields ?? {}));
  } else if (Array.isArray(current)) {
    setField(live, key, mergeListField(current, value as Json[], meta));
  } else {
    setField(live, key, value);
  }
}

function setOrDrop(target: JsonObject, key: string, value: Json | undefined): void {
  if (value === undefined) delete target[key];
  else setField(target, key, value);
}

/** `key` names the list a parallel directive (`$setElementOrder/ports`) is about; undefined when
 *  `key` is not that directive. */
function directiveField(key: string, prefix: string, malformed: () => Error): string | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const slash = key.indexOf('/');
  if (slash < 0 || key.slice(0, slash) !== prefix) throw malformed();
  return key.slice(slash + 1);
}

const isParallelListKey = (key: string) => key.startsWith(SET_ELEMENT_ORDER) || key.startsWith(DELETE_FROM_PRIMITIVE_LIST);
const isDirectiveKey = (key: string) => key === PATCH || key === RETAIN_KEYS || isParallelListKey(key);

/** What a patch value becomes where there is nothing live to merge it with: itself without
 *  directives and null fields; undefined for a map that deletes itself. */
function materialize(value: Json): Json | undefined {
  if (Array.isArray(value)) return materializeList(value);
  if (!isObject(value)) return value;
  if (hasField(value, PATCH)) {
    const directive = value[PATCH];
    if (directive === 'delete') return undefined;
    if (directive !== 'replace' && directive !== 'merge') throw badPatchType(directive, value);
  }
  const out: JsonObject = {};
  for (const [key, field] of Object.entries(value)) {
    if (field !== null && !isDirectiveKey(key)) setOrDrop(out, key, materialize(field));
  }
  return out;
}

/** A list item carrying $patch is an instruction about the list, never an item of it. */
function materializeList(list: Json[]): Json[] {
  const out: Json[] = [];
  for (const item of list) {
    if (isObject(item) && hasField(item, PATCH)) checkListDirective(item);
    else out.push(materialize(item) as Json);
  }
  return out;
}

function checkListDirective(item: JsonObject): void {
  const directive = item[PATCH];
  if (directive !== 'delete' && directive !== 'replace' && directive !== 'merge') throw badPatchType(directive, item);
}

// $retainKeys: every field of `live` not listed goes; the patch itself may only set listed fields.
function applyRetainKeys(live: JsonObject, patch: JsonObject): void {
  if (!hasField(patch, RETAIN_KEYS)) return;
  const retained = patch[RETAIN_KEYS];
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(retained)) throw badRetainKeys();
  const isRetained = (key: string) => retained.includes(key);
  for (const [key, value] of Object.entries(patch)) {
    if (value !== null && !isParallelListKey(key) && !isRetained(key)) throw badRetainKeys();
  }
  for (const key of Object.keys(live)) if (!isRetained(key)) delete live[key];
}

// $setElementOrder/<list>: the list (merged with the patch's items for it, if any) is put in the
// given order; live items the order does not name keep their place relative to the others.
function applyElementOrders(live: JsonObject, patch: JsonObject, schema: PatchSchema): void {
  for (const key of Object.keys(patch)) {
    const field = directiveField(key, SET_ELEMENT_ORDER, badSetElementOrder);
    if (field === undefined) continue;
    const order = patch[key];
    delete patch[key];
    if (!Array.isArray(order)) throw notAList(order);
    const meta = fieldMeta(schema, field);
    const current = own(live, field);
    const patched = own(patch, field);
    if (current !== undefined && !Array.isArray(current)) throw notAList(current);
    if (patched !== undefined && !Array.isArray(patched)) throw notAList(patched);
    if (patched) checkPatchFollowsOrder(patched, order, meta?.mergeKey);

    let merged: Json[];
    if (patched === undefined) {
      if (current === undefined) continue;
      merged = current;
    } else {
      merged = current === undefined ? materializeList(patched) : mergeListField(current, patched, meta);
      delete patch[field];
    }
    setField(live, field, enforceOrder(merged, order, current ?? [], meta?.mergeKey));
  }
}

/** The patch's own items for a list must appear in $setElementOrder, in the same relative order. */
function checkPatchFollowsOrder(patched: Json[], order: Json[], mergeKey: string | undefined): void {
  if (!order.length || !patched.length) return;
  const items = mergeKey ? patched.filter((item) => !(isObject(item) && item[PATCH] === 'delete')) : patched;
  let p = 0;
  let o = 0;
  while (p < items.length && o < order.length) {
    if (isObject(items[p]) && hasField(items[p] as JsonObject, PATCH)) {
      p++;
      continue;
    }
    if (deepEqual(identity(items[p], mergeKey), identity(order[o], mergeKey))) p++;
    o++;
  }
  if (p < items.length) throw orderMismatch(patched, order);
}

/** What identifies a list item: its merge key's value, or the item itself in a list of primitives. */
function identity(item: Json, mergeKey: string | undefined): Json {
  if (!mergeKey) return item;
  if (!isObject(item) || !hasField(item, mergeKey)) throw noMergeKey(item, mergeKey);
  return item[mergeKey];
}

function mergeListField(current: Json[], patch: Json[], meta: FieldPatchMeta | undefined): Json[] {
  return meta?.strategy === 'merge' ? mergeList(current, patch, meta) : materializeList(patch);
}

function mergeList(current: Json[], patch: Json[], meta: FieldPatchMeta): Json[] {
  if (!current.length && !patch.length) return current;
  if (elementKind(current, patch) !== 'object') return enforceOrder(unique([...current, ...patch]), patch, current, undefined);
  const mergeKey = meta.mergeKey;
  if (!mergeKey) throw badRequest('cannot merge lists without merge key');
  const { base, items } = applyListDirectives(current, patch as JsonObject[], mergeKey);
  const merged = mergeItemsByKey(base, items, mergeKey, meta.fields ?? {});
  return enforceOrder(merged, items, base, mergeKey);
}

/** All items of the lists have one kind (lists of lists are not Kubernetes API shapes). */
function elementKind(...lists: Json[][]): ValueKind | undefined {
  let kind: ValueKind | undefined;
  for (const item of lists.flat()) {
    const k = kindOfValue(item);
    if (k === 'array') throw listOfLists();
    if (kind !== undefined && kind !== k) throw mixedElementTypes(lists);
    kind = k;
  }
  return kind;
}

const unique = (list: Json[]) => list.filter((v, i) => list.findIndex((w) => deepEqual(v, w)) === i);

/** Carries out the `$patch` items of a patch list; returns the live items left and the patch's plain items. */
function applyListDirectives(current: Json[], patch: JsonObject[], mergeKey: string): { base: Json[]; items: JsonObject[] } {
  let base = current;
  let replace = false;
  const items: JsonObject[] = [];
  for (const item of patch) {
    if (!hasField(item, PATCH)) {
      items.push(item);
      continue;
    }
    checkListDirective(item);
    if (item[PATCH] === 'replace') replace = true;
    else if (item[PATCH] === 'delete') {
      if (!hasField(item, mergeKey)) throw noMergeKey(item, mergeKey);
      base = base.filter((live) => !(isObject(live) && hasField(live, mergeKey) && deepEqual(live[mergeKey], item[mergeKey])));
    }
  }
  return replace ? { base: materializeList(items), items: [] } : { base, items };
}

function mergeItemsByKey(base: Json[], items: JsonObject[], mergeKey: string, fields: PatchSchema): Json[] {
  const merged = [...base];
  for (const item of items) {
    const key = identity(item, mergeKey);
    const at = merged.findIndex((live) => isObject(live) && hasField(live, mergeKey) && deepEqual(live[mergeKey], key));
    if (at >= 0) merged[at] = mergeMap(merged[at] as JsonObject, item, fields);
    else merged.push(materialize(item) as Json);
  }
  return merged;
}

// Upstream's ordering rule for a merged list: the items the patch names come in the patch's order,
// the others (server-only) in their live order, and the two are interleaved so that a server-only
// item stays ahead of the patch items that followed it in the live list. An item the live list did
// not have goes ahead of every server-only item still waiting: without $setElementOrder, first.
function enforceOrder(merged: Json[], patchOrder: Json[], liveOrder: Json[], mergeKey: string | undefined): Json[] {
  const position = (list: Json[], item: Json) => {
    const id = identity(item, mergeKey);
    return list.findIndex((other) => deepEqual(mergeKey && isObject(other) ? own(other, mergeKey) : other, id));
  };
  const byPosition = (list: Json[]) => (a: Json, b: Json) => rank(position(list, a)) - rank(position(list, b));
  const fromPatch = merged.filter((item) => position(patchOrder, item) >= 0).sort(byPosition(patchOrder));
  const serverOnly = merged.filter((item) => position(patchOrder, item) < 0).sort(byPosition(liveOrder));

  const out: Json[] = [];
  let s = 0;
  let p = 0;
  while (s < serverOnly.length || p < fromPatch.length) {
    if (p >= fromPatch.length) out.push(serverOnly[s++]);
    else if (s >= serverOnly.length) out.push(fromPatch[p++]);
    else {
      const sp = position(liveOrder, serverOnly[s]);
      const pp = position(liveOrder, fromPatch[p]);
      out.push(sp >= 0 && pp >= 0 && sp < pp ? serverOnly[s++] : fromPatch[p++]);
    }
  }
  return out;
}

const rank = (index: number) => (index < 0 ? Number.MAX_SAFE_INTEGER : index);

function deleteFromList(live: JsonObject, field: string, values: Json): void {
  if (!Array.isArray(values)) throw badPrimitiveListDeletion();
  const current = own(live, field);
  if (Array.isArray(current)) setField(live, field, current.filter((v) => !values.some((d) => deepEqual(d, v))));
}
