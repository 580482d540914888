// The terminal relay's wire protocol and every flow-control and size limit, in one module shared by the
// server (pty host, relay) and the browser client (bundled by esbuild: keep this file free of Node APIs).
//
// One WebSocket per terminal, binary frames only: byte 0 is the frame type, the rest its payload.
//   client → server  INPUT  utf-8 keystrokes/paste        RESIZE u16 cols, u16 rows      ACK u32 bytes
//   server → client  OUTPUT utf-8 pty output              EXIT   i32 code, utf-8 reason  SNAPSHOT utf-8
// SNAPSHOT is the serialized screen (headless xterm + serialize addon) sent once on every (re)connect,
// before any OUTPUT: the screen is restored, input is never replayed.

export const SUBPROTOCOL = 'netdojo.term.v1';
/** The lab's terminal token travels as a second WebSocket subprotocol (`auth.<token>`), never in the URL. */
export const TOKEN_PROTOCOL_PREFIX = 'auth.';

export const C2S = { INPUT: 0x01, RESIZE: 0x02, ACK: 0x03 } as const;
export const S2C = { OUTPUT: 0x81, EXIT: 0x82, SNAPSHOT: 0x83 } as const;

/**
 * Byte-counted flow control. The server counts OUTPUT payload bytes sent and not yet acknowledged; above
 * HIGH_WATERMARK it pauses the pty, below LOW_WATERMARK it resumes it. The client acknowledges in steps of
 * ACK_BYTES once xterm.js has parsed the bytes (write callback). ACK_BYTES must stay below LOW_WATERMARK:
 * otherwise the server can sit paused between the two watermarks waiting for an ack that never comes.
 */
export const FLOW = {
  HIGH_WATERMARK: 256 * 1024,
  LOW_WATERMARK: 64 * 1024,
  ACK_BYTES: 16 * 1024,
  /** The server's own headless terminal (for snapshots) gets the same treatment: pause while it lags. */
  HEADLESS_HIGH_WATERMARK: 1024 * 1024,
  HEADLESS_LOW_WATERMARK: 256 * 1024,
} as const;
if (FLOW.ACK_BYTES >= FLOW.LOW_WATERMARK) throw new Error('FLOW.ACK_BYTES must be below FLOW.LOW_WATERMARK');

export const LIMITS = {
  /** Largest frame the server accepts; larger ones close the socket (ws `maxPayload`). */
  MAX_PAYLOAD: 64 * 1024,
  /** The client splits pastes into INPUT frames of at most this many bytes. */
  INPUT_CHUNK: 16 * 1024,
  MAX_COLS: 500,
  MAX_ROWS: 200,
  /** Scrollback kept by the server's headless terminal, and so restored on reconnect. */
  SCROLLBACK: 1000,
  /** A connection that sends nothing (no keystroke, resize or ack) for this long is closed. */
  CONNECTION_IDLE_MS: 30 * 60 * 1000,
  /** Ping interval; a connection that misses a pong is dropped. */
  HEARTBEAT_MS: 20 * 1000,
  /** A shell nobody is connected to is ended after this long. */
  DETACHED_SHELL_MS: 15 * 60 * 1000,
  /** An ended shell gets SIGHUP and this long to exit (bash saves its history on the way) before SIGKILL. */
  SHELL_EXIT_MS: 2000,
  /** Output is coalesced into frames up to this size... */
  OUTPUT_FRAME_MAX: 64 * 1024,
  /** ...for at most this long while a burst goes on (a frame of OUTPUT_BURST_BYTES or more was just sent);
   * smaller output, such as a keystroke's echo, goes out at once. */
  OUTPUT_COALESCE_MS: 4,
  OUTPUT_BURST_BYTES: 4096,
  /** A command read off the screen (the timeline) is kept up to this many characters. */
  COMMAND_MAX_CHARS: 1000,
} as const;

/** WebSocket close codes the client acts on (4000–4999 are for applications). */
export const CLOSE = {
  IDLE: 4000,
  EXITED: 4001,
  LAB_GONE: 4002,
  PROTOCOL: 4003,
  REPLACED: 4004,
  /** A watcher whose access ended (the learner left the cohort, or it was deleted). */
  REVOKED: 4005,
} as const;

const enc = new TextEncoder();
const dec = new TextDecoder();

export function frame(type: number, payload: Uint8Array | string = new Uint8Array(0)): Uint8Array {
  const body = typeof payload === 'string' ? enc.encode(payload) : payload;
  const out = new Uint8Array(1 + body.length);
  out[0] = type;
  out.set(body, 1);
  return out;
}

export const inputFrame = (data: string) => frame(C2S.INPUT, data);

export function resizeFrame(cols: number, rows: number): Uint8Array {
  const out = new Uint8Array(5);
  const v = new DataView(out.buffer);
  out[0] = C2S.RESIZE;
  v.setUint16(1, cols);
  v.setUint16(3, rows);
  return out;
}

export function ackFrame(bytes: number): Uint8Array {
  const out = new Uint8Array(5);
  out[0] = C2S.ACK;
  new DataView(out.buffer).setUint32(1, bytes);
  return out;
}

export function exitFrame(code: number, reason: string): Uint8Array {
  const r = enc.encode(reason);
  const out = new Uint8Array(5 + r.length);
  out[0] = S2C.EXIT;
  new DataView(out.buffer).setInt32(1, code);
  out.set(r, 5);
  return out;
}

export type ClientFrame =
  | { type: 'input'; data: Uint8Array }
  | { type: 'resize'; cols: number; rows: number }
  | { type: 'ack'; bytes: number };

export type ServerFrame =
  | { type: 'output'; data: Uint8Array }
  | { type: 'snapshot'; data: string }
  | { type: 'exit'; code: number; reason: string };

/** Parses a frame from the browser; throws a message naming what is wrong (the relay closes on it). */
export function parseClientFrame(buf: Uint8Array): ClientFrame {
  if (buf.length === 0) throw new Error('empty frame');
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  switch (buf[0]) {
    case C2S.INPUT:
      return { type: 'input', data: buf.subarray(1) };
    case C2S.RESIZE: {
      if (buf.length !== 5) throw new Error('resize frame must be 5 bytes');
      const cols = v.getUint16(1), rows = v.getUint16(3);
      if (cols < 2 || rows < 2 || cols > LIMITS.MAX_COLS || rows > LIMITS.MAX_ROWS) throw new Error(`resize out of range: ${cols}x${rows}`);
      return { type: 'resize', cols, rows };
    }
    case C2S.ACK:
      if (buf.length !== 5) throw new Error('ack frame must be 5 bytes');
      return { type: 'ack', bytes: v.getUint32(1) };
    default:
      throw new Error(`unknown frame type 0x${buf[0].toString(16)}`);
  }
}

export function parseServerFrame(buf: Uint8Array): ServerFrame {
  if (buf.length === 0) throw new Error('empty frame');
  switch (buf[0]) {
    case S2C.OUTPUT:
      return { type: 'output', data: buf.subarray(1) };
    case S2C.SNAPSHOT:
      return { type: 'snapshot', data: dec.decode(buf.subarray(1)) };
    case S2C.EXIT: {
      const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      return { type: 'exit', code: v.getInt32(1), reason: dec.decode(buf.subarray(5)) };
    }
    default:
      throw new Error(`unknown frame type 0x${buf[0].toString(16)}`);
  }
}
