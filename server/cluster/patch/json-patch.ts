// JSON Patch (RFC 6902) as the API server applies it (through evanphx/json-patch v4), including
// where that library is more lenient than the RFC, because learners' commands must behave as on a
// real cluster:
// - `replace` of an object member that does not exist adds it;
// - array indices may be negative, counting from the end (`/spec/containers/-1`);
// - the whole document ("" path) cannot be targeted.
// A body that is not a list of operation objects is a 400; an operation that does not apply is a
// 422, and the patch is all or nothing.

import { ApiError } from '../object.ts';
import { cannotUnmarshal, unprocessable } from './errors.ts';
import { clone, deepEqual, hasField, isObject, own, setField, type Json, type JsonObject } from './values.ts';

/** The API server refuses longer patches (maxJSONPatchOperations). */
const MAX_OPERATIONS = 10_000;

export function applyJsonPatch(doc: JsonObject, patch: unknown): JsonObject {
  if (!Array.isArray(patch)) throw cannotUnmarshal(patch, 'jsonpatch.Patch');
  const operations = patch.map((op) => {
    if (!isObject(op)) throw cannotUnmarshal(op, 'jsonpatch.Operation');
    return op;
  });
  if (operations.length > MAX_OPERATIONS) {
    throw new ApiError(413, 'RequestEntityTooLarge',
      `Request entity too large: The allowed maximum operations in a JSON patch is ${MAX_OPERATIONS}, got ${operations.length}`);
  }
  const result = clone(doc);
  for (const op of operations) applyOperation(result, op);
  return result;
}

/** Where a pointer leads: the container holding the target and the target's key within it. */
interface Location { container: JsonObject | Json[]; key: string; path: string }

function applyOperation(doc: JsonObject, op: JsonObject): void {
  const kind = typeof op.op === 'string' ? op.op : 'unknown';
  switch (kind) {
    case 'add': return add(locate(doc, pointer(op, 'path', kind), kind, 'path'), value(op, kind));
    case 'remove': remove(locate(doc, pointer(op, 'path', kind), kind, 'path')); return;
    case 'replace': return replace(locate(doc, pointer(op, 'path', kind), kind, 'path'), value(op, kind));
    case 'move': {
      const moved = remove(locate(doc, pointer(op, 'from', kind), kind, 'from path'));
      return add(locate(doc, pointer(op, 'path', kind), kind, 'destination path'), moved);
    }
    case 'copy': {
      const copied = get(locate(doc, pointer(op, 'from', kind), kind, 'from path'), kind);
      return add(locate(doc, pointer(op, 'path', kind), kind, 'destination path'), clone(copied));
    }
    case 'test': return test(locate(doc, pointer(op, 'path', kind), kind, 'path'), value(op, kind));
    default: throw unprocessable(`Unexpected kind: ${kind}`);
  }
}

function pointer(op: JsonObject, member: 'path' | 'from', kind: string): string {
  const p = op[member];
  if (typeof p !== 'string') throw unprocessable(`${kind} operation failed to decode ${member}: missing value`);
  return p;
}

function value(op: JsonObject, kind: string): Json {
  if (!hasField(op, 'value')) throw unprocessable(`${kind} operation failed: missing value`);
  return clone(op.value);
}

/** Resolves every token of `path` but the last (RFC 6901: "~1" is "/", "~0" is "~"). */
function locate(doc: JsonObject, path: string, kind: string, what: string): Location {
  const missing = () => unprocessable(`${kind} operation does not apply: doc is missing ${what}: "${path}": missing value`);
  if (!path.startsWith('/')) throw missing();
  const tokens = path.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  let container: JsonObject | Json[] = doc;
  for (const token of tokens.slice(0, -1)) {
    const next: Json | undefined = Array.isArray(container) ? container[arrayIndex(container, token, container.length)] : own(container, token);
    if (!isObject(next) && !Array.isArray(next)) throw missing();
    container = next;
  }
  return { container, key: tokens[tokens.length - 1], path };
}

/** An index into `list` in [0, size), negative ones counting from the end; -1 when invalid. */
function arrayIndex(list: Json[], token: string, size: number): number {
  if (!/^-?\d+$/.test(token)) return -1;
  const n = Number(token);
  const index = n < 0 ? n + size : n;
  return index >= 0 && index < size ? index : -1;
}

function indexOrFail(list: Json[], token: string, size: number, op: string, path: string): number {
  const index = arrayIndex(list, token, size);
  if (index < 0) {
    const detail = /^-?\d+$/.test(token) ? `Unable to access invalid index: ${token}: invalid index referenced` : `value was not a proper array index: '${token}'`;
    throw unprocessable(`error in ${op} for path: '${path}': ${detail}`);
  }
  return index;
}

function add({ container, key, path }: Location, v: Json): void {
  if (!Array.isArray(container)) return setField(container, key, v);
  const index = key === '-' ? container.length : indexOrFail(container, key, container.length + 1, 'add', path);
  container.splice(index, 0, v);
}

function remove({ container, key, path }: Location): Json {
  if (Array.isArray(container)) return container.splice(indexOrFail(container, key, container.length, 'remove', path), 1)[0];
  if (!hasField(container, key)) throw unprocessable(`error in remove for path: '${path}': Unable to remove nonexistent key: ${key}: missing value`);
  const removed = container[key];
  delete container[key];
  return removed;
}

function replace({ container, key, path }: Location, v: Json): void {
  if (Array.isArray(container)) container[indexOrFail(container, key, container.length, 'replace', path)] = v;
  else setField(container, key, v);
}

function get({ container, key, path }: Location, kind: string): Json {
  if (Array.isArray(container)) return container[indexOrFail(container, key, container.length, kind, path)];
  if (!hasField(container, key)) throw unprocessable(`${kind} operation does not apply: doc is missing from path: ${path}: missing value`);
  return container[key];
}

// evanphx/json-patch lets `test` of an absent member against null pass.
function test({ container, key, path }: Location, expected: Json): void {
  const actual = Array.isArray(container) ? container[indexOrFail(container, key, container.length, 'test', path)] : own(container, key);
  if (!deepEqual(actual ?? null, expected)) throw unprocessable(`testing value ${path} failed: test failed`);
}
