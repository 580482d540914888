import headless from '@xterm/headless';
import serialize from '@xterm/addon-serialize';
import pty from '@lydell/node-pty';
import type { ShellSpec } from '../lab/types.ts';
import { commandOnLine } from './commands.ts';
import { FLOW, LIMITS, S2C, exitFrame, frame, parseClientFrame } from './protocol.ts';

// One shell in a pty, mirrored into a headless xterm so that a (re)connecting client gets the screen back
// as a SNAPSHOT. Runs inside the pty host process. Every resource it holds (pty, headless terminal,
// timers, clients) is released by dispose(), the only teardown path, whatever the reason.

export type Send = (frame: Uint8Array) => void;
export type Close = (code: number, reason: string) => void;

interface Client {
  send: Send;
  close: Close;
  /** OUTPUT bytes sent and not yet acknowledged. */
  unacked: number;
  /** Output produced while the snapshot is being taken; flushed right after it. */
  pending: Uint8Array[] | null;
}

export interface SessionEvents {
  /** The session is gone (shell exited, killed, idle): the host forgets it. */
  onDispose(code: number, reason: string): void;
  /** A command was entered at a prompt (read off the screen: server/terminal/commands.ts). */
  onCommand?(command: string, at: number): void;
}

export class TermSession {
  private readonly pty: pty.IPty;
  private readonly term: headless.Terminal;
  private readonly ser: serialize.SerializeAddon;
  private readonly clients = new Map<string, Client>();
  private readonly pauses = new Set<string>();
  private headlessPending = 0;
  private outBuf: string[] = [];
  private outLen = 0;
  private flushScheduled = false;
  private lastFlush = 0;
  private lastFlushBytes = 0;
  private detachedTimer: NodeJS.Timeout | null = null;
  private disposed = false;
  private markExited!: () => void;
  /**
   * Settles once the shell's process has exited. Disposing only signals it (SIGHUP), and a shell
   * hung up on still runs for a moment: bash writes its history file on the way out.
   */
  readonly exited = new Promise<void>((resolve) => { this.markExited = resolve; });
  /**
   * The screen line Enter was last pressed on, until the cursor leaves it (the shell took the line),
   * with its text as last seen: `clear` erases the line before the cursor moves on.
   */
  private entered: { line: headless.IMarker; at: number; text: string } | null = null;

  constructor(readonly id: string, spec: ShellSpec, cols: number, rows: number, private readonly events: SessionEvents) {
    this.term = new headless.Terminal({ cols, rows, scrollback: LIMITS.SCROLLBACK, allowProposedApi: true });
    this.ser = new serialize.SerializeAddon();
    this.term.loadAddon(this.ser as unknown as headless.ITerminalAddon);
    this.pty = pty.spawn(spec.file, spec.args, {
      name: 'xterm-256color', cols, rows, env: { TERM: 'xterm-256color', LANG: 'C.UTF-8', ...spec.env },
    });
    this.pty.onData((d) => this.onOutput(d));
    this.pty.onExit(({ exitCode, signal }) => {
      this.markExited();
      this.flush();
      this.dispose(exitCode ?? 0, signal ? `shell ended by signal ${signal}` : `shell exited with code ${exitCode}`);
    });
    this.armDetachedTimer();
  }

  get clientCount() { return this.clients.size; }

  private onOutput(d: string) {
    this.outBuf.push(d);
    this.outLen += d.length;
    if (this.outLen >= LIMITS.OUTPUT_FRAME_MAX) this.flush();
    else if (!this.flushScheduled) {
      // Small output (echoes, prompts) goes out at once; during a burst (the last frame was large and
      // recent) output is coalesced for a few ms into larger frames: fewer IPC messages, WebSocket
      // frames and xterm writes.
      this.flushScheduled = true;
      const burst = this.lastFlushBytes >= LIMITS.OUTPUT_BURST_BYTES && performance.now() - this.lastFlush < LIMITS.OUTPUT_COALESCE_MS;
      if (burst) setTimeout(() => this.flush(), LIMITS.OUTPUT_COALESCE_MS);
      else setImmediate(() => this.flush());
    }
  }

  /** Sends what the pty produced: first into the mirror (so a later snapshot has it), then to clients. */
  private flush() {
    this.flushScheduled = false;
    if (this.outLen === 0 || this.disposed) return;
    this.lastFlush = performance.now();
    this.lastFlushBytes = this.outLen;
    const text = this.outBuf.join('');
    this.outBuf = [];
    this.outLen = 0;
    // The headless mirror parses in large chunks (cheaper than per pty read) and has its own watermark.
    const n = text.length;
    this.headlessPending += n;
    if (this.headlessPending > FLOW.HEADLESS_HIGH_WATERMARK) this.pause('headless');
    this.term.write(text, () => {
      this.headlessPending -= n;
      if (this.headlessPending < FLOW.HEADLESS_LOW_WATERMARK) this.resume('headless');
      if (this.entered && this.cursorLeft(this.entered.line)) this.takeCommand();
      else if (this.entered) this.entered.text = this.lineText(this.entered.line);
    });
    const data = new TextEncoder().encode(text);
    for (const [cid, c] of this.clients) {
      if (c.pending) { c.pending.push(data); continue; }
      this.sendOutput(cid, c, data);
    }
  }

  private sendOutput(cid: string, c: Client, data: Uint8Array) {
    c.unacked += data.length;
    c.send(frame(S2C.OUTPUT, data));
    if (c.unacked > FLOW.HIGH_WATERMARK) this.pause(`client:${cid}`);
  }

  private pause(reason: string) {
    if (this.disposed) return;
    if (this.pauses.size === 0) this.pty.pause();
    this.pauses.add(reason);
  }

  private resume(reason: string) {
    if (!this.pauses.delete(reason) || this.disposed) return;
    if (this.pauses.size === 0) this.pty.resume();
  }

  /** A client connects: it gets the current screen as one SNAPSHOT, then live OUTPUT. */
  attach(cid: string, send: Send, close: Close) {
    if (this.disposed) { close(4001, 'shell is gone'); return; }
    // Output not yet flushed goes to the mirror (and to the clients already attached) first: it will be
    // in the snapshot, so the new client must not also get it as live output.
    this.flush();
    const c: Client = { send, close, unacked: 0, pending: [] };
    this.clients.set(cid, c);
    this.armDetachedTimer();
    // Everything written to the headless terminal before this marker is in the snapshot; everything after
    // it is queued in `pending` (flush() writes to the mirror before it fans out) and sent after it.
    this.term.write('', () => {
      if (this.disposed || this.clients.get(cid) !== c) return;
      const snap = this.ser.serialize({ scrollback: LIMITS.SCROLLBACK });
      c.send(frame(S2C.SNAPSHOT, snap));
      const queued = c.pending ?? [];
      c.pending = null;
      for (const d of queued) this.sendOutput(cid, c, d);
    });
  }

  detach(cid: string) {
    if (!this.clients.delete(cid)) return;
    this.resume(`client:${cid}`);
    this.armDetachedTimer();
  }

  /** A raw frame from a client. Throws on a malformed frame (the caller closes that connection). */
  handle(cid: string, buf: Uint8Array) {
    const c = this.clients.get(cid);
    if (!c || this.disposed) return;
    const f = parseClientFrame(buf);
    if (f.type === 'input') {
      const text = Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength).toString('utf8');
      if (text.includes('\r')) this.markEnter();
      this.pty.write(text);
    } else if (f.type === 'resize') {
      this.pty.resize(f.cols, f.rows);
      this.term.resize(f.cols, f.rows);
    } else {
      c.unacked = Math.max(0, c.unacked - f.bytes);
      if (c.unacked < FLOW.LOW_WATERMARK) this.resume(`client:${cid}`);
    }
  }

  /**
   * Enter was pressed: once the mirror has parsed what the pty sent so far, the cursor's line is the
   * one the shell is about to take. A marker follows that line as the screen scrolls. Full-screen
   * programs (vim, less, top) run on the alternate screen, where Enter is no command.
   */
  private markEnter() {
    const at = Date.now();
    this.term.write('', () => {
      if (this.disposed || this.term.buffer.active.type !== 'normal') return;
      if (this.entered) this.takeCommand();
      const line = this.term.registerMarker(0);
      if (line) this.entered = { line, at, text: this.lineText(line) };
    });
  }

  /** The cursor is past the entered line and the rows it wraps onto: the shell echoed the newline. */
  private cursorLeft(line: headless.IMarker): boolean {
    const buf = this.term.buffer.active;
    const row = buf.baseY + buf.cursorY;
    return line.isDisposed || (row > line.line && !buf.getLine(row)?.isWrapped);
  }

  /** The logical line a marker is on: a long command wraps onto the rows below (each full row keeps its trailing blanks). */
  private lineText(line: headless.IMarker): string {
    if (line.isDisposed) return '';
    const buf = this.term.buffer.normal;
    let first = line.line;
    while (first > 0 && buf.getLine(first)?.isWrapped) first--;
    let text = buf.getLine(first)?.translateToString(false) ?? '';
    for (let r = first + 1; buf.getLine(r)?.isWrapped; r++) text += buf.getLine(r)!.translateToString(false);
    return text.trimEnd();
  }

  private takeCommand() {
    const { line, at, text } = this.entered!;
    this.entered = null;
    const command = commandOnLine(this.lineText(line)) ?? commandOnLine(text);
    line.dispose();
    if (command) this.events.onCommand?.(command, at);
  }

  private armDetachedTimer() {
    if (this.detachedTimer) clearTimeout(this.detachedTimer);
    this.detachedTimer = null;
    if (this.clients.size === 0 && !this.disposed) {
      this.detachedTimer = setTimeout(() => this.dispose(0, 'nobody was connected'), LIMITS.DETACHED_SHELL_MS);
      this.detachedTimer.unref();
    }
  }

  /** The one teardown path: clients told and closed, pty killed, mirror released, host notified. */
  dispose(code = 0, reason = 'closed') {
    if (this.disposed) return;
    this.disposed = true;
    if (this.detachedTimer) clearTimeout(this.detachedTimer);
    for (const c of this.clients.values()) {
      try { c.send(exitFrame(code, reason)); c.close(4001, reason.slice(0, 100)); } catch { /* client already gone */ }
    }
    this.clients.clear();
    try { this.pty.kill(); } catch { /* already exited */ }
    // A shell that ignores SIGHUP (`trap '' HUP`) does not outlive its terminal.
    const stubborn = setTimeout(() => { try { this.pty.kill('SIGKILL'); } catch { /* exited meanwhile */ } }, LIMITS.SHELL_EXIT_MS);
    stubborn.unref();
    void this.exited.then(() => clearTimeout(stubborn));
    this.term.dispose();
    this.events.onDispose(code, reason);
  }
}
