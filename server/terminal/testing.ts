import headless from '@xterm/headless';
import WebSocket from 'ws';
import { FLOW, SUBPROTOCOL, TOKEN_PROTOCOL_PREFIX, ackFrame, inputFrame, parseServerFrame, resizeFrame } from './protocol.ts';

// A terminal client for tests and benchmarks: speaks the relay protocol as the browser does (acks after
// parsing), renders into a headless xterm, and waits on conditions over the screen, never on sleeps.

export interface TermClientOptions {
  url: string;
  token?: string;
  origin?: string;
  cookie?: string;
  /** Do not acknowledge output (to test that the server stops sending). */
  noAck?: boolean;
}

export class TermClient {
  readonly term = new headless.Terminal({ cols: 100, rows: 30, scrollback: 5000, allowProposedApi: true });
  readonly ws: WebSocket;
  snapshots: string[] = [];
  outputBytes = 0;
  exit: { code: number; reason: string } | null = null;
  closed: { code: number; reason: string } | null = null;
  private unacked = 0;
  private waiters = new Set<() => void>();

  constructor(readonly opts: TermClientOptions) {
    const protocols = [SUBPROTOCOL, ...(opts.token !== undefined ? [TOKEN_PROTOCOL_PREFIX + opts.token] : [])];
    const headers: Record<string, string> = {};
    if (opts.cookie) headers.cookie = opts.cookie;
    this.ws = new WebSocket(opts.url, protocols, { origin: opts.origin, headers });
    this.ws.binaryType = 'nodebuffer';
    this.ws.on('message', (d: Buffer) => this.onFrame(d));
    this.ws.on('close', (code, reason) => { this.closed = { code, reason: reason.toString() }; this.notify(); });
    this.ws.on('error', () => this.notify());
  }

  /** Resolves once open; rejects with the HTTP status when the upgrade is refused. */
  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.ws.readyState === WebSocket.OPEN) return resolve();
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
      this.ws.once('error', reject);
    });
  }

  private onFrame(d: Buffer) {
    const f = parseServerFrame(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    if (f.type === 'snapshot') {
      this.snapshots.push(f.data);
      this.term.reset();
      this.term.write(f.data, () => this.notify());
    } else if (f.type === 'output') {
      const n = f.data.length;
      this.outputBytes += n;
      this.term.write(f.data, () => {
        if (this.opts.noAck) return this.notify();
        this.unacked += n;
        if (this.unacked >= FLOW.ACK_BYTES) {
          this.send(ackFrame(this.unacked));
          this.unacked = 0;
        }
        this.notify();
      });
    } else {
      this.exit = { code: f.code, reason: f.reason };
      this.notify();
    }
  }

  private notify() { for (const w of [...this.waiters]) w(); }

  send(b: Uint8Array) { if (this.ws.readyState === WebSocket.OPEN) this.ws.send(b); }
  type(s: string) { this.send(inputFrame(s)); }
  resize(cols: number, rows: number) { this.term.resize(cols, rows); this.send(resizeFrame(cols, rows)); }

  /** The screen (and scrollback) as text, one line per row, trailing blanks trimmed. */
  text(): string {
    const b = this.term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? '');
    return lines.join('\n').replace(/\n+$/, '');
  }

  /** Waits until `cond` holds (checked on every frame), or fails after timeoutMs naming what it waited for. */
  until(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (cond()) { done(); resolve(); }
      };
      const timer = setTimeout(() => { done(); reject(new Error(`timed out waiting for ${what}; screen:\n${this.text().slice(-1500)}`)); }, timeoutMs);
      const done = () => { clearTimeout(timer); this.waiters.delete(check); };
      this.waiters.add(check);
      check();
    });
  }

  /** The last n lines of the buffer (cheap enough to check on every frame during a flood). */
  tail(n = 50): string {
    const b = this.term.buffer.active;
    const lines: string[] = [];
    for (let i = Math.max(0, b.length - n); i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? '');
    return lines.join('\n').replace(/\n+$/, '');
  }

  untilTail(re: RegExp, timeoutMs?: number) { return this.until(() => re.test(this.tail()), `recent lines to match ${re}`, timeoutMs); }

  untilText(re: RegExp, timeoutMs?: number) { return this.until(() => re.test(this.text()), `screen to match ${re}`, timeoutMs); }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}
