import { Writable, PassThrough } from 'node:stream';
import { readFileSync } from 'node:fs';
import type { V1Status } from '@kubernetes/client-node';
// The exec machinery is imported from its own modules, not the package index: the index loads the
// HTTP client stack (undici 8, which needs Node >= 22.19), and exec needs none of it.
import { Exec } from '@kubernetes/client-node/dist/exec.js';
import { WebSocketHandler } from '@kubernetes/client-node/dist/web-socket-handler.js';
import WebSocket from 'ws';
import { parse as parseYaml } from 'yaml';
import type { ExecOptions, ExecResult } from '../../lab/types.ts';

// Exec into a pod through the API server (@kubernetes/client-node), hardened against its known
// failure modes (REFERENCE §3): the promise resolves when the socket opens, not when the command
// ends (#704); the status callback is not always called (#714); closing the socket does not kill the
// remote command (#2532). So:
//  - the result is decided when the socket closes, and only a V1Status on channel 3 gives an exit
//    code: no status (or an unreadable one) is an ERROR result (code null, `execError` set), never 0;
//  - a client-side deadline terminates the socket (even before it opened) and reports timedOut;
//  - callers that can (our own image has coreutils) also run the command under `timeout -s KILL`, so
//    the remote process dies too.

export interface PodExecResult extends ExecResult {
  /** Why the exec itself failed (no status, bad status, connection error): the grader's ERROR. */
  execError?: string;
  /** The V1Status received, when one was. */
  status?: V1Status;
}

export interface PodExecOptions extends ExecOptions {
  container?: string;
  /** For tests: how sockets are made (defaults to the `ws` package). */
  socketFactory?: (uri: string, protocols: string[], opts: WebSocket.ClientOptions) => WebSocket;
}

export const EXEC_STATUS_MISSING = 'exec ended without a status from the API server: the exit code is unknown';

/** Exit code carried by a V1Status, or an error saying why there is none. */
export function exitCodeFromStatus(status: unknown): { code: number } | { error: string } {
  if (!status || typeof status !== 'object') return { error: 'exec status is not an object' };
  const s = status as V1Status;
  if (s.status === 'Success') return { code: 0 };
  if (s.status !== 'Failure') return { error: `exec status has no outcome: ${JSON.stringify(status).slice(0, 200)}` };
  if (s.reason === 'NonZeroExitCode') {
    const cause = s.details?.causes?.find((c) => c.reason === 'ExitCode');
    const code = Number(cause?.message);
    if (cause && Number.isInteger(code) && code >= 0) return { code };
    return { error: `exec failed with a non-zero exit code the status does not give: ${s.message ?? ''}` };
  }
  // The command could not be started (runtime error, executable not found, container gone).
  if (/executable file not found|no such file or directory/i.test(s.message ?? '')) return { code: 127 };
  return { error: `exec failed: ${s.message ?? s.reason ?? 'unknown failure'}` };
}

class Collector extends Writable {
  chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void) {
    this.chunks.push(Buffer.from(chunk));
    cb();
  }
  text() {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

export async function podExec(kc: KubeAccess, namespace: string, pod: string, container: string, argv: string[], opts: PodExecOptions = {}): Promise<PodExecResult> {
  const started = performance.now();
  const stdout = new Collector();
  const stderr = new Collector();
  const stdin = opts.stdin !== undefined ? new PassThrough() : null;
  let socket: WebSocket | undefined;
  let status: unknown;
  let statusSeen = false;
  let protocolError: string | undefined;

  const factory = (uri: string, protocols: string[], wsOpts: WebSocket.ClientOptions) => {
    const ws = opts.socketFactory ? opts.socketFactory(uri, protocols, wsOpts) : new WebSocket(uri, protocols, wsOpts);
    socket = ws;
    return ws;
  };
  const handler = new WebSocketHandler(kc as never, factory as never, { stdin: stdin ?? new PassThrough(), stdout, stderr });
  // Wrap the frame handler: a malformed status frame throws inside client-node's message listener.
  const guarded = {
    connect: (path: string, text: ((t: string) => boolean) | null, binary: ((n: number, b: Buffer) => boolean) | null) =>
      handler.connect(path, text, binary && ((n: number, b: Buffer) => {
        try {
          return binary(n, b);
        } catch (e) {
          protocolError = n === WebSocketHandler.StatusStream ? `unreadable exec status: ${(e as Error).message}` : `exec stream error: ${(e as Error).message}`;
          return false;
        }
      })),
  };
  const exec = new Exec(kc as never, guarded as never);

  return await new Promise<PodExecResult>((resolve) => {
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (r: Partial<PodExecResult>) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      try {
        socket?.terminate();
      } catch {
        /* closed */
      }
      resolve({
        code: null, stdout: stdout.text(), stderr: stderr.text(), timedOut: false,
        ms: Math.round(performance.now() - started), ...r,
      });
    };
    if (opts.timeoutMs) timer = setTimeout(() => finish({ timedOut: true }), opts.timeoutMs);

    const settle = () => {
      // Frames already received are handled synchronously before 'close'; give the streams a turn.
      setImmediate(() => {
        if (protocolError) return finish({ execError: protocolError, stderr: stderr.text() + `netdojo: ${protocolError}\n` });
        if (!statusSeen) return finish({ execError: EXEC_STATUS_MISSING, stderr: stderr.text() + `netdojo: ${EXEC_STATUS_MISSING}\n` });
        const c = exitCodeFromStatus(status);
        if ('error' in c) return finish({ execError: c.error, status: status as V1Status, stderr: stderr.text() + `netdojo: ${c.error}\n` });
        finish({ code: c.code, status: status as V1Status });
      });
    };

    exec
      .exec(namespace, pod, container, argv, stdout, stderr, stdin, false, (s) => {
        statusSeen = true;
        status = s;
      })
      .then((ws) => {
        if (done) {
          ws.terminate();
          return;
        }
        ws.on('close', settle);
        ws.on('error', (e) => {
          protocolError ??= `exec connection error: ${e.message}`;
        });
        if (ws.readyState === WebSocket.CLOSED) settle();
        if (stdin) {
          if (!WebSocketHandler.supportsClose(ws.protocol)) {
            // Without v5.channel.k8s.io, ending stdin closes the whole socket: the command would
            // be cut off. Refuse rather than guess.
            finish({ execError: `the API server does not offer v5.channel.k8s.io (got "${ws.protocol}"): stdin cannot be closed` });
            return;
          }
          stdin.end(opts.stdin);
        }
      })
      .catch((e: unknown) => {
        const msg = (e as { message?: string })?.message ?? String(e);
        finish({ execError: `exec could not connect: ${msg}`, stderr: stderr.text() + `netdojo: exec could not connect: ${msg}\n` });
      });
  });
}

/**
 * What client-node's WebSocketHandler uses of a KubeConfig: the current cluster's server and the TLS
 * options (CA, client certificate and key, bearer token). A client-node KubeConfig satisfies it too.
 */
export interface KubeAccess {
  getCurrentCluster(): { server: string } | null;
  applyToHTTPSOptions(opts: WebSocket.ClientOptions): Promise<void>;
}

const b64 = (s: string) => Buffer.from(s, 'base64');

/**
 * Reads a lab's own kubeconfig file (never the user's default): the current context's cluster and
 * user, with inline (`*-data`, as kind writes them) or file credentials.
 */
export function kubeAccessFromFile(file: string): KubeAccess {
  const doc = parseYaml(readFileSync(file, 'utf8')) as {
    'current-context'?: string;
    contexts?: { name: string; context: { cluster: string; user: string } }[];
    clusters?: { name: string; cluster: { server: string; 'certificate-authority-data'?: string; 'certificate-authority'?: string; 'insecure-skip-tls-verify'?: boolean } }[];
    users?: { name: string; user: { 'client-certificate-data'?: string; 'client-key-data'?: string; 'client-certificate'?: string; 'client-key'?: string; token?: string } }[];
  };
  const ctx = doc.contexts?.find((c) => c.name === doc['current-context']) ?? doc.contexts?.[0];
  if (!ctx) throw new Error(`${file}: no context`);
  const cluster = doc.clusters?.find((c) => c.name === ctx.context.cluster)?.cluster;
  if (!cluster?.server) throw new Error(`${file}: context ${ctx.name} names no cluster with a server`);
  const user = doc.users?.find((u) => u.name === ctx.context.user)?.user ?? {};
  return {
    getCurrentCluster: () => ({ server: cluster.server }),
    async applyToHTTPSOptions(opts) {
      const ca = cluster['certificate-authority-data'] ? b64(cluster['certificate-authority-data']) : cluster['certificate-authority'] ? readFileSync(cluster['certificate-authority']) : undefined;
      if (ca) opts.ca = ca;
      if (cluster['insecure-skip-tls-verify']) opts.rejectUnauthorized = false;
      const cert = user['client-certificate-data'] ? b64(user['client-certificate-data']) : user['client-certificate'] ? readFileSync(user['client-certificate']) : undefined;
      const key = user['client-key-data'] ? b64(user['client-key-data']) : user['client-key'] ? readFileSync(user['client-key']) : undefined;
      if (cert) opts.cert = cert;
      if (key) opts.key = key;
      if (user.token) opts.headers = { ...opts.headers, Authorization: `Bearer ${user.token}` };
    },
  };
}
