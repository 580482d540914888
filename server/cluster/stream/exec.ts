// pods/exec and pods/attach as the API server serves them to kubectl 1.30+: a WebSocket upgrade with
// the channel subprotocol `v5.channel.k8s.io` (v4 also accepted), each binary message prefixed by
// its channel byte: 0 stdin, 1 stdout, 2 stderr, 3 status (a metav1.Status, then the end), 4 resize
// (`{"Width":80,"Height":24}` JSON objects), and in v5 only 255 = "close channel N" (`[255, N]`,
// how the client says stdin reached EOF). Older clients speak SPDY (POST + `Upgrade: SPDY/3.1`);
// they get a metav1.Status over plain HTTP saying so.
//
// What a process is stays with the caller (a Spawn); `localSpawn` runs argv on this host.

import { randomBytes } from 'node:crypto';
import { spawn as spawnChild } from 'node:child_process';
import { stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import pty from '@lydell/node-pty';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { ApiError, badRequest } from '../object.ts';

export interface ExecRequest {
  namespace: string;
  pod: string;
  container: string;
  /** Empty for attach. */
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

export interface TerminalSize { cols: number; rows: number }

export interface ProcessExit { code: number | null; signal?: NodeJS.Signals; error?: string }

export interface StreamProcess {
  /** stdin */
  write(data: Buffer): void;
  end(): void;
  /** stdout/stderr; with a tty everything arrives on 1. */
  onData(cb: (channel: 1 | 2, data: Buffer) => void): void;
  resize(size: TerminalSize): void;
  /** Flow control: stop/restart reading the process's output while the client is behind. */
  pause(): void;
  resume(): void;
  kill(): void;
  /** Resolves once the process has exited and all its output has been delivered to onData. */
  exited: Promise<ProcessExit>;
}

/** Starts the process for an exec (or attaches to the container's one); rejects when it cannot start,
 *  with the runtime's message (it becomes an InternalError status, as the kubelet reports it). */
export type Spawn = (req: ExecRequest, size?: TerminalSize) => Promise<StreamProcess>;

export const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, status: 3, resize: 4, close: 255 } as const;
const V5 = 'v5.channel.k8s.io';
const V4 = 'v4.channel.k8s.io';
/** In the order we prefer them; the client's order decides, as in wsstream's handshake. */
const PROTOCOLS = [V5, V4];

// --- the query -------------------------------------------------------------------------------

/** Query booleans as the API server converts them: absent, "0" or "false" (any case) is false,
 *  anything else (even an empty value) is true. */
export const queryBool = (q: URLSearchParams, name: string) => {
  const v = q.get(name);
  return v !== null && v !== '0' && v.toLowerCase() !== 'false';
};

/** Parses the exec/attach query (repeated `command`); throws ApiError 400 on bad input. */
export function parseExecQuery(q: URLSearchParams, namespace: string, pod: string, defaultContainer: string): ExecRequest {
  const tty = queryBool(q, 'tty');
  const req: ExecRequest = {
    namespace, pod,
    container: q.get('container') || defaultContainer,
    command: q.getAll('command'),
    stdin: queryBool(q, 'stdin'),
    stdout: queryBool(q, 'stdout'),
    // The kubelet drops stderr under a tty ("bypassing stderr"): the terminal carries both.
    stderr: queryBool(q, 'stderr') && !tty,
    tty,
  };
  if (!req.stdin && !req.stdout && !req.stderr) throw badRequest('you must specify at least 1 of stdin, stdout, stderr');
  return req;
}

// --- statuses on channel 3 ---------------------------------------------------------------------

/** The metav1.Status written on the status channel; marshalled like Go does (no kind/apiVersion,
 *  `code` only when set). */
interface ChannelStatus {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes: { reason?: string; message: string }[] };
  code?: number;
}

const success = (): ChannelStatus => ({ metadata: {}, status: 'Success' });

/** The runtime's exit code, as the API server's stream translator relays it (client-go turns it
 *  into "command terminated with exit code N" and kubectl exits with N). */
const nonZeroExit = (code: number): ChannelStatus => ({
  metadata: {}, status: 'Failure',
  message: `command terminated with non-zero exit code: command terminated with exit code ${code}`,
  reason: 'NonZeroExitCode',
  details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
});

/** apierrors.NewInternalError(err). */
const internalError = (err: string): ChannelStatus => ({
  metadata: {}, status: 'Failure',
  message: `Internal error occurred: ${err}`,
  reason: 'InternalError',
  details: { causes: [{ message: err }] },
  code: 500,
});

/** A failure to run the command: the kubelet wraps the runtime's error in an InternalError, which
 *  the API server's translator (a client of the kubelet) wraps once more, so kubectl prints
 *  "error: Internal error occurred: Internal error occurred: error executing command in container: …". */
const streamFailure = (attach: boolean, err: string) =>
  internalError(internalError(`${attach ? 'error attaching to container' : 'error executing command in container'}: ${err}`).message!);

function exitStatus(attach: boolean, exit: ProcessExit): ChannelStatus {
  if (exit.error !== undefined) return streamFailure(attach, exit.error);
  // Attach ends when the container's streams end: the kubelet reports Success whatever the exit code.
  if (attach) return success();
  // Killed by a signal: the runtime reports 128 + signal number, as a shell would.
  const code = exit.code ?? 128 + (exit.signal ? osConstants.signals[exit.signal] ?? 0 : 0);
  return code === 0 ? success() : nonZeroExit(code);
}

// --- the upgrade -------------------------------------------------------------------------------

const wss = new WebSocketServer({
  noServer: true, clientTracking: false, perMessageDeflate: false,
  handleProtocols: (offered) => [...offered].find((p) => PROTOCOLS.includes(p)) ?? false,
});

/** Answers a non-upgraded request on the raw socket with a metav1.Status. */
export function rejectUpgrade(socket: Duplex, err: ApiError) {
  const body = JSON.stringify(err.toStatus());
  socket.end(`HTTP/1.1 ${err.code} ${err.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** The values of a comma-separated request header (Sec-WebSocket-Protocol, X-Stream-Protocol-Version). */
export const headerList = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(',') : v ?? '').split(',').map((p) => p.trim()).filter(Boolean);

/** Handles the HTTP upgrade of pods/exec or pods/attach (which one: the request path's last
 *  segment). A request that is not a v4/v5 channel WebSocket gets a metav1.Status error. */
export function handleStreamUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, exec: ExecRequest, spawn: Spawn): void {
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
    rejectUpgrade(socket, badRequest(
      `pods/${subresourceOf(req)} over ${req.headers.upgrade ?? 'plain HTTP'} is not supported: this API server streams exec and attach ` +
      `over WebSocket (${V5}), which kubectl uses from 1.30 on (1.29 with KUBECTL_REMOTE_COMMAND_WEBSOCKETS=true)`));
    return;
  }
  const offered = headerList(req.headers['sec-websocket-protocol']);
  if (!offered.some((p) => PROTOCOLS.includes(p))) {
    rejectUpgrade(socket, badRequest(`requested protocol(s) are not supported: [${offered.join(' ')}]; supports [${PROTOCOLS.join(' ')}]`));
    return;
  }
  const attach = subresourceOf(req) === 'attach';
  wss.handleUpgrade(req, socket, head, (ws) => { void runSession(ws, exec, spawn, attach); });
}

function subresourceOf(req: IncomingMessage): 'exec' | 'attach' {
  return new URL(req.url ?? '/', 'http://x').pathname.endsWith('/attach') ? 'attach' : 'exec';
}

// --- a session ---------------------------------------------------------------------------------

/** Output the WebSocket may hold unsent before the process is paused, and the level it resumes at. */
const HIGH_WATER = 1 << 20;
const LOW_WATER = 1 << 18;
/** How long a tty session waits for the client's first size before starting the process at 80x24
 *  (kubectl sends it right after connecting). */
const FIRST_SIZE_WAIT_MS = 1000;

async function runSession(ws: WebSocket, exec: ExecRequest, spawn: Spawn, attach: boolean) {
  const v5 = ws.protocol === V5;
  let proc: StreamProcess | undefined;
  let finished = false;
  const pendingStdin: Buffer[] = [];
  let stdinClosed = false;
  const resizes = new ResizeDecoder();
  let latestSize: TerminalSize | undefined;
  let firstSize: (size: TerminalSize) => void = () => {};
  const sized = new Promise<TerminalSize>((resolve) => { firstSize = resolve; });

  const send = (channel: number, data: Buffer, cb?: () => void) => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(Buffer.concat([Buffer.from([channel]), data]), { binary: true }, cb);
  };

  ws.on('message', (raw: RawData) => {
    if (finished) return; // the server has closed its inputs
    const msg = toBuffer(raw);
    if (msg.length === 0) return;
    const [channel] = msg;
    const data = msg.subarray(1);
    if (v5 && channel === CHANNEL.close) {
      if (data[0] === CHANNEL.stdin && exec.stdin && !stdinClosed) {
        stdinClosed = true;
        proc?.end();
      }
    } else if (channel === CHANNEL.stdin && exec.stdin && !stdinClosed) {
      if (proc) proc.write(data); else pendingStdin.push(data);
    } else if (channel === CHANNEL.resize && exec.tty) {
      for (const size of resizes.push(data)) {
        latestSize = size;
        firstSize(size);
        proc?.resize(size);
      }
    }
  });
  ws.on('close', () => {
    if (!finished) proc?.kill(); // the client went away mid-session
    finished = true;
  });
  ws.on('error', () => ws.terminate());

  // Tells the client the streams are up: an empty message on the lowest writable channel.
  send(exec.stdout ? CHANNEL.stdout : exec.stderr ? CHANNEL.stderr : CHANNEL.status, Buffer.alloc(0));

  const finish = (status: ChannelStatus) => {
    if (finished) return;
    finished = true;
    // Like the API server: the status, then a normal close frame; the client closes the connection
    // once it has read everything (ws then ends the socket).
    send(CHANNEL.status, Buffer.from(JSON.stringify(status)));
    if (ws.readyState === ws.OPEN) ws.close(1000);
  };

  let startSize: TerminalSize | undefined;
  try {
    startSize = exec.tty ? await Promise.race([sized, delay(FIRST_SIZE_WAIT_MS, undefined)]) : undefined;
    if (finished) return;
    proc = await spawn(exec, startSize);
  } catch (err) {
    finish(streamFailure(attach, err instanceof Error ? err.message : String(err)));
    return;
  }
  if (finished) { proc.kill(); return; }
  const running = proc;
  if (latestSize && latestSize !== startSize) running.resize(latestSize);
  for (const chunk of pendingStdin.splice(0)) running.write(chunk);
  if (stdinClosed) running.end();

  let paused = false;
  const drained = () => {
    if (paused && ws.bufferedAmount < LOW_WATER) { paused = false; running.resume(); }
  };
  running.onData((channel, data) => {
    if ((channel === CHANNEL.stdout && !exec.stdout) || (channel === CHANNEL.stderr && !exec.stderr)) return;
    send(channel, data, drained);
    if (!paused && ws.bufferedAmount > HIGH_WATER) { paused = true; running.pause(); }
  });
  finish(exitStatus(attach, await running.exited));
}

const toBuffer = (raw: RawData): Buffer =>
  Buffer.isBuffer(raw) ? raw : Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw);

const delay = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(resolve, ms, value).unref());

/** The resize channel is a stream of JSON objects (client-go encodes each TerminalSize with a JSON
 *  encoder, the server decodes with a JSON decoder), so objects may span or share messages. */
export class ResizeDecoder {
  private buffered = '';

  push(data: Buffer): TerminalSize[] {
    this.buffered += data.toString('utf8');
    const sizes: TerminalSize[] = [];
    for (let end = this.buffered.indexOf('}'); end >= 0; end = this.buffered.indexOf('}')) {
      const text = this.buffered.slice(0, end + 1);
      this.buffered = this.buffered.slice(end + 1);
      try {
        const { Width, Height } = JSON.parse(text) as { Width?: unknown; Height?: unknown };
        if (typeof Width === 'number' && typeof Height === 'number' && Width > 0 && Height > 0) sizes.push({ cols: Width, rows: Height });
      } catch {
        // Not a size object: the kubelet stops reading resizes; dropping just this one is kinder.
      }
    }
    return sizes;
  }
}

// --- running argv on this host ----------------------------------------------------------------

export interface LaunchSpec {
  /** What precedes the request's command, e.g. `['nsenter', '--target=123', '--mount', '--net', '--']`;
   *  empty to run the command itself. */
  argv: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** The directory the container sees as `/` (e.g. `/proc/<pid>/root`): where the command is looked up
   *  before starting, so that a missing one fails as the runtime reports it. Default `/`. */
  root?: string;
}

/** A Spawn that runs `[...prefix argv, ...command]` here: under a pseudo-terminal (node-pty) for tty,
 *  with pipes otherwise. */
export function localSpawn(launch: (req: ExecRequest) => LaunchSpec): Spawn {
  return async (req, size) => {
    const spec = launch(req);
    const argv = [...spec.argv, ...req.command];
    if (argv.length === 0) throw new Error('failed to exec in container: no command to run');
    const env = { ...(spec.env ?? process.env) };
    if (req.command.length > 0) {
      const missing = await lookupCommand(req.command[0], env.PATH ?? '', spec.root ?? '/', spec.cwd ?? '/');
      if (missing) throw new Error(runtimeStartError(missing));
    }
    // containerd gives a tty exec TERM=xterm unless the container sets TERM.
    if (req.tty) env.TERM ??= 'xterm';
    const [file, ...args] = argv;
    return req.tty ? ptyProcess(file, args, env, spec.cwd, size) : pipeProcess(file, args, env, spec.cwd, req);
  };
}

/** containerd's message when runc cannot start the exec'd process. */
const runtimeStartError = (why: string) =>
  `failed to exec in container: failed to start exec "${randomBytes(32).toString('hex')}": ` +
  `OCI runtime exec failed: exec failed: unable to start container process: ${why}: unknown`;

/** Finds the command as runc does (Go's exec.LookPath inside the container): a name with a slash is
 *  used as is, a bare name is searched in PATH. Returns why it cannot run, or undefined. */
async function lookupCommand(command: string, searchPath: string, root: string, cwd: string): Promise<string | undefined> {
  const executable = async (p: string) => {
    try {
      const s = await stat(path.join(root, p));
      return s.isFile() && (s.mode & 0o111) !== 0 ? 'yes' : 'denied';
    } catch {
      return 'missing';
    }
  };
  if (command.includes('/')) {
    const abs = path.resolve(cwd, command);
    const found = await executable(abs);
    if (found === 'missing') return `exec: "${command}": stat ${command}: no such file or directory`;
    return found === 'denied' ? `exec: "${command}": permission denied` : undefined;
  }
  for (const dir of searchPath.split(':').filter(Boolean)) {
    if ((await executable(path.resolve(cwd, dir, command))) === 'yes') return undefined;
  }
  return `exec: "${command}": executable file not found in $PATH`;
}

function pipeProcess(file: string, args: string[], env: NodeJS.ProcessEnv, cwd: string | undefined, req: ExecRequest): StreamProcess {
  const child = spawnChild(file, args, {
    env, cwd,
    stdio: [req.stdin ? 'pipe' : 'ignore', req.stdout ? 'pipe' : 'ignore', req.stderr ? 'pipe' : 'ignore'],
  });
  child.stdin?.on('error', () => {}); // EPIPE when the process exits before reading its input
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('error', (err) => resolve({ code: null, error: `failed to exec in container: ${err.message}` }));
    // 'close', not 'exit': fires once the output pipes are drained too.
    child.once('close', (code, signal) => resolve({ code, ...(signal ? { signal } : {}) }));
  });
  return {
    write: (data) => { child.stdin?.write(data); },
    end: () => { child.stdin?.end(); },
    onData: (cb) => {
      child.stdout?.on('data', (d: Buffer) => cb(1, d));
      child.stderr?.on('data', (d: Buffer) => cb(2, d));
    },
    resize: () => {},
    pause: () => { child.stdout?.pause(); child.stderr?.pause(); },
    resume: () => { child.stdout?.resume(); child.stderr?.resume(); },
    kill: () => { child.kill('SIGKILL'); },
    exited,
  };
}

function ptyProcess(file: string, args: string[], env: NodeJS.ProcessEnv, cwd: string | undefined, size: TerminalSize | undefined): StreamProcess {
  const term = pty.spawn(file, args, {
    name: env.TERM, env, cwd: cwd ?? process.cwd(), cols: size?.cols ?? 80, rows: size?.rows ?? 24,
    encoding: null, // raw bytes: the client decodes
  });
  let done = false;
  const exited = new Promise<ProcessExit>((resolve) => {
    // node-pty emits exit once the terminal's output has been read to the end.
    term.onExit(({ exitCode, signal }) => {
      done = true;
      const name = signal ? signalName(signal) : undefined;
      resolve(name ? { code: null, signal: name } : { code: exitCode });
    });
  });
  return {
    write: (data) => { if (!done) term.write(data as unknown as string); },
    // A terminal has no end of input: the shell keeps reading the terminal whatever the client does.
    end: () => {},
    onData: (cb) => { term.onData((d) => cb(1, Buffer.from(d as unknown as Uint8Array))); },
    resize: ({ cols, rows }) => { if (!done) term.resize(cols, rows); },
    pause: () => term.pause(),
    resume: () => term.resume(),
    kill: () => { if (!done) term.kill('SIGKILL'); },
    exited,
  };
}

const signalName = (n: number) =>
  (Object.entries(osConstants.signals) as [NodeJS.Signals, number][]).find(([, v]) => v === n)?.[0];
