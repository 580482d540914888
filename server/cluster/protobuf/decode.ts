// Request bodies in the Kubernetes protobuf encoding, turned into the JSON the API works on.
//
// client-go's typed clientsets send application/vnd.kubernetes.protobuf, and from kubectl 1.32 on the
// `create deployment|service|configmap|secret|namespace|serviceaccount|ingress|token` commands POST
// through them, with no fallback to JSON on a 415 (`run`, `expose`, `create -f`, `apply` and every
// patch stay JSON; kubectl 1.31 and older send JSON throughout). The body is 4 magic bytes
// "k8s\0", then a runtime.Unknown {typeMeta 1 {apiVersion 1, kind 2}, raw 2, contentEncoding 3,
// contentType 4} whose raw bytes are the object's own message (apimachinery's protobuf serializer).
// The object's TypeMeta is not in that message: apiVersion and kind come from the envelope.
//
// The JSON produced is what the same client would have sent as JSON (encoding/json of the Go
// struct): keys in Go declaration order, map keys sorted, bytes in base64, zero omitempty scalars
// left out, and a field absent from the wire absent from the JSON, so the API's defaulting applies.

import { badRequest } from '../object.ts';
import { objectSchema, type FieldSchema, type MessageSchema, type ScalarType, type ValueType } from './schema.ts';
import { decodeWellKnown, WellKnownError } from './wellknown.ts';
import { readFields, readPackedVarints, WireError, WireType, WIRE_TYPE_NAMES, type WireField } from './wire.ts';

export const KUBE_PROTOBUF = 'application/vnd.kubernetes.protobuf';
const MAGIC = Buffer.from('k8s\0', 'latin1');
/** The tables are acyclic, so their own depth bounds recursion; this guards against a recursive type
 *  ever being added. */
const MAX_DEPTH = 64;

/** True for a request body in the Kubernetes protobuf envelope (Content-Type application/vnd.kubernetes.protobuf). */
export function isKubeProtobuf(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0].trim().toLowerCase() === KUBE_PROTOBUF;
}

/** The object a protobuf-encoded body carries, as the JSON the API would have received (apiVersion and kind from the
 *  envelope's typeMeta). Throws ApiError 400 BadRequest (server/cluster/object.ts) on malformed input or an unknown
 *  type, with a message naming what failed; never crashes on hostile input (bounded recursion, lengths checked). */
export function decodeKubeProtobuf(body: Buffer): object {
  if (body.length < MAGIC.length || !body.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw badRequest('provided data does not appear to be a protobuf message, expected prefix "k8s\\x00"');
  }
  const { apiVersion, kind, raw } = asBadRequest('the protobuf envelope (runtime.Unknown)', () => decodeEnvelope(body.subarray(MAGIC.length)));
  if (!kind) throw badRequest(`Object 'Kind' is missing in the protobuf envelope (apiVersion "${apiVersion}")`);
  if (!apiVersion) throw badRequest(`Object 'apiVersion' is missing in the protobuf envelope (kind "${kind}")`);
  const schema = objectSchema(apiVersion, kind);
  if (!schema) throw badRequest(`no kind "${kind}" is registered for version "${apiVersion}" in the protobuf decoder`);
  const object = asBadRequest(`${apiVersion} ${kind}`, () => decodeMessage(schema, raw, '', 0));
  // TypeMeta's own field order: encoding/json writes kind first.
  return { kind, apiVersion, ...object };
}

/** Decoding failures, with the JSON path of the field that failed. */
class DecodeError extends Error {
  constructor(readonly path: string, message: string) {
    super(message);
  }
}

function asBadRequest<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    if (e instanceof DecodeError) throw badRequest(`failed to decode ${what} from protobuf: ${e.path ? `${e.path}: ` : ''}${e.message}`);
    throw e;
  }
}

/** Wire-level and well-known-type errors raised while reading `path` become DecodeErrors there. */
function atPath<T>(path: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof WireError || e instanceof WellKnownError) throw new DecodeError(path, e.message);
    throw e;
  }
}

function decodeEnvelope(buf: Uint8Array): { apiVersion: string; kind: string; raw: Uint8Array } {
  let apiVersion = '';
  let kind = '';
  let raw: Uint8Array = new Uint8Array(0);
  for (const f of atPath('', () => [...readFields(buf)])) {
    if (f.field === 1) {
      for (const t of atPath('typeMeta', () => [...readFields(lenOf(f, 'typeMeta'))])) {
        if (t.field === 1) apiVersion = Buffer.from(lenOf(t, 'typeMeta.apiVersion')).toString('utf8');
        if (t.field === 2) kind = Buffer.from(lenOf(t, 'typeMeta.kind')).toString('utf8');
      }
    }
    if (f.field === 2) raw = lenOf(f, 'raw');
  }
  return { apiVersion, kind, raw };
}

function lenOf(f: WireField, path: string): Uint8Array {
  if (f.wireType !== WireType.LEN) throw new DecodeError(path, `wrong wire type ${WIRE_TYPE_NAMES[f.wireType]}, expected length-delimited`);
  return f.value;
}

/** One message as JSON. Records are gathered per field first, then turned into JSON in declaration
 *  order, following protobuf's merge rules: the last value of a scalar wins, repeated fields append,
 *  and a message field seen twice is the merge of both (decoding the concatenation is exactly that). */
function decodeMessage(schema: MessageSchema, buf: Uint8Array, path: string, depth: number): Record<string, unknown> {
  if (depth > MAX_DEPTH) throw new DecodeError(path, `nested deeper than ${MAX_DEPTH} messages`);
  const records = new Map<FieldSchema, WireField[]>();
  for (const f of atPath(path, () => [...readFields(buf)])) {
    const field = schema.byNumber.get(f.field);
    // Unknown fields are skipped, as go-to-protobuf's decoders do (a newer client's additions).
    if (!field) continue;
    const seen = records.get(field);
    if (seen) seen.push(f);
    else records.set(field, [f]);
  }
  const json: Record<string, unknown> = {};
  for (const field of schema.fields) {
    const found = records.get(field);
    if (!found) continue;
    const fieldPath = field.json === undefined ? path : path ? `${path}.${field.json}` : field.json;
    const value = decodeField(field, found, fieldPath, depth);
    if (value === undefined) continue;
    if (field.json === undefined) Object.assign(json, value);
    else json[field.json] = value;
  }
  return json;
}

/** A field's JSON value, or undefined when JSON would leave it out. */
function decodeField(field: FieldSchema, records: WireField[], path: string, depth: number): unknown {
  switch (field.shape) {
    case 'single': {
      if (field.type.kind !== 'scalar') return decodeValue(field.type, concat(records.map((r) => lenOf(r, path))), path, depth);
      const value = decodeScalar(field.type.scalar, records.at(-1)!, path);
      return field.omitZero && isZero(value) ? undefined : value;
    }
    case 'list': {
      const items = records.flatMap((r, i) => decodeListRecord(field.type, r, `${path}[${i}]`, depth));
      return items.length ? items : undefined;
    }
    case 'map': {
      const entries = new Map(records.map((r) => decodeMapEntry(field.type, lenOf(r, path), path, depth)));
      return Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
  }
}

/** One record of a repeated field: one element, or for a numeric scalar possibly many packed together. */
function decodeListRecord(type: ValueType, record: WireField, path: string, depth: number): unknown[] {
  if (type.kind !== 'scalar') return [decodeValue(type, lenOf(record, path), path, depth)];
  const numeric = type.scalar !== 'string' && type.scalar !== 'bytes';
  if (numeric && record.wireType === WireType.LEN) {
    return atPath(path, () => readPackedVarints(record.value)).map((value) => scalarOfVarint(type.scalar, value, path));
  }
  return [decodeScalar(type.scalar, record, path)];
}

/** A map entry is a message {key 1, value 2}; either may be absent, meaning its zero value. */
function decodeMapEntry(type: ValueType, buf: Uint8Array, path: string, depth: number): [string, unknown] {
  let key = '';
  const values: WireField[] = [];
  for (const f of atPath(path, () => [...readFields(buf)])) {
    if (f.field === 1) key = Buffer.from(lenOf(f, `${path} key`)).toString('utf8');
    if (f.field === 2) values.push(f);
  }
  const entryPath = `${path}[${JSON.stringify(key)}]`;
  if (type.kind === 'scalar') {
    return [key, values.length ? decodeScalar(type.scalar, values.at(-1)!, entryPath) : zeroOf(type.scalar)];
  }
  return [key, decodeValue(type, concat(values.map((v) => lenOf(v, entryPath))), entryPath, depth)];
}

function decodeValue(type: Exclude<ValueType, { kind: 'scalar' }>, buf: Uint8Array, path: string, depth: number): unknown {
  if (type.kind === 'wellKnown') return atPath(path, () => decodeWellKnown(type.name, buf));
  return decodeMessage(type.message, buf, path, depth + 1);
}

function decodeScalar(scalar: ScalarType, record: WireField, path: string): unknown {
  if (scalar === 'string' || scalar === 'bytes') {
    const bytes = lenOf(record, path);
    return scalar === 'string' ? Buffer.from(bytes).toString('utf8') : Buffer.from(bytes).toString('base64');
  }
  if (record.wireType !== WireType.VARINT) throw new DecodeError(path, `wrong wire type ${WIRE_TYPE_NAMES[record.wireType]}, expected varint`);
  return scalarOfVarint(scalar, record.value, path);
}

/** Varints carry 64 raw bits: an int32 is their low 32 bits, signed (negatives are sign-extended to
 *  ten bytes on the wire), an int64 all 64. JSON numbers here are doubles, so an int64 beyond 2^53
 *  could not be kept exactly: refused rather than silently changed. */
function scalarOfVarint(scalar: ScalarType, value: bigint, path: string): boolean | number {
  if (scalar === 'bool') return value !== 0n;
  const n = BigInt.asIntN(scalar === 'int32' ? 32 : 64, value);
  if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER)) throw new DecodeError(path, `${n} is too large for a JSON number`);
  return Number(n);
}

const zeroOf = (scalar: ScalarType) => (scalar === 'bool' ? false : scalar === 'int32' || scalar === 'int64' ? 0 : '');
const isZero = (value: unknown) => value === '' || value === 0 || value === false;

function concat(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}
