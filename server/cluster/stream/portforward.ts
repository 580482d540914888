// pods/portforward as the API server and the kubelet serve it to kubectl. kubectl 1.31 on asks for
// a WebSocket with the subprotocol `SPDY/3.1+portforward.k8s.io` and speaks SPDY inside it; 1.30
// (and 1.31+ when that upgrade fails) asks for SPDY itself (`Upgrade: SPDY/3.1`,
// `X-Stream-Protocol-Version: portforward.k8s.io`). Either way, every local connection kubectl
// accepts becomes two SPDY streams with the headers `streamType` (error, then data), `port` and
// `requestID`: the kubelet connects to localhost:<port> inside the pod's network namespace (the
// container runtime does, as a port bound to the pod's IP alone is not reached), relays the data
// stream, and writes what failed on the error stream. kubectl ends the whole port-forward at the
// first message there ("error: lost connection to pod").
//
// What a connection into the pod is stays with the caller (a Dial; relay.ts makes them).

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { ApiError, badRequest } from '../object.ts';
import { headerList, rejectUpgrade } from './exec.ts';
import type { Dial, PodConnection } from './relay.ts';
import { RST, SpdySession } from './spdy.ts';

export const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';
const SPDY_31 = 'SPDY/3.1';
const TUNNELED = `${SPDY_31}+${PORT_FORWARD_PROTOCOL}`;

/** Stream pairs one connection may have open at once; more are refused (RST_STREAM). */
export const MAX_PAIRS = 128;
/** How long the kubelet waits for a pair's second stream (its stream creation timeout). */
const PAIR_TIMEOUT_MS = 30_000;
/** What a pair may receive before its connection is made. */
const MAX_EARLY = 1 << 20;
/** What the transport may hold unsent before the pod's side stops being read, and where it resumes. */
const HIGH_WATER = 1 << 20;
const LOW_WATER = 1 << 18;

export interface PortForwardTarget {
  dial: Dial;
  /** The pod's sandbox id, as the kubelet names the pod in its errors. */
  sandbox: string;
}

/** The byte stream SPDY runs over: the upgraded connection, or a WebSocket's binary messages. */
interface Transport {
  write(frame: Buffer): void;
  /** Above the high water mark: the pod's side waits for onDrain. */
  backedUp(): boolean;
  onDrain(cb: () => void): void;
  pause(): void;
  resume(): void;
  end(): void;
  onReceive(cb: (chunk: Buffer) => void): void;
  /** The client went away (or the transport failed). */
  onClose(cb: () => void): void;
}

// --- the upgrade -------------------------------------------------------------------------------

// ws takes only RFC 7230 tokens for subprotocols, and `SPDY/3.1+portforward.k8s.io` has a '/' (it
// would answer 400): the protocol is checked here, hidden from ws, and named in the 101 by hand.
const wss = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false });
wss.on('headers', (headers) => { headers.push(`Sec-WebSocket-Protocol: ${TUNNELED}`); });

/** Handles the HTTP upgrade of pods/portforward, over a WebSocket or SPDY. */
export function handlePortForwardUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, target: PortForwardTarget): void {
  const upgrade = (req.headers.upgrade ?? '').toLowerCase();
  if (upgrade === 'websocket') {
    const offered = headerList(req.headers['sec-websocket-protocol']);
    if (!offered.includes(TUNNELED)) {
      rejectUpgrade(socket, badRequest(`requested protocol(s) are not supported: [${offered.join(' ')}]; supports [${TUNNELED}]`));
      return;
    }
    delete req.headers['sec-websocket-protocol'];
    wss.handleUpgrade(req, socket, head, (ws) => serve(wsTransport(ws), target));
    return;
  }
  if (upgrade !== SPDY_31.toLowerCase()) {
    rejectUpgrade(socket, badRequest('Upgrade request required'));
    return;
  }
  // httpstream.Handshake: the client lists the protocols it speaks; the server names the one chosen.
  const offered = headerList(req.headers['x-stream-protocol-version']);
  if (offered.length > 0 && !offered.includes(PORT_FORWARD_PROTOCOL)) {
    rejectUpgrade(socket, new ApiError(403, 'Forbidden', `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server supports [${PORT_FORWARD_PROTOCOL}]`));
    return;
  }
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${SPDY_31}\r\nX-Stream-Protocol-Version: ${PORT_FORWARD_PROTOCOL}\r\n\r\n`);
  const transport = socketTransport(socket);
  const session = serve(transport, target);
  if (head.length) session.receive(head);
}

function socketTransport(socket: Duplex): Transport {
  return {
    write: (frame) => { if (!socket.destroyed) socket.write(frame); },
    backedUp: () => socket.writableLength > HIGH_WATER,
    onDrain: (cb) => socket.once('drain', cb),
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    end: () => socket.end(),
    onReceive: (cb) => socket.on('data', cb),
    // An upgraded HTTP connection allows half-open: the client's end is the session's end.
    onClose: (cb) => { socket.once('end', cb); socket.once('close', cb); socket.on('error', () => socket.destroy()); },
  };
}

function wsTransport(ws: WebSocket): Transport {
  const drainWaiters: (() => void)[] = [];
  const sent = () => { if (ws.bufferedAmount < LOW_WATER) for (const cb of drainWaiters.splice(0)) cb(); };
  return {
    write: (frame) => { if (ws.readyState === ws.OPEN) ws.send(frame, { binary: true }, sent); },
    backedUp: () => ws.bufferedAmount > HIGH_WATER,
    onDrain: (cb) => { drainWaiters.push(cb); },
    pause: () => ws.pause(),
    resume: () => ws.resume(),
    end: () => ws.close(1000),
    onReceive: (cb) => ws.on('message', (raw: RawData, binary: boolean) => {
      // client-go's tunnel sends binary messages only; anything else ends the session.
      if (!binary) { ws.close(1003); return; }
      cb(Buffer.isBuffer(raw) ? raw : Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw));
    }),
    onClose: (cb) => { ws.once('close', cb); ws.on('error', () => ws.terminate()); },
  };
}

// --- a session ---------------------------------------------------------------------------------

interface Pair {
  /** Its requestID. */
  rid: string;
  port: number;
  error?: number;
  data?: number;
  conn?: PodConnection;
  /** Data that arrived before the connection was made (its data stream came before its error
   *  stream), and how much: past MAX_EARLY the pair is reset. */
  early: Buffer[];
  earlyBytes: number;
  clientDone: boolean;
  /** Its connection is behind: the client is not read until it drains (or ends). */
  blocked: boolean;
  timer: NodeJS.Timeout;
}

/** kubelet's requestID(): older clients send none; their error stream comes first, data second. */
function requestIdOf(id: number, type: string, headers: Map<string, string>): string {
  return headers.get('requestid') || String(type === 'data' ? id - 2 : id);
}

/** Why the kubelet refuses a stream (its handler's error resets the stream). */
function refusal(headers: Map<string, string>): string | undefined {
  const port = headers.get('port');
  if (!port) return '"port" header is required';
  if (!/^\d+$/.test(port) || Number(port) > 65535) return `unable to parse "${port}" as a port`;
  if (Number(port) < 1) return `port "${port}" must be > 0`;
  const type = headers.get('streamtype');
  if (!type) return '"streamType" header is required';
  if (type !== 'error' && type !== 'data') return `invalid stream type "${type}"`;
  return undefined;
}

function serve(transport: Transport, target: PortForwardTarget): SpdySession {
  const pairs = new Map<string, Pair>();
  const streams = new Map<number, { pair: Pair; type: 'error' | 'data' }>();
  let blocked = 0; // connections into the pod that are behind: the client is not read meanwhile
  let ended = false;

  const forget = (pair: Pair) => {
    clearTimeout(pair.timer);
    if (pairs.get(pair.rid) === pair) pairs.delete(pair.rid);
    for (const id of [pair.error, pair.data]) if (id !== undefined) streams.delete(id);
  };

  const start = (pair: Pair) => {
    clearTimeout(pair.timer);
    const conn = target.dial(pair.port);
    pair.conn = conn;
    const dataId = pair.data!;
    let behind = false;
    conn.onData((data) => {
      session.send(dataId, data);
      if (!behind && transport.backedUp()) {
        behind = true;
        conn.pause();
        transport.onDrain(() => { behind = false; conn.resume(); });
      }
    });
    for (const chunk of pair.early.splice(0)) push(pair, chunk);
    if (pair.clientDone) conn.end();
    void conn.done.then((failure) => {
      unblock(pair);
      if (ended) return;
      session.send(dataId, Buffer.alloc(0), true);
      if (pair.error !== undefined) {
        if (failure) session.send(pair.error, Buffer.from(`error forwarding port ${pair.port} to pod ${target.sandbox}, uid : ${failure}`));
        session.send(pair.error, Buffer.alloc(0), true);
      }
      forget(pair);
    });
  };

  const unblock = (pair: Pair) => {
    if (!pair.blocked) return;
    pair.blocked = false;
    if (--blocked === 0) transport.resume();
  };

  const push = (pair: Pair, data: Buffer) => {
    if (!pair.conn) {
      pair.early.push(data);
      pair.earlyBytes += data.length;
      return;
    }
    if (!pair.conn.write(data) && !pair.blocked) {
      pair.blocked = true;
      if (blocked++ === 0) transport.pause();
      pair.conn.onDrain(() => unblock(pair));
    }
  };

  const session = new SpdySession((frame) => transport.write(frame), {
    open(id, headers, fin) {
      const why = refusal(headers);
      if (why) { session.reset(id, RST.cancel); return; }
      const type = headers.get('streamtype') as 'error' | 'data';
      const rid = requestIdOf(id, type, headers);
      let pair = pairs.get(rid);
      if (!pair) {
        if (pairs.size >= MAX_PAIRS) { session.reset(id, RST.refusedStream); return; }
        const fresh: Pair = { rid, port: Number(headers.get('port')), early: [], earlyBytes: 0, clientDone: false, blocked: false, timer: setTimeout(() => timedOut(fresh), PAIR_TIMEOUT_MS) };
        fresh.timer.unref();
        pair = fresh;
        pairs.set(rid, pair);
      }
      if (pair[type] !== undefined) { session.reset(id, RST.protocolError); return; }
      pair[type] = id;
      streams.set(id, { pair, type });
      session.reply(id);
      if (type === 'data' && fin) pair.clientDone = true;
      if (pair.error !== undefined && pair.data !== undefined) start(pair);
    },
    data(id, data, fin) {
      const s = streams.get(id);
      // The client half-closes its error stream at once; what else it sends there means nothing.
      if (!s || s.type === 'error') return;
      if (data.length) push(s.pair, data);
      if (s.pair.earlyBytes > MAX_EARLY) {
        session.reset(id, RST.protocolError);
        forget(s.pair);
        return;
      }
      if (fin) { s.pair.clientDone = true; s.pair.conn?.end(); }
    },
    reset(id) {
      const s = streams.get(id);
      if (s?.type === 'data') s.pair.conn?.close();
    },
    end() {
      ended = true;
      for (const pair of pairs.values()) { pair.conn?.close(); forget(pair); }
      transport.end();
    },
  });

  const timedOut = (pair: Pair) => {
    if (pair.conn) return;
    if (pair.error !== undefined) {
      session.send(pair.error, Buffer.from(`(conn=${pair.rid}, request=${pair.rid}) timed out waiting for streams`));
      session.send(pair.error, Buffer.alloc(0), true);
    }
    if (pair.data !== undefined) session.reset(pair.data, RST.cancel);
    forget(pair);
  };

  transport.onReceive((chunk) => session.receive(chunk));
  transport.onClose(() => session.close());
  return session;
}
