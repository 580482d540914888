// The pty host process (as in VS Code): owns every pty and its headless mirror, apart from the HTTP
// process, so a flood of terminal output or a native-addon crash never stalls or kills the web server.
// Talks to host.ts over Node IPC (advanced serialization, so frames travel as bytes).
import type { ShellSpec } from '../lab/types.ts';
import { TermSession } from './session.ts';
import type { HostReply, ToHost } from './host.ts';

const sessions = new Map<string, TermSession>();
const conns = new Map<string, string>();

function post(m: HostReply) {
  if (process.connected) process.send!(m);
}

function open(term: string, spec: ShellSpec, cols: number, rows: number) {
  if (sessions.has(term)) return;
  const s = new TermSession(term, spec, cols, rows, {
    onDispose: (code, reason) => {
      sessions.delete(term);
      for (const [cid, t] of conns) if (t === term) conns.delete(cid);
      post({ t: 'gone', term, code, reason });
    },
    onCommand: (command, at) => post({ t: 'command', term, command, at }),
  });
  sessions.set(term, s);
}

process.on('message', (m: ToHost) => {
  try {
    switch (m.t) {
      case 'open':
        open(m.term, m.spec, m.cols, m.rows);
        post({ t: 'reply', req: m.req });
        break;
      case 'attach': {
        const s = sessions.get(m.term);
        if (!s) { post({ t: 'close', conn: m.conn, code: 4001, reason: 'shell is gone' }); break; }
        conns.set(m.conn, m.term);
        s.attach(m.conn, (data) => post({ t: 'out', conn: m.conn, data }),
          (code, reason) => post({ t: 'close', conn: m.conn, code, reason }));
        break;
      }
      case 'in': {
        const s = sessions.get(conns.get(m.conn) ?? '');
        if (!s) break;
        try {
          s.handle(m.conn, m.data);
        } catch (e) {
          s.detach(m.conn);
          conns.delete(m.conn);
          post({ t: 'close', conn: m.conn, code: 4003, reason: (e as Error).message.slice(0, 100) });
        }
        break;
      }
      case 'detach':
        sessions.get(conns.get(m.conn) ?? '')?.detach(m.conn);
        conns.delete(m.conn);
        break;
      case 'kill': {
        const ending = [...sessions].filter(([term]) => term === m.term || (m.prefix && term.startsWith(m.term))).map(([, s]) => s);
        for (const s of ending) s.dispose(0, m.reason);
        // Replied once every one has exited: a session sends SIGKILL after LIMITS.SHELL_EXIT_MS.
        void Promise.all(ending.map((s) => s.exited)).then(() => post({ t: 'reply', req: m.req }));
        break;
      }
    }
  } catch (e) {
    if ('req' in m) post({ t: 'reply', req: m.req, error: (e as Error).message });
    else console.error('pty host:', e);
  }
});

function shutdown() {
  for (const s of [...sessions.values()]) s.dispose(0, 'server stopped');
  process.exit(0);
}
// The HTTP process went away (crash or stop): take every shell with us.
process.on('disconnect', shutdown);
process.on('SIGTERM', shutdown);
post({ t: 'ready' });
