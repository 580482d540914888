import { describe, expect, it } from 'vitest';
import { C2S, FLOW, LIMITS, S2C, ackFrame, exitFrame, frame, inputFrame, parseClientFrame, parseServerFrame, resizeFrame } from './protocol.ts';

describe('relay protocol', () => {
  it('round-trips every frame type', () => {
    expect(parseClientFrame(inputFrame('ls -l\r'))).toEqual({ type: 'input', data: new TextEncoder().encode('ls -l\r') });
    expect(parseClientFrame(resizeFrame(132, 43))).toEqual({ type: 'resize', cols: 132, rows: 43 });
    expect(parseClientFrame(ackFrame(70_000))).toEqual({ type: 'ack', bytes: 70_000 });
    expect(parseServerFrame(frame(S2C.OUTPUT, 'héllo'))).toEqual({ type: 'output', data: new TextEncoder().encode('héllo') });
    expect(parseServerFrame(frame(S2C.SNAPSHOT, '\x1b[31mred'))).toEqual({ type: 'snapshot', data: '\x1b[31mred' });
    expect(parseServerFrame(exitFrame(-1, 'the lab was reset'))).toEqual({ type: 'exit', code: -1, reason: 'the lab was reset' });
  });

  it('rejects malformed client frames with a reason', () => {
    expect(() => parseClientFrame(new Uint8Array(0))).toThrow(/empty/);
    expect(() => parseClientFrame(new Uint8Array([0x55]))).toThrow(/unknown frame type 0x55/);
    expect(() => parseClientFrame(new Uint8Array([C2S.RESIZE, 0, 80]))).toThrow(/5 bytes/);
    expect(() => parseClientFrame(resizeFrame(LIMITS.MAX_COLS + 1, 24))).toThrow(/out of range/);
    expect(() => parseClientFrame(resizeFrame(80, 0))).toThrow(/out of range/);
    expect(() => parseClientFrame(new Uint8Array([C2S.ACK, 1]))).toThrow(/5 bytes/);
    // A server frame type is not a client frame.
    expect(() => parseClientFrame(frame(S2C.OUTPUT, 'x'))).toThrow(/unknown/);
  });

  it('keeps the ack step below the low watermark, and the low below the high one', () => {
    expect(FLOW.ACK_BYTES).toBeLessThan(FLOW.LOW_WATERMARK);
    expect(FLOW.LOW_WATERMARK).toBeLessThan(FLOW.HIGH_WATERMARK);
    expect(LIMITS.INPUT_CHUNK + 1).toBeLessThanOrEqual(LIMITS.MAX_PAYLOAD);
  });
});
