import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ShellSpec } from '../lab/types.ts';
import type { PtyHost } from './host.ts';
import { C2S, CLOSE, LIMITS, SUBPROTOCOL, TOKEN_PROTOCOL_PREFIX } from './protocol.ts';

// The WebSocket side of the terminal: authenticates the upgrade, then pipes frames between one socket
// and one shell in the pty host. It never interprets keystrokes and never takes a command line: what
// runs is decided by the lab (`lab.shell(target)`), looked up by `authorize`.
//
// A watcher (a trainer, at /api/trainer/labs/:id/terminal) attaches read-only to a shell that already
// runs: it gets the snapshot and the live output as the learner does, and acknowledges it (so flow
// control counts it like any client), but its INPUT and RESIZE frames are dropped here and never
// reach the shell or change its size.

export const TERMINAL_PATH = /^\/api\/(trainer\/)?labs\/([a-z0-9]+)\/terminal$/;

export type TerminalGrant =
  | {
    /** Names the shell in the pty host; the same lab and target reattach to the same shell. */
    term: string;
    readOnly?: false;
    spec: () => ShellSpec;
    /** Called on input: the learner typed (the lab is in use for idle reaping, and may be changing). */
    typed: () => void;
  }
  | {
    term: string;
    readOnly: true;
    /** Asked again when access may have changed (`recheckWatchers`): false ends the watch. */
    stillAllowed?: () => boolean;
  };

/** `watch`: the read-only path; `token` is the lab's (only the owner's path has one). */
export type Authorize = (req: IncomingMessage, lab: string, target: string, token: string, watch: boolean)
  => TerminalGrant | { status: number; message: string };

export interface RelayOptions {
  host: PtyHost;
  authorize: Authorize;
  /** Origins allowed to open terminals (exact `scheme://host:port`). */
  allowedOrigin: (origin: string) => boolean;
  idleMs?: number;
  heartbeatMs?: number;
}

function refuse(socket: Duplex, status: number, message: string) {
  const body = JSON.stringify({ error: { code: status === 403 ? 'forbidden' : 'unauthorized', message } });
  socket.end(`HTTP/1.1 ${status} ${status === 403 ? 'Forbidden' : status === 404 ? 'Not Found' : status === 400 ? 'Bad Request' : status === 429 ? 'Too Many Requests' : 'Unauthorized'}\r\n`
    + `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

const clampInt = (v: string | null, def: number, min: number, max: number) => {
  const n = Number.parseInt(v ?? '', 10);
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : def;
};

export function attachRelay(server: Server, opts: RelayOptions) {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: LIMITS.MAX_PAYLOAD,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  const idleMs = opts.idleMs ?? LIMITS.CONNECTION_IDLE_MS;
  const alive = new Map<WebSocket, TerminalGrant>();

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://relay');
    const m = TERMINAL_PATH.exec(url.pathname);
    if (!m) return; // not ours: another upgrade handler may take it, or the socket times out
    const origin = req.headers.origin;
    if (!origin || !opts.allowedOrigin(origin)) return refuse(socket, 403, `origin ${origin ?? '(none)'} is not allowed to open terminals`);
    const protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
    if (!protocols.includes(SUBPROTOCOL)) return refuse(socket, 400, `subprotocol ${SUBPROTOCOL} required`);
    const token = protocols.find((p) => p.startsWith(TOKEN_PROTOCOL_PREFIX))?.slice(TOKEN_PROTOCOL_PREFIX.length) ?? '';
    const target = url.searchParams.get('target') ?? '';
    const grant = opts.authorize(req, m[2], target, token, m[1] !== undefined);
    if ('status' in grant) return refuse(socket, grant.status, grant.message);
    const cols = clampInt(url.searchParams.get('cols'), 80, 2, LIMITS.MAX_COLS);
    const rows = clampInt(url.searchParams.get('rows'), 24, 2, LIMITS.MAX_ROWS);
    wss.handleUpgrade(req, socket, head, (ws) => void connect(ws, grant, cols, rows));
  };

  async function connect(ws: WebSocket, grant: TerminalGrant, cols: number, rows: number) {
    const conn = randomUUID();
    let idle: NodeJS.Timeout;
    const bump = () => {
      clearTimeout(idle);
      idle = setTimeout(() => ws.close(CLOSE.IDLE, 'idle'), idleMs);
      idle.unref();
    };
    let alivePong = true;
    ws.on('pong', () => { alivePong = true; });
    const beat = setInterval(() => {
      if (!alivePong) return ws.terminate();
      alivePong = false;
      ws.ping();
    }, opts.heartbeatMs ?? LIMITS.HEARTBEAT_MS);
    beat.unref();
    alive.set(ws, grant);
    // Protocol errors (oversized frame, bad opcode) close the socket; the 'close' handler cleans up.
    ws.on('error', () => {});
    // One cleanup for every way a connection ends.
    ws.once('close', () => {
      clearTimeout(idle);
      clearInterval(beat);
      alive.delete(ws);
      opts.host.detach(conn);
    });
    // Frames that arrive while the shell starts are queued, then delivered in order.
    let queue: Buffer[] | null = [];
    ws.on('message', (data, isBinary) => {
      if (!isBinary) return ws.close(CLOSE.PROTOCOL, 'binary frames only');
      bump();
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (grant.readOnly) { if (buf[0] !== C2S.ACK) return; }
      else if (buf[0] === C2S.INPUT) grant.typed();
      if (queue) queue.push(buf); else opts.host.input(conn, buf);
    });
    bump();
    try {
      // A watcher never starts a shell: attaching to one that is gone closes with EXITED.
      if (!grant.readOnly) await opts.host.open(grant.term, grant.spec, cols, rows);
    } catch (e) {
      ws.close(1011, `could not start the shell: ${(e as Error).message}`.slice(0, 120));
      return;
    }
    if (ws.readyState !== ws.OPEN) return;
    opts.host.attach(grant.term, conn, (d) => { if (ws.readyState === ws.OPEN) ws.send(d); },
      (code, reason) => ws.close(code, reason.slice(0, 120)));
    for (const buf of queue) opts.host.input(conn, buf);
    queue = null;
  }

  server.on('upgrade', onUpgrade);
  return {
    /** Closes every terminal connection (the shells live on in the pty host until it is disposed). */
    close() {
      server.off('upgrade', onUpgrade);
      for (const ws of alive.keys()) ws.terminate();
      wss.close();
    },
    /** Ends every watch whose grant no longer holds (call after access changed). */
    recheckWatchers() {
      for (const [ws, grant] of alive) {
        if (grant.readOnly && grant.stillAllowed && !grant.stillAllowed()) ws.close(CLOSE.REVOKED, 'you may no longer watch this terminal');
      }
    },
  };
}
