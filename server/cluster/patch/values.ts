// The JSON values patches operate on, and the few operations every patch type needs. Objects here
// come from JSON.parse or a YAML parser, so a key such as "__proto__" is an ordinary own property:
// reads go through `own` and writes through `setField`, never through plain indexing, so that a
// patch cannot reach Object.prototype.

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject { [key: string]: Json }

export const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

export const hasField = (o: JsonObject, key: string) => Object.prototype.hasOwnProperty.call(o, key);

/** The object's own value at `key`, or undefined when it has none. */
export const own = (o: JsonObject, key: string): Json | undefined => (hasField(o, key) ? o[key] : undefined);

export function setField(o: JsonObject, key: string, value: Json): void {
  Object.defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true });
}

/** What a value is, at the granularity Go's reflect.TypeOf distinguishes decoded JSON. */
export type ValueKind = 'object' | 'array' | 'string' | 'number' | 'boolean' | 'null';
export const kindOfValue = (v: Json): ValueKind => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v as ValueKind);

export function deepEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => hasField(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

export const clone = <T extends Json>(v: T): T => structuredClone(v);

/** A value as Go's fmt "%v" prints a decoded JSON value (`map[a:1 b:[x y]]`): the API server's
 *  patch errors quote the offending map that way, and kubectl users search for those messages. */
export function goFormat(v: Json | undefined): string {
  if (v === undefined || v === null) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goFormat).join(' ')}]`;
  if (isObject(v)) return `map[${Object.keys(v).sort().map((k) => `${k}:${goFormat(v[k])}`).join(' ')}]`;
  return String(v);
}
