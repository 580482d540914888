import { describe, expect, it } from 'vitest';
import { concat, fixed32, fixed64, int, len, varint } from './test-encoder.ts';
import { readFields, readPackedVarints, readVarint, WireError, WireType } from './wire.ts';

const fieldsOf = (buf: Uint8Array) => [...readFields(buf)];

describe('readVarint', () => {
  it('reads one-byte, multi-byte and 64-bit values', () => {
    expect(readVarint(Uint8Array.from([0x00]), 0)).toEqual([0n, 1]);
    expect(readVarint(Uint8Array.from([0x96, 0x01]), 0)).toEqual([150n, 2]);
    expect(readVarint(varint(2n ** 63n), 0)).toEqual([2n ** 63n, 10]);
  });

  it('reads a negative int32 as its ten-byte sign extension', () => {
    const bytes = varint(-1);
    expect(bytes.length).toBe(10);
    expect(BigInt.asIntN(32, readVarint(bytes, 0)[0])).toBe(-1n);
  });

  it('starts where it is told and says where it ended', () => {
    expect(readVarint(Uint8Array.from([0xff, 0xac, 0x02, 0x07]), 1)).toEqual([300n, 3]);
  });

  it('rejects a truncated varint and one longer than ten bytes', () => {
    expect(() => readVarint(Uint8Array.from([0x80, 0x80]), 0)).toThrow(/truncated varint at byte 0/);
    expect(() => readVarint(Uint8Array.from(Array(11).fill(0x80).concat([0])), 0)).toThrow(/longer than 10 bytes/);
  });
});

describe('readFields', () => {
  it('reads varint, length-delimited and fixed records in wire order', () => {
    const fields = fieldsOf(concat(int(1, 42), len(2, 'hi'), fixed64(3), fixed32(4), int(1, 7)));
    expect(fields.map((f) => [f.field, f.wireType])).toEqual([[1, WireType.VARINT], [2, WireType.LEN], [3, WireType.I64], [4, WireType.I32], [1, WireType.VARINT]]);
    expect(fields[0].value).toBe(42n);
    expect(Buffer.from(fields[1].value as Uint8Array).toString()).toBe('hi');
    expect((fields[2].value as Uint8Array).length).toBe(8);
    expect(fields[4].value).toBe(7n);
  });

  it('hands nested messages back as bytes to read in turn', () => {
    const [outer] = fieldsOf(len(5, len(1, int(2, 3))));
    const [middle] = fieldsOf(outer.value as Uint8Array);
    const [inner] = fieldsOf(middle.value as Uint8Array);
    expect([outer.field, middle.field, inner.field, inner.value]).toEqual([5, 1, 2, 3n]);
  });

  it('reads large field numbers', () => {
    expect(fieldsOf(int(2 ** 29 - 1, 1))[0].field).toBe(2 ** 29 - 1);
  });

  it('rejects a length running past the end, even an enormous one', () => {
    expect(() => fieldsOf(Uint8Array.from([0x12, 0x05, 0x61]))).toThrow(/field 2: length 5 runs past the end/);
    expect(() => fieldsOf(concat([0x12], varint(2n ** 64n - 1n)))).toThrow(WireError);
  });

  it('rejects truncated records', () => {
    expect(() => fieldsOf(Uint8Array.from([0x08]))).toThrow(/truncated varint/);
    expect(() => fieldsOf(Uint8Array.from([0x09, 1, 2, 3]))).toThrow(/truncated fixed64/);
    expect(() => fieldsOf(Uint8Array.from([0x0d, 1]))).toThrow(/truncated fixed32/);
    expect(() => fieldsOf(Uint8Array.from([0x80]))).toThrow(/truncated varint/);
  });

  it('rejects field number 0, groups and unknown wire types', () => {
    expect(() => fieldsOf(Uint8Array.from([0x00, 0x01]))).toThrow(/invalid field number 0/);
    expect(() => fieldsOf(Uint8Array.from([0x0b]))).toThrow(/groups/);
    expect(() => fieldsOf(Uint8Array.from([0x0c]))).toThrow(/groups/);
    expect(() => fieldsOf(Uint8Array.from([0x0e]))).toThrow(/invalid wire type 6/);
    expect(() => fieldsOf(Uint8Array.from([0x0f]))).toThrow(/invalid wire type 7/);
    expect(() => fieldsOf(concat(varint(2n ** 40n), [0]))).toThrow(/invalid field number/);
  });

  it('reads an empty message as no records', () => {
    expect(fieldsOf(new Uint8Array(0))).toEqual([]);
  });
});

describe('readPackedVarints', () => {
  it('reads values back to back and rejects a truncated last one', () => {
    expect(readPackedVarints(concat(varint(1), varint(300), varint(-2)))).toEqual([1n, 300n, 2n ** 64n - 2n]);
    expect(() => readPackedVarints(Uint8Array.from([0x01, 0x80]))).toThrow(/truncated varint/);
  });
});
