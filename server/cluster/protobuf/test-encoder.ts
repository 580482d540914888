// Test helper: a minimal protobuf writer, to build well-formed and hostile messages byte by byte.

export type Bytes = Uint8Array | string | number[];

const bytesOf = (b: Bytes): Uint8Array => (typeof b === 'string' ? Buffer.from(b, 'utf8') : Uint8Array.from(b));

export function varint(n: bigint | number): Uint8Array {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v ? low | 0x80 : low);
  } while (v);
  return Uint8Array.from(out);
}

export const concat = (...parts: Bytes[]): Uint8Array => Buffer.concat(parts.map(bytesOf));
const tag = (field: number, wireType: number) => varint((BigInt(field) << 3n) | BigInt(wireType));

/** A varint field (int32, int64, bool, enum); negative numbers are sign-extended to ten bytes. */
export const int = (field: number, n: bigint | number | boolean) => concat(tag(field, 0), varint(typeof n === 'boolean' ? Number(n) : n));
/** A length-delimited field: a string, bytes or a nested message. */
export const len = (field: number, ...content: Bytes[]) => { const body = concat(...content); return concat(tag(field, 2), varint(body.length), body); };
export const fixed64 = (field: number) => concat(tag(field, 1), [1, 2, 3, 4, 5, 6, 7, 8]);
export const fixed32 = (field: number) => concat(tag(field, 5), [1, 2, 3, 4]);
/** A map<string, V> entry. */
export const entry = (field: number, key: string, value: Uint8Array) => len(field, len(1, key), value);

/** A complete request body: "k8s\0" then a runtime.Unknown carrying `raw`. */
export const envelope = (apiVersion: string, kind: string, raw: Bytes) =>
  concat('k8s\0', len(1, len(1, apiVersion), len(2, kind)), len(2, raw));
