import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ShellSpec } from '../lab/types.ts';
import { LIMITS } from './protocol.ts';

// The HTTP process's handle on the pty host process (host-main.ts). Terminals are named by the caller
// (`<lab>:<target>`); connections by a per-WebSocket id. The child is started on first use and again
// after a crash; when it dies, every connection is closed and its shells are gone.

export type ToHost =
  | { t: 'open'; req: number; term: string; spec: ShellSpec; cols: number; rows: number }
  | { t: 'attach'; term: string; conn: string }
  | { t: 'in'; conn: string; data: Uint8Array }
  | { t: 'detach'; conn: string }
  | { t: 'kill'; req: number; term: string; prefix?: boolean; reason: string };

export type HostReply =
  | { t: 'ready' }
  | { t: 'reply'; req: number; error?: string }
  | { t: 'out'; conn: string; data: Uint8Array }
  | { t: 'close'; conn: string; code: number; reason: string }
  | { t: 'gone'; term: string; code: number; reason: string }
  | { t: 'command'; term: string; command: string; at: number };

/** Told of every command entered in any of the host's shells. */
export type CommandListener = (term: string, command: string, at: number) => void;

interface Conn { term: string; send: (d: Uint8Array) => void; close: (code: number, reason: string) => void }

function tsxLoader(): string {
  const pkg = createRequire(import.meta.url).resolve('tsx/package.json');
  return pathToFileURL(join(dirname(pkg), 'dist', 'loader.mjs')).href;
}

export class PtyHost {
  private child: ChildProcess | null = null;
  private readonly conns = new Map<string, Conn>();
  private readonly terms = new Set<string>();
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private readonly commandListeners = new Set<CommandListener>();
  private req = 0;
  private closed = false;

  private ensureChild(): ChildProcess {
    if (this.child) return this.child;
    if (this.closed) throw new Error('terminal host is stopped');
    const entry = fileURLToPath(new URL('./host-main.ts', import.meta.url));
    const child = fork(entry, [], {
      execArgv: ['--import', tsxLoader()],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', (m: HostReply) => this.onMessage(m));
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      const why = this.closed ? 'server stopped' : `terminal host exited (${signal ?? code})`;
      for (const w of this.waiting.values()) w.reject(new Error(why));
      this.waiting.clear();
      for (const c of this.conns.values()) c.close(1011, why);
      this.conns.clear();
      this.terms.clear();
    });
    this.child = child;
    return child;
  }

  private post(m: ToHost) {
    const child = this.child;
    if (child?.connected) child.send(m);
  }

  private onMessage(m: HostReply) {
    switch (m.t) {
      case 'reply': {
        const w = this.waiting.get(m.req);
        this.waiting.delete(m.req);
        if (m.error) w?.reject(new Error(m.error)); else w?.resolve();
        break;
      }
      case 'out':
        this.conns.get(m.conn)?.send(m.data);
        break;
      case 'close': {
        const c = this.conns.get(m.conn);
        this.conns.delete(m.conn);
        c?.close(m.code, m.reason);
        break;
      }
      case 'gone':
        this.terms.delete(m.term);
        break;
      case 'command':
        for (const l of this.commandListeners) {
          try { l(m.term, m.command, m.at); } catch (e) { console.error('netdojo: a command listener failed:', e); }
        }
        break;
    }
  }

  /** Starts the shell for `term` unless it already runs (a reconnect finds the same shell). */
  open(term: string, spec: () => ShellSpec, cols: number, rows: number): Promise<void> {
    const child = this.ensureChild();
    if (this.terms.has(term)) return Promise.resolve();
    const req = ++this.req;
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(req, { resolve: () => { this.terms.add(term); resolve(); }, reject });
      child.send({ t: 'open', req, term, spec: spec(), cols, rows } satisfies ToHost);
    });
  }

  attach(term: string, conn: string, send: Conn['send'], close: Conn['close']) {
    this.conns.set(conn, { term, send, close });
    this.post({ t: 'attach', term, conn });
  }

  input(conn: string, data: Uint8Array) {
    if (this.conns.has(conn)) this.post({ t: 'in', conn, data });
  }

  detach(conn: string) {
    if (this.conns.delete(conn)) this.post({ t: 'detach', conn });
  }

  /**
   * Ends one shell, or with prefix every shell whose name starts with `term` (all of a lab's).
   * Resolves once their processes have exited, so what they ran in can be torn down under nothing
   * still writing to it; a host that is not running has no shells to wait for.
   */
  kill(term: string, reason: string, prefix = false): Promise<void> {
    for (const t of [...this.terms]) if (t === term || (prefix && t.startsWith(term))) this.terms.delete(t);
    const child = this.child;
    if (!child?.connected) return Promise.resolve();
    const req = ++this.req;
    return new Promise<void>((resolve) => {
      // The host dying also ends its shells: either way they are gone. A shell that outlives even
      // SIGKILL (stuck in the kernel) must not hold up its lab's teardown for ever.
      const done = () => { clearTimeout(bound); this.waiting.delete(req); resolve(); };
      const bound = setTimeout(done, 2 * LIMITS.SHELL_EXIT_MS);
      bound.unref();
      this.waiting.set(req, { resolve: done, reject: done });
      child.send({ t: 'kill', req, term, prefix, reason } satisfies ToHost);
    });
  }

  has(term: string) { return this.terms.has(term); }

  /** Listens to the commands entered in the shells; returns the way to stop. */
  onCommand(l: CommandListener): () => void {
    this.commandListeners.add(l);
    return () => this.commandListeners.delete(l);
  }

  /** The pty host process's pid, when it runs. */
  get pid(): number | undefined { return this.child?.pid; }

  async dispose(): Promise<void> {
    this.closed = true;
    const child = this.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }
}
