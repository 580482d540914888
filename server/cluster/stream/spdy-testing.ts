// Test-only: a SPDY/3.1 client's side, as spdystream frames it (one zlib stream for its header
// blocks), and a reader of the frames a server writes.

import { controlFrame, dataFrame, encodeHeaders, FLAG_FIN, FRAME, HeaderCodec, u32 } from './spdy.ts';

/** A client's side, as spdystream frames it: one zlib stream for its header blocks. */
export function spdyClient() {
  const headers = new HeaderCodec('deflate');
  return {
    control: controlFrame,
    u32,
    synStream: async (id: number, h: Record<string, string>, flags = 0, raw?: Buffer) =>
      controlFrame(FRAME.synStream, flags, Buffer.concat([u32(id), u32(0), Buffer.from([0, 0]), await headers.block(raw ?? encodeHeaders(h))])),
    data: (id: number, data: Buffer, fin = false) => dataFrame(id, fin ? FLAG_FIN : 0, data),
  };
}

export const frameType = (f: Buffer) => ((f[0] & 0x80) ? f.readUInt16BE(2) : 'data');

/** Splits what a server wrote into frames, as they complete. */
export function frameReader() {
  let buffered = Buffer.alloc(0);
  return (chunk: Buffer): Buffer[] => {
    buffered = Buffer.concat([buffered, chunk]);
    const frames: Buffer[] = [];
    while (buffered.length >= 8 && buffered.length >= 8 + (buffered.readUInt32BE(4) & 0xffffff)) {
      const n = 8 + (buffered.readUInt32BE(4) & 0xffffff);
      frames.push(buffered.subarray(0, n));
      buffered = buffered.subarray(n);
    }
    return frames;
  };
}
