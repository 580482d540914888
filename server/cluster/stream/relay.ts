// Connections into a lab, made by a small program run where a launch prefix enters (exec's entry
// into a pod's namespaces, or a node's network namespace): what port-forward relays to a pod's
// localhost, and what the API server's proxy dials to a pod's address. Each is one process whose
// stdin and stdout are the connection.

import { spawn } from 'node:child_process';
import type { LaunchSpec } from './exec.ts';

/** A connection into the lab (to a port of a pod). */
export interface PodConnection {
  /** false: the pod is behind; wait for onDrain. */
  write(data: Buffer): boolean;
  onDrain(cb: () => void): void;
  /** The client will send no more (half-close towards the pod). */
  end(): void;
  onData(cb: (data: Buffer) => void): void;
  pause(): void;
  resume(): void;
  /** Abandons the connection. */
  close(): void;
  /** Settles when the connection is over: undefined, or why it failed, in the runtime's words. */
  done: Promise<string | undefined>;
}

/** Connects to `port` (argv 1) as containerd's portForward does (tcp4 localhost, then tcp6), or to
 *  the address in argv 2 as the API server's proxy dials, then relays stdin to the connection and
 *  the connection to stdout, half-closing each way. A failure prints Go's words for it (containerd's
 *  "IPv4: … IPv6 …" for localhost); the exit status is 1. */
const RELAY = String.raw`
import os, socket, sys, threading
port = int(sys.argv[1])
targets = ((socket.AF_INET, sys.argv[2], 'tcp ' + sys.argv[2]),) if len(sys.argv) > 2 else ((socket.AF_INET, '127.0.0.1', 'tcp4 127.0.0.1'), (socket.AF_INET6, '::1', 'tcp6 [::1]'))
errors = []
conn = None
for family, host, name in targets:
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.connect((host, port))
        conn = s
        break
    except OSError as e:
        s.close()
        why = os.strerror(e.errno) if e.errno else str(e)
        errors.append('dial %s:%d: connect: %s' % (name, port, why[:1].lower() + why[1:]))
if conn is None:
    sys.stderr.write('IPv4: %s IPv6 %s ' % (errors[0], errors[1]) if len(errors) == 2 else errors[0])
    sys.exit(1)
def upstream():
    try:
        while True:
            b = os.read(0, 65536)
            if not b:
                break
            conn.sendall(b)
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass
threading.Thread(target=upstream, daemon=True).start()
try:
    while True:
        b = conn.recv(65536)
        if not b:
            break
        while b:
            b = b[os.write(1, b):]
except OSError:
    pass
`;

/** Connects to a port of a pod. */
export type Dial = (port: number) => PodConnection;

/** A Dial that runs the relay under `launch` (its argv prefix enters the pod's namespaces) to the
 *  pod's localhost, as port-forward connects; `netns` names the pod's network namespace in the
 *  runtime's failure message. */
export function relayToLocalhost(launch: LaunchSpec, netns: { path: string; sandbox: string }): Dial {
  return (port) => relay(launch, [String(port)], (failure) => {
    const why = failure.startsWith('IPv4: ') ? `failed to connect to localhost:${port} inside namespace "${netns.sandbox}", ${failure}` : failure;
    return `failed to execute portforward in network namespace "${netns.path}": ${why}`;
  });
}

/** A connection to `address:port` made from where `launch` enters (a node's network namespace, for
 *  the API server's proxy); a failure is Go's dial error ("dial tcp 10.244.1.3:81: connect: …"). */
export function relayTo(launch: LaunchSpec, address: string, port: number): PodConnection {
  return relay(launch, [String(port), address], (failure) => failure);
}

function relay(launch: LaunchSpec, args: string[], describe: (failure: string) => string): PodConnection {
  const [file, ...rest] = [...launch.argv, 'python3', '-c', RELAY, ...args];
  const child = spawn(file, rest, { env: launch.env ?? process.env, cwd: launch.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let abandoned = false;
  child.stderr.on('data', (d: Buffer) => { if (stderr.length < 4096) stderr += d.toString(); });
  child.stdin.on('error', () => {}); // EPIPE once the relay has exited
  const done = new Promise<string | undefined>((resolve) => {
    child.once('error', (e) => resolve(describe(e.message)));
    child.once('close', (code) => {
      if (abandoned || code === 0) { resolve(undefined); return; }
      resolve(describe(stderr.startsWith('IPv4: ') ? stderr : stderr.trim() || `exit status ${code}`));
    });
  });
  return {
    write: (data) => child.stdin.write(data),
    onDrain: (cb) => child.stdin.once('drain', cb),
    end: () => child.stdin.end(),
    onData: (cb) => child.stdout.on('data', cb),
    pause: () => child.stdout.pause(),
    resume: () => child.stdout.resume(),
    close: () => { abandoned = true; child.kill('SIGKILL'); },
    done,
  };
}
