// SPDY/3.1, the server's side, as Kubernetes' streaming servers speak it (moby/spdystream under
// client-go's httpstream/spdy): the transport of `kubectl port-forward`, either raw on the
// connection after an HTTP upgrade (kubectl 1.30) or as the byte stream carried by a WebSocket's
// binary messages (1.31 on). Only what that client does: it opens streams (SYN_STREAM) that the
// server accepts (SYN_REPLY); data flows both ways, each side half-closing with FIN; either side
// may reset a stream (RST_STREAM); the client pings (PING, echoed) and says goodbye (GOAWAY).
// spdystream keeps no flow-control windows (it never sends WINDOW_UPDATE and ignores the ones it
// receives), so neither does this side: backpressure is the transport's.
//
// Frames (draft-mbelshe-httpbis-spdy-00 §2.2): a control frame is 1 bit set, version (15 bits) 3,
// type (16), flags (8), length (24), payload; a data frame is 1 bit clear, stream id (31), flags
// (8), length (24), payload. Each direction's header blocks are one zlib stream over the whole
// session, primed with the dictionary below and sync-flushed after every block: a block can only
// be read in order, after every block before it.

import zlib from 'node:zlib';

const VERSION = 3;
export const FRAME = { synStream: 1, synReply: 2, rstStream: 3, settings: 4, ping: 6, goAway: 7, headers: 8, windowUpdate: 9 } as const;
export const FLAG_FIN = 0x01;
/** RST_STREAM status codes used here. */
export const RST = { protocolError: 1, refusedStream: 3, cancel: 5 } as const;

/** What one frame may carry before the session is ended as a protocol error. spdystream writes
 *  what its caller writes, and io.Copy writes 32 KiB at a time. */
export const MAX_FRAME = 1 << 20;
/** An inflated header block, and how many pairs it may hold (client-go sends three or four). */
export const MAX_HEADER_BLOCK = 64 << 10;
const MAX_HEADER_PAIRS = 64;
/** How much of a stream's data goes in one DATA frame. */
const DATA_CHUNK = 64 << 10;

/** The SPDY/3 header dictionary (§2.6.10.1): each word prefixed by its length in 4 bytes, then a
 *  run of status lines, dates and media types. */
const DICTIONARY_WORDS = [
  'options', 'head', 'post', 'put', 'delete', 'trace', 'accept', 'accept-charset', 'accept-encoding', 'accept-language',
  'accept-ranges', 'age', 'allow', 'authorization', 'cache-control', 'connection', 'content-base', 'content-encoding',
  'content-language', 'content-length', 'content-location', 'content-md5', 'content-range', 'content-type', 'date', 'etag',
  'expect', 'expires', 'from', 'host', 'if-match', 'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since',
  'last-modified', 'location', 'max-forwards', 'pragma', 'proxy-authenticate', 'proxy-authorization', 'range', 'referer',
  'retry-after', 'server', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'vary', 'via', 'warning',
  'www-authenticate', 'method', 'get', 'status', '200 OK', 'version', 'HTTP/1.1', 'url', 'public', 'set-cookie', 'keep-alive', 'origin',
];
const DICTIONARY_TAIL =
  '100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505' +
  '203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized' +
  '403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable' +
  'Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT' +
  'chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,' +
  'text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.';
export const DICTIONARY = Buffer.concat([
  ...DICTIONARY_WORDS.map((w) => Buffer.concat([u32(w.length), Buffer.from(w, 'latin1')])),
  Buffer.from(DICTIONARY_TAIL, 'latin1'),
]);

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export function controlFrame(type: number, flags: number, payload: Buffer, version = VERSION): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(0x8000 | version, 0);
  h.writeUInt16BE(type, 2);
  h.writeUInt32BE(payload.length, 4);
  h[4] = flags;
  return Buffer.concat([h, payload]);
}

export function dataFrame(id: number, flags: number, data: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32BE(id & 0x7fffffff, 0);
  h.writeUInt32BE(data.length, 4);
  h[4] = flags;
  return Buffer.concat([h, data]);
}

/** A header block's name/value pairs (names lower-case on the wire; several values of one name
 *  are joined by NUL: the first is kept). */
export function encodeHeaders(headers: Record<string, string>): Buffer {
  const parts: Buffer[] = [u32(Object.keys(headers).length)];
  for (const [k, v] of Object.entries(headers)) {
    const name = Buffer.from(k.toLowerCase(), 'utf8');
    const value = Buffer.from(v, 'utf8');
    parts.push(u32(name.length), name, u32(value.length), value);
  }
  return Buffer.concat(parts);
}

export function decodeHeaders(block: Buffer): Map<string, string> {
  const fail = (why: string): never => { throw new SpdyError(`malformed header block: ${why}`); };
  if (block.length < 4) fail('no pair count');
  const count = block.readUInt32BE(0);
  if (count > MAX_HEADER_PAIRS) fail(`${count} pairs (at most ${MAX_HEADER_PAIRS})`);
  const headers = new Map<string, string>();
  let at = 4;
  const field = () => {
    if (at + 4 > block.length) fail('a length runs past the block');
    const n = block.readUInt32BE(at);
    if (at + 4 + n > block.length) fail('a name or value runs past the block');
    const s = block.toString('utf8', at + 4, at + 4 + n);
    at += 4 + n;
    return s;
  };
  for (let i = 0; i < count; i++) {
    const name = field().toLowerCase();
    const value = field().split('\0')[0];
    if (!headers.has(name)) headers.set(name, value);
  }
  return headers;
}

/** A violation of the protocol by the peer: the session ends. */
class SpdyError extends Error {}

export interface SpdyHandlers {
  /** The client opened a stream; `fin`: it will send nothing on it. */
  open(id: number, headers: Map<string, string>, fin: boolean): void;
  data(id: number, data: Buffer, fin: boolean): void;
  /** The client reset a stream. */
  reset(id: number): void;
  /** The session is over: the client's GOAWAY, or a protocol error (with why). */
  end(why?: string): void;
}

/** One zlib stream of header blocks: blocks go in, in order; each comes out sync-flushed. */
export class HeaderCodec {
  private readonly z: zlib.Inflate | zlib.Deflate;
  private out: Buffer[] = [];
  private size = 0;
  private failed: Error | undefined;

  constructor(direction: 'inflate' | 'deflate') {
    this.z = direction === 'inflate' ? zlib.createInflate({ dictionary: DICTIONARY }) : zlib.createDeflate({ dictionary: DICTIONARY });
    // One listener for the session's life: the output of a block has arrived when its flush returns.
    this.z.on('data', (c: Buffer) => { this.size += c.length; if (this.size <= MAX_HEADER_BLOCK) this.out.push(c); });
    this.z.on('error', (e) => { this.failed = e; });
  }

  private check(): void {
    if (this.failed) throw new SpdyError(`header compression: ${this.failed.message}`);
  }

  async block(input: Buffer): Promise<Buffer> {
    this.check();
    this.z.write(input);
    // zlib reports an error instead of calling back: the error ends the wait too.
    await new Promise<void>((resolve) => {
      const done = () => { this.z.off('error', done); resolve(); };
      this.z.once('error', done);
      this.z.flush(zlib.constants.Z_SYNC_FLUSH, done);
    });
    const size = this.size;
    const out = Buffer.concat(this.out.splice(0));
    this.size = 0;
    this.check();
    if (size > MAX_HEADER_BLOCK) throw new SpdyError(`a header block inflates past ${MAX_HEADER_BLOCK} bytes`);
    return out;
  }

  close() { this.z.close(); }
}

/**
 * A server's SPDY session over a byte transport: `receive` what the client sent; the handlers
 * hear of streams; `reply`, `send`, `reset` answer. Frames are handled strictly in order (a header
 * block inflates asynchronously, and data behind it waits), and go out in the order asked.
 */
export class SpdySession {
  private buffered: Buffer = Buffer.alloc(0);
  private inflater = new HeaderCodec('inflate');
  private deflater = new HeaderCodec('deflate');
  private incoming = Promise.resolve();
  private outgoing = Promise.resolve();
  private closed = false;
  private lastStream = 0;

  constructor(private readonly write: (frame: Buffer) => void, private readonly on: SpdyHandlers) {}

  /** Bytes from the client. */
  receive(chunk: Buffer): void {
    if (this.closed) return;
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    while (this.buffered.length >= 8) {
      const length = this.buffered.readUInt32BE(4) & 0xffffff;
      if (length > MAX_FRAME) { this.fail(`a frame of ${length} bytes (at most ${MAX_FRAME})`); return; }
      if (this.buffered.length < 8 + length) break;
      const frame = this.buffered.subarray(0, 8 + length);
      this.buffered = this.buffered.subarray(8 + length);
      this.incoming = this.incoming.then(() => this.handle(frame)).catch((e: unknown) => this.fail(e instanceof Error ? e.message : String(e)));
    }
  }

  private async handle(frame: Buffer): Promise<void> {
    if (this.closed) return;
    const flags = frame[4];
    const payload = frame.subarray(8);
    if ((frame[0] & 0x80) === 0) {
      this.on.data(frame.readUInt32BE(0) & 0x7fffffff, payload, (flags & FLAG_FIN) !== 0);
      return;
    }
    const version = frame.readUInt16BE(0) & 0x7fff;
    if (version !== VERSION) throw new SpdyError(`SPDY version ${version} (this server speaks ${VERSION})`);
    const type = frame.readUInt16BE(2);
    const need = (n: number) => { if (payload.length < n) throw new SpdyError(`a frame of type ${type} with ${payload.length} bytes (at least ${n})`); };
    switch (type) {
      case FRAME.synStream: {
        need(10);
        const id = payload.readUInt32BE(0) & 0x7fffffff;
        const headers = decodeHeaders(await this.inflater.block(payload.subarray(10)));
        if (this.closed) return;
        // Client streams have odd ids, each above the last (§2.3.2).
        if (id % 2 === 0 || id <= this.lastStream) { this.reset(id, RST.protocolError); return; }
        this.lastStream = id;
        this.on.open(id, headers, (flags & FLAG_FIN) !== 0);
        return;
      }
      case FRAME.synReply: case FRAME.headers:
        // Nothing the server needs (a stream id, then a header block), but the block moves the
        // shared zlib stream on.
        need(4);
        await this.inflater.block(payload.subarray(4));
        return;
      case FRAME.rstStream:
        need(8);
        this.on.reset(payload.readUInt32BE(0) & 0x7fffffff);
        return;
      case FRAME.ping:
        need(4);
        this.write(frame);
        return;
      case FRAME.goAway:
        this.close();
        return;
      default:
        // SETTINGS and WINDOW_UPDATE change nothing here; unknown types are ignored (§2.2.1).
    }
  }

  private out(build: () => Buffer | Promise<Buffer>): void {
    if (this.closed) return;
    this.outgoing = this.outgoing.then(async () => {
      const frame = await build();
      if (!this.closed) this.write(frame);
    }).catch((e: unknown) => this.fail(e instanceof Error ? e.message : String(e)));
  }

  /** Resolves once every frame received so far is handled and every frame asked for is written. */
  async idle(): Promise<void> {
    for (;;) {
      const [incoming, outgoing] = [this.incoming, this.outgoing];
      await incoming;
      await outgoing;
      if (incoming === this.incoming && outgoing === this.outgoing) return;
    }
  }

  /** Accepts a stream the client opened (client-go waits for this before using it). */
  reply(id: number): void {
    this.out(async () => controlFrame(FRAME.synReply, 0, Buffer.concat([u32(id & 0x7fffffff), await this.deflater.block(encodeHeaders({}))])));
  }

  /** Data on a stream; `fin` half-closes it. */
  send(id: number, data: Buffer, fin = false): void {
    for (let at = 0; at < data.length; at += DATA_CHUNK) {
      const chunk = data.subarray(at, at + DATA_CHUNK);
      const last = at + DATA_CHUNK >= data.length;
      this.out(() => dataFrame(id, last && fin ? FLAG_FIN : 0, chunk));
    }
    if (data.length === 0 && fin) this.out(() => dataFrame(id, FLAG_FIN, data));
  }

  reset(id: number, status: number): void {
    this.out(() => controlFrame(FRAME.rstStream, 0, Buffer.concat([u32(id & 0x7fffffff), u32(status)])));
  }

  private fail(why: string): void {
    if (this.closed) return;
    this.write(controlFrame(FRAME.goAway, 0, Buffer.concat([u32(this.lastStream), u32(RST.protocolError)])));
    this.close(why);
  }

  /** Ends the session (the transport went away, or the client said GOAWAY). */
  close(why?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.inflater.close();
    this.deflater.close();
    this.on.end(why);
  }
}
