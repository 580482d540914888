// The apimachinery types whose protobuf message differs from their JSON: each is a small message
// on the wire and a string, number or raw JSON in the API's JSON.

import { readFields, WIRE_TYPE_NAMES, WireType, type WireField } from './wire.ts';
import type { WellKnownType } from './schema.ts';

export class WellKnownError extends Error {}

/** The JSON value of a well-known type's message. */
export function decodeWellKnown(type: WellKnownType, buf: Uint8Array): unknown {
  switch (type) {
    case 'Time': return decodeTime(buf);
    case 'MicroTime': return decodeMicroTime(buf);
    case 'Quantity': return decodeQuantity(buf);
    case 'IntOrString': return decodeIntOrString(buf);
    case 'FieldsV1': return decodeFieldsV1(buf);
  }
}

/** The last occurrence of each field number (scalars: the last one wins, as in any protobuf decoder). */
function lastOfEach(buf: Uint8Array): Map<number, WireField> {
  const fields = new Map<number, WireField>();
  for (const f of readFields(buf)) fields.set(f.field, f);
  return fields;
}

function varintOf(fields: Map<number, WireField>, field: number, name: string): bigint {
  const f = fields.get(field);
  if (!f) return 0n;
  if (f.wireType !== WireType.VARINT) throw new WellKnownError(`${name}: wrong wire type ${WIRE_TYPE_NAMES[f.wireType]}, expected varint`);
  return f.value;
}

function stringOf(fields: Map<number, WireField>, field: number, name: string): string {
  const f = fields.get(field);
  if (!f) return '';
  if (f.wireType !== WireType.LEN) throw new WellKnownError(`${name}: wrong wire type ${WIRE_TYPE_NAMES[f.wireType]}, expected length-delimited`);
  return Buffer.from(f.value).toString('utf8');
}

// metav1.Time and MicroTime are a Timestamp {seconds 1 (int64), nanos 2 (int32)}. An empty message is
// the zero time, which encoding/json writes as null (`creationTimestamp: null` in templates). Time
// keeps whole seconds only (the apiserver ignores nanos, as its JSON never had them); MicroTime keeps
// microseconds. JSON spells both in UTC: RFC 3339, with six fractional digits for MicroTime.

/** Go's zero time.Time, 0001-01-01T00:00:00Z, in Unix seconds: also written as null. */
const GO_ZERO_TIME_SECONDS = -62135596800n;
/** RFC 3339 spells years 0000–9999 only; a time outside them has no JSON form to give. */
const MIN_SECONDS = -62167219200n; // 0000-01-01T00:00:00Z
const MAX_SECONDS = 253402300799n; // 9999-12-31T23:59:59Z

function timestamp(buf: Uint8Array, name: string): { seconds: bigint; nanos: bigint } | null {
  if (buf.length === 0) return null;
  const fields = lastOfEach(buf);
  const seconds = BigInt.asIntN(64, varintOf(fields, 1, `${name}.seconds`));
  const nanos = BigInt.asIntN(32, varintOf(fields, 2, `${name}.nanos`));
  return { seconds, nanos };
}

function utcSeconds(seconds: bigint, name: string): string {
  if (seconds < MIN_SECONDS || seconds > MAX_SECONDS) throw new WellKnownError(`${name}: ${seconds}s since the epoch is outside years 0000-9999`);
  return new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
}

function decodeTime(buf: Uint8Array): string | null {
  const t = timestamp(buf, 'Time');
  if (!t || t.seconds === GO_ZERO_TIME_SECONDS) return null;
  return `${utcSeconds(t.seconds, 'Time')}Z`;
}

function decodeMicroTime(buf: Uint8Array): string | null {
  const t = timestamp(buf, 'MicroTime');
  if (!t) return null;
  // The nanos are cut to whole microseconds, then seconds and fraction normalised as time.Unix does.
  const micros = t.seconds * 1_000_000n + t.nanos / 1000n;
  const seconds = micros >= 0n ? micros / 1_000_000n : -((-micros + 999_999n) / 1_000_000n);
  if (seconds === GO_ZERO_TIME_SECONDS && micros === seconds * 1_000_000n) return null;
  const fraction = String(micros - seconds * 1_000_000n).padStart(6, '0');
  return `${utcSeconds(seconds, 'MicroTime')}.${fraction}Z`;
}

/** resource.Quantity {string 1}: the canonical string ("100m", "1Gi") its Go encoder wrote, passed on
 *  for the API's validation to judge. An empty message is the zero Quantity, "0". */
function decodeQuantity(buf: Uint8Array): string {
  const fields = lastOfEach(buf);
  return fields.has(1) ? stringOf(fields, 1, 'Quantity.string') : '0';
}

/** intstr.IntOrString {type 1 (0 = Int, 1 = String), intVal 2, strVal 3}: a JSON number or string. */
function decodeIntOrString(buf: Uint8Array): number | string {
  const fields = lastOfEach(buf);
  const type = BigInt.asIntN(64, varintOf(fields, 1, 'IntOrString.type'));
  if (type === 0n) return Number(BigInt.asIntN(32, varintOf(fields, 2, 'IntOrString.intVal')));
  if (type === 1n) return stringOf(fields, 3, 'IntOrString.strVal');
  throw new WellKnownError(`IntOrString: impossible type ${type} (0 is Int, 1 is String)`);
}

/** metav1.FieldsV1 {Raw 1}: managed fields' field set, carried as the JSON document itself. */
function decodeFieldsV1(buf: Uint8Array): unknown {
  const raw = lastOfEach(buf).get(1);
  if (!raw) return null;
  if (raw.wireType !== WireType.LEN) throw new WellKnownError(`FieldsV1.Raw: wrong wire type ${WIRE_TYPE_NAMES[raw.wireType]}, expected length-delimited`);
  try {
    return JSON.parse(Buffer.from(raw.value).toString('utf8'));
  } catch (e) {
    throw new WellKnownError(`FieldsV1.Raw is not JSON: ${(e as Error).message}`);
  }
}
