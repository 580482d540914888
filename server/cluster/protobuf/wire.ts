// The protobuf wire format, read field by field (https://protobuf.dev/programming-guides/encoding/).
// A message is a sequence of (tag, value) records: the tag is a varint holding the field number and a
// wire type; the value is a varint, 8 or 4 fixed bytes, or a length-prefixed byte string (LEN), which
// carries strings, bytes, nested messages, map entries and packed repeated scalars alike. Nothing here
// knows about Kubernetes: schema.ts says what each field means.
//
// Every read is bounds-checked, so hostile input ends in a WireError, never an out-of-range read.

/** The wire types Kubernetes objects use. Groups (3, 4) are deprecated and go-to-protobuf never emits them. */
export const WireType = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

export const WIRE_TYPE_NAMES: Record<WireType, string> = { 0: 'varint', 1: 'fixed64', 2: 'length-delimited', 5: 'fixed32' };

export class WireError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`${message} at byte ${offset}`);
    this.name = 'WireError';
  }
}

export type WireValue =
  | { wireType: typeof WireType.VARINT; value: bigint }
  | { wireType: typeof WireType.LEN; value: Uint8Array }
  | { wireType: typeof WireType.I64 | typeof WireType.I32; value: Uint8Array };

export type WireField = WireValue & { field: number; offset: number };

/** protobuf field numbers are 29-bit; 19000–19999 are reserved but still decodable. */
const MAX_FIELD_NUMBER = 2 ** 29 - 1;
/** A varint encodes at most 64 bits, 7 per byte. */
const MAX_VARINT_BYTES = 10;

/** Reads one varint at `pos`, as the 64 unsigned bits it encodes; returns it and the position after it. */
export function readVarint(buf: Uint8Array, pos: number): [bigint, number] {
  let result = 0n;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    if (pos + i >= buf.length) throw new WireError('truncated varint', pos);
    const byte = buf[pos + i];
    result |= BigInt(byte & 0x7f) << BigInt(7 * i);
    if (byte < 0x80) return [BigInt.asUintN(64, result), pos + i + 1];
  }
  throw new WireError('varint longer than 10 bytes', pos);
}

/** The records of one message, in wire order. Unknown fields are the caller's to skip: every record is
 *  fully delimited, so skipping is just not looking at it. */
export function* readFields(buf: Uint8Array): Generator<WireField> {
  let pos = 0;
  while (pos < buf.length) {
    const offset = pos;
    const [tag, afterTag] = readVarint(buf, pos);
    const field = Number(tag >> 3n);
    const wireType = Number(tag & 7n);
    if (field === 0 || tag >> 3n > BigInt(MAX_FIELD_NUMBER)) throw new WireError(`invalid field number ${tag >> 3n}`, offset);
    pos = afterTag;
    switch (wireType) {
      case WireType.VARINT: {
        const [value, next] = readVarint(buf, pos);
        pos = next;
        yield { field, offset, wireType, value };
        break;
      }
      case WireType.LEN: {
        const [length, start] = readVarint(buf, pos);
        if (length > BigInt(buf.length - start)) throw new WireError(`field ${field}: length ${length} runs past the end of the message`, offset);
        pos = start + Number(length);
        yield { field, offset, wireType, value: buf.subarray(start, pos) };
        break;
      }
      case WireType.I64:
      case WireType.I32: {
        const size = wireType === WireType.I64 ? 8 : 4;
        if (pos + size > buf.length) throw new WireError(`field ${field}: truncated fixed${size * 8}`, offset);
        pos += size;
        yield { field, offset, wireType, value: buf.subarray(pos - size, pos) };
        break;
      }
      case 3:
      case 4:
        throw new WireError(`field ${field}: groups (wire type ${wireType}) are not supported`, offset);
      default:
        throw new WireError(`field ${field}: invalid wire type ${wireType}`, offset);
    }
  }
}

/** The varints of a packed repeated scalar field (one LEN record holding the values back to back). */
export function readPackedVarints(buf: Uint8Array): bigint[] {
  const values: bigint[] = [];
  for (let pos = 0; pos < buf.length;) {
    const [value, next] = readVarint(buf, pos);
    values.push(value);
    pos = next;
  }
  return values;
}
