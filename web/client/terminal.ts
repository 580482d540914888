import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import {
  C2S, CLOSE, FLOW, LIMITS, SUBPROTOCOL, TOKEN_PROTOCOL_PREFIX, ackFrame, inputFrame, parseServerFrame, resizeFrame,
} from '../../server/terminal/protocol.ts';

// One browser terminal bound to one shell in the lab, through the relay's WebSocket. Acknowledges output
// once xterm.js has parsed it (flow control), restores the screen from the server's snapshot on every
// (re)connect, and never sends anything but keystrokes, pastes, resizes and acks.

export type TermStatus = 'connecting' | 'connected' | 'reconnecting' | 'ended' | 'failed';

export interface RelayTerminalOptions {
  lab: string;
  target: string;
  token: string;
  /** A trainer watching: the read-only path, no keystrokes or sizes sent (the relay drops them anyway). */
  readOnly?: boolean;
  onStatus?: (s: TermStatus, detail?: string) => void;
}

const enc = new TextEncoder();

export class RelayTerminal {
  readonly term: Terminal;
  private readonly fit = new FitAddon();
  private ws: WebSocket | null = null;
  private unacked = 0;
  private attempts = 0;
  private retryTimer: number | undefined;
  private disposed = false;
  status: TermStatus = 'connecting';
  /** Bytes of OUTPUT parsed by xterm since the page loaded (benchmarks read it). */
  parsedBytes = 0;

  constructor(readonly el: HTMLElement, readonly opts: RelayTerminalOptions) {
    this.term = new Terminal({
      cursorBlink: true,
      fontFamily: '"JetBrains Mono", "DejaVu Sans Mono", "Menlo", "Consolas", monospace',
      fontSize: 14,
      lineHeight: 1.15,
      scrollback: 5000,
      allowProposedApi: true,
      disableStdin: !!opts.readOnly,
      theme: {
        background: '#0f1420', foreground: '#d7dde8', cursor: '#7cc4ff', selectionBackground: '#33507a',
        black: '#1b2230', red: '#ff7b72', green: '#7ee787', yellow: '#e3b341', blue: '#79c0ff', magenta: '#d2a8ff', cyan: '#76e3ea', white: '#d7dde8',
        brightBlack: '#6e7681', brightRed: '#ffa198', brightGreen: '#aff5b4', brightYellow: '#f0d77a', brightBlue: '#a5d6ff', brightMagenta: '#e2c5ff', brightCyan: '#b3f0ff', brightWhite: '#ffffff',
      },
    });
    this.term.loadAddon(this.fit);
    this.term.open(el);
    this.term.attachCustomKeyEventHandler((e) => this.keys(e));
    this.term.onData((d) => this.sendInput(d));
    this.term.onBinary((d) => this.sendInput(d));
    this.term.onResize(({ cols, rows }) => this.send(resizeFrame(cols, rows)));
    new ResizeObserver(() => this.refit()).observe(el);
    this.refit();
    this.connect();
  }

  /** Copy and paste: Ctrl+Shift+C / Ctrl+Shift+V (Ctrl+C stays the interrupt). Cmd+C/V work natively on macOS. */
  private keys(e: KeyboardEvent): boolean {
    if (e.type !== 'keydown' || !e.ctrlKey || !e.shiftKey) return true;
    const k = e.key.toLowerCase();
    if (k === 'c') {
      const sel = this.term.getSelection();
      if (sel) void navigator.clipboard?.writeText(sel).catch(() => document.execCommand('copy'));
      e.preventDefault();
      return false;
    }
    if (k === 'v') {
      // Not handled as a key: the browser then delivers a paste event to xterm's textarea, which sends it
      // (as bracketed paste when the shell asked for it).
      return false;
    }
    return true;
  }

  refit() {
    if (this.el.offsetParent === null || this.el.clientWidth === 0) return;
    try { this.fit.fit(); } catch { /* not measurable yet */ }
  }

  private setStatus(s: TermStatus, detail?: string) {
    this.status = s;
    this.opts.onStatus?.(s, detail);
  }

  private sendInput(d: string) {
    const bytes = enc.encode(d);
    for (let i = 0; i < bytes.length; i += LIMITS.INPUT_CHUNK) {
      const chunk = bytes.subarray(i, i + LIMITS.INPUT_CHUNK);
      const f = new Uint8Array(chunk.length + 1);
      f[0] = inputFrame('')[0];
      f.set(chunk, 1);
      this.send(f);
    }
  }

  private send(f: Uint8Array) {
    if (this.opts.readOnly && f[0] !== C2S.ACK) return;
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(f as Uint8Array<ArrayBuffer>);
  }

  connect() {
    if (this.disposed) return;
    window.clearTimeout(this.retryTimer);
    this.ws?.close();
    this.unacked = 0;
    const { lab, target, token } = this.opts;
    const q = new URLSearchParams({ target, cols: String(this.term.cols), rows: String(this.term.rows) });
    const path = this.opts.readOnly ? `/api/trainer/labs/${lab}/terminal` : `/api/labs/${lab}/terminal`;
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}?${q}`;
    const ws = new WebSocket(url, this.opts.readOnly ? [SUBPROTOCOL] : [SUBPROTOCOL, TOKEN_PROTOCOL_PREFIX + token]);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.setStatus(this.attempts ? 'reconnecting' : 'connecting');
    let exit: string | null = null;
    ws.onopen = () => {
      this.attempts = 0;
      this.setStatus('connected');
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      const f = parseServerFrame(new Uint8Array(ev.data as ArrayBuffer));
      if (f.type === 'snapshot') {
        this.term.reset();
        this.term.write(f.data);
      } else if (f.type === 'output') {
        const n = f.data.length;
        this.term.write(f.data, () => {
          this.parsedBytes += n;
          this.unacked += n;
          if (this.unacked >= FLOW.ACK_BYTES && this.ws === ws) {
            this.send(ackFrame(this.unacked));
            this.unacked = 0;
          }
        });
      } else {
        exit = f.reason;
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws || this.disposed) return;
      this.ws = null;
      if ((ev.code === CLOSE.EXITED || exit) && this.opts.readOnly) {
        this.term.write(`\r\n\x1b[2m[${exit ?? ev.reason ?? 'the shell ended'}]\x1b[0m\r\n`);
        this.setStatus('ended', exit ?? ev.reason);
        return;
      }
      if (ev.code === CLOSE.EXITED || exit) {
        this.term.write(`\r\n\x1b[2m[${exit ?? ev.reason ?? 'shell ended'} — press Enter for a new shell]\x1b[0m\r\n`);
        this.setStatus('ended', exit ?? ev.reason);
        const sub = this.term.onData((d) => {
          if (d === '\r') { sub.dispose(); this.connect(); }
        });
        return;
      }
      if (ev.code === CLOSE.REVOKED) {
        // A watch whose access ended: reconnecting would be refused.
        this.term.write(`\r\n\x1b[2m[${ev.reason || 'you may no longer watch this terminal'}]\x1b[0m\r\n`);
        this.setStatus('ended', ev.reason);
        return;
      }
      if (ev.code === CLOSE.IDLE) {
        this.term.write('\r\n\x1b[2m[disconnected after a long idle time — press Enter to reconnect]\x1b[0m\r\n');
        this.setStatus('ended', 'idle');
        const sub = this.term.onData(() => { sub.dispose(); this.connect(); });
        return;
      }
      // Network drop or server restart: retry with backoff; the shell (and screen) are still there.
      this.attempts++;
      if (this.attempts > 8) { this.setStatus('failed', 'cannot reach the terminal'); return; }
      this.setStatus('reconnecting');
      this.retryTimer = window.setTimeout(() => this.connect(), Math.min(8000, 250 * 2 ** this.attempts));
    };
  }

  focus() { this.term.focus(); }

  /** Copies the selection (the page's Copy button); returns whether there was one. */
  async copySelection(): Promise<boolean> {
    const sel = this.term.getSelection();
    if (!sel) return false;
    await navigator.clipboard.writeText(sel);
    return true;
  }

  /** Pastes text as if typed (the page's Paste button). */
  paste(text: string) { this.term.paste(text); }

  dispose() {
    this.disposed = true;
    window.clearTimeout(this.retryTimer);
    this.ws?.close();
    this.term.dispose();
  }
}
