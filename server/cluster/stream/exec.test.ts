import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pty from '@lydell/node-pty';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ApiError } from '../object.ts';
import { localSpawn, parseExecQuery, ResizeDecoder, type ExecRequest, type ProcessExit, type Spawn, type StreamProcess } from './exec.ts';
import { startStubApi, type StubApi } from './testing.ts';

const MINORS = ['1.30', '1.31', '1.32', '1.33'];
const EXEC_PATH = '/api/v1/namespaces/default/pods/p/exec';

/** Exec runs the command here; attach stands in for the container's main process with a small shell. */
const spawnHere: Spawn = (req, size) =>
  localSpawn(() => ({ argv: req.command.length ? [] : ['sh', '-c', 'read line; echo "got $line"; exit 7'] }))(req, size);

let api: StubApi;
beforeAll(async () => { api = await startStubApi({ spawn: spawnHere }); });
afterAll(async () => { await api.close(); });

describe('parseExecQuery', () => {
  const parse = (query: string) => parseExecQuery(new URLSearchParams(query), 'ns', 'p', 'main');

  it('reads repeated commands, the container and booleans as the API server converts them', () => {
    expect(parse('command=sh&command=-c&command=echo+hi&container=c&stdin=1&stdout=true&stderr=False')).toEqual({
      namespace: 'ns', pod: 'p', container: 'c', command: ['sh', '-c', 'echo hi'], stdin: true, stdout: true, stderr: false, tty: false,
    });
    // Only absent, "0" and "false" are false; an empty value is true.
    expect(parse('command=true&stdout=&stdin=0')).toMatchObject({ container: 'main', stdout: true, stdin: false });
  });

  it('drops stderr under a tty, as the kubelet does', () => {
    expect(parse('command=sh&stdin=true&stdout=true&stderr=true&tty=true')).toMatchObject({ tty: true, stderr: false, stdout: true });
  });

  it('rejects a request for no stream at all', () => {
    expect(() => parse('command=true')).toThrow(ApiError);
    expect(() => parse('command=true')).toThrow('you must specify at least 1 of stdin, stdout, stderr');
  });
});

describe('ResizeDecoder', () => {
  it('decodes size objects that share or span messages', () => {
    const d = new ResizeDecoder();
    expect(d.push(Buffer.from('{"Width":80,"Height":24}{"Width":100,'))).toEqual([{ cols: 80, rows: 24 }]);
    expect(d.push(Buffer.from('"Height":30}\n'))).toEqual([{ cols: 100, rows: 30 }]);
  });
});

/** A raw channel client: every message received, and how the connection closed. */
async function connect(query: string, protocols = ['v5.channel.k8s.io']) {
  const ws = new WebSocket(`${api.url.replace('http', 'ws')}${EXEC_PATH}?${query}`, protocols);
  const frames: Buffer[] = [];
  ws.on('message', (data: Buffer) => frames.push(data));
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
  const channel = (n: number) => Buffer.concat(frames.filter((f) => f[0] === n).map((f) => f.subarray(1))).toString();
  return { ws, frames, closed, channel };
}

describe('the channel protocol', () => {
  it('announces the streams, relays output, then writes the status and closes normally', async () => {
    const c = await connect('command=sh&command=-c&command=echo+out;echo+err+>%262;exit+3&stdout=true&stderr=true');
    expect(await c.closed).toBe(1000);
    expect(c.ws.protocol).toBe('v5.channel.k8s.io');
    expect([...c.frames[0]]).toEqual([1]); // the empty "ready" message on stdout
    expect(c.channel(1)).toBe('out\n');
    expect(c.channel(2)).toBe('err\n');
    expect(c.frames.at(-1)![0]).toBe(3);
    expect(JSON.parse(c.channel(3))).toEqual({
      metadata: {}, status: 'Failure', reason: 'NonZeroExitCode',
      message: 'command terminated with non-zero exit code: command terminated with exit code 3',
      details: { causes: [{ reason: 'ExitCode', message: '3' }] },
    });
  });

  it('closes stdin on the v5 close signal and reports Success', async () => {
    const c = await connect('command=cat&stdin=true&stdout=true');
    c.ws.send(Buffer.from([0, ...Buffer.from('abc')]));
    c.ws.send(Buffer.from([255, 0]));
    expect(await c.closed).toBe(1000);
    expect(c.channel(1)).toBe('abc');
    expect(JSON.parse(c.channel(3))).toEqual({ metadata: {}, status: 'Success' });
  });

  it('follows the client\'s protocol preference among v5 and v4', async () => {
    const c = await connect('command=true&stdout=true', ['v4.channel.k8s.io', 'v5.channel.k8s.io']);
    expect(c.ws.protocol).toBe('v4.channel.k8s.io');
    expect(await c.closed).toBe(1000);
  });

  it('answers a metav1.Status over HTTP when the protocol or the upgrade is not a channel WebSocket', async () => {
    const answer = (headers: Record<string, string>) => new Promise<{ code: number; body: any }>((resolve, reject) => {
      const req = request(`${api.url}${EXEC_PATH}?command=true&stdout=true`, { method: 'GET', headers: { Connection: 'Upgrade', ...headers } });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (d) => { body += d; }).on('end', () => resolve({ code: res.statusCode!, body: JSON.parse(body) }));
      });
      req.on('upgrade', () => reject(new Error('upgraded')));
      req.on('error', reject).end();
    });
    const unsupported = await answer({ Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Protocol': 'channel.k8s.io' });
    expect(unsupported).toMatchObject({ code: 400, body: { kind: 'Status', reason: 'BadRequest', message: 'requested protocol(s) are not supported: [channel.k8s.io]; supports [v5.channel.k8s.io v4.channel.k8s.io]' } });
    const spdy = await answer({ Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'v4.channel.k8s.io' });
    expect(spdy.code).toBe(400);
    expect(spdy.body.message).toContain('KUBECTL_REMOTE_COMMAND_WEBSOCKETS=true');
  });

  it('pauses the process while the client is behind and resumes it once the client has read', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const total = 512; // 32 MiB: far more than socket buffers hold
    const calls: string[] = [];
    let emit: (channel: 1 | 2, data: Buffer) => void = () => {};
    let finish: (exit: ProcessExit) => void = () => {};
    let sent = 0;
    let paused = false;
    const pump = () => {
      while (!paused && sent < total) { sent++; emit(1, chunk); }
      if (sent === total) finish({ code: 0 });
    };
    const fake: StreamProcess = {
      write() {}, end() {}, resize() {}, kill() {},
      onData(cb) { emit = cb; setImmediate(pump); },
      pause() { calls.push('pause'); paused = true; },
      resume() { calls.push('resume'); paused = false; setImmediate(pump); },
      exited: new Promise((resolve) => { finish = resolve; }),
    };
    const saved = api.config.spawn;
    api.config.spawn = async () => fake;
    try {
      const c = await connect('command=fake&stdout=true');
      expect(await c.closed).toBe(1000);
      expect(c.channel(1).length).toBe(total * chunk.length);
      expect(calls.slice(0, 2)).toEqual(['pause', 'resume']);
    } finally {
      api.config.spawn = saved;
    }
  });

  it('kills the process when the client goes away mid-session', async () => {
    let started: (proc: StreamProcess) => void = () => {};
    const running = new Promise<StreamProcess>((resolve) => { started = resolve; });
    const saved = api.config.spawn;
    api.config.spawn = async (req, size) => {
      const proc = await spawnHere(req, size);
      started(proc);
      return proc;
    };
    try {
      const c = await connect('command=sleep&command=30&stdout=true');
      const proc = await running;
      c.ws.close();
      expect(await proc.exited).toEqual({ code: null, signal: 'SIGKILL' });
    } finally {
      api.config.spawn = saved;
    }
  });
});

describe('localSpawn', () => {
  const req = (command: string[]): ExecRequest => ({ namespace: 'default', pod: 'p', container: 'c', command, stdin: false, stdout: true, stderr: true, tty: false });

  it('fails to start a command that is not there as runc reports it', async () => {
    const spawn = localSpawn(() => ({ argv: [] }));
    await expect(spawn(req(['nosuchcmd']))).rejects.toThrow(/^failed to exec in container: failed to start exec "[0-9a-f]{64}": OCI runtime exec failed: exec failed: unable to start container process: exec: "nosuchcmd": executable file not found in \$PATH: unknown$/);
    await expect(spawn(req(['/no/such']))).rejects.toThrow('exec: "/no/such": stat /no/such: no such file or directory: unknown');
    const dir = await mkdtemp(path.join(tmpdir(), 'exec-test-'));
    try {
      const notExecutable = path.join(dir, 'data');
      await writeFile(notExecutable, 'not a program', { mode: 0o644 });
      await expect(spawn(req([notExecutable]))).rejects.toThrow(`exec: "${notExecutable}": permission denied: unknown`);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('runs the command after the prefix, looking it up under the given root', async () => {
    const spawn = localSpawn(() => ({ argv: ['env', 'GREETING=hi'], env: { PATH: '/usr/bin:/bin' }, root: '/' }));
    const proc = await spawn(req(['sh', '-c', 'echo $GREETING']));
    const out: string[] = [];
    proc.onData((ch, d) => out.push(`${ch}:${d}`));
    expect(await proc.exited).toEqual({ code: 0 });
    expect(out.join('')).toBe('1:hi\n');
  });
});

/** kubectl under a pseudo-terminal of its own, with a transcript to wait on. */
function kubectlInPty(minor: string, args: string[], cols: number, rows: number) {
  const { file, args: argv } = api.kubectlArgv(minor, args);
  const term = pty.spawn(file, argv, { cols, rows, name: 'xterm', env: { ...process.env, TERM: 'xterm' } });
  let transcript = '';
  const waiters: (() => void)[] = [];
  term.onData((d) => { transcript += d; for (const w of waiters.splice(0)) w(); });
  const exited = new Promise<number>((resolve) => term.onExit(({ exitCode }) => resolve(exitCode)));
  /** Resolves with the transcript once `pattern` matches what arrived after `from`. */
  const waitFor = (pattern: RegExp, from = 0) => new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; got ${JSON.stringify(transcript)}`)), 15_000);
    const check = () => {
      if (pattern.test(transcript.slice(from))) { clearTimeout(timer); resolve(transcript); } else waiters.push(check);
    };
    check();
  });
  let ended = false;
  void exited.then(() => { ended = true; });
  const stop = () => { if (!ended) term.kill('SIGKILL'); };
  return { term, exited, waitFor, stop, get length() { return transcript.length; } };
}

describe.each(MINORS)('kubectl %s', (minor) => {
  it('exec prints both streams and exits with the command\'s code', async () => {
    const r = await api.kubectl(minor, ['exec', 'p', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r).toEqual({ exitCode: 3, stdout: 'out', stderr: 'err\ncommand terminated with exit code 3' });
  });

  it('exec -i passes stdin through and ends on its EOF', async () => {
    const r = await api.kubectl(minor, ['exec', '-i', 'p', '--', 'cat'], { input: 'one\ntwo\n' });
    expect(r).toEqual({ exitCode: 0, stdout: 'one\ntwo', stderr: '' });
  });

  it('exec of a missing command fails as on containerd', async () => {
    const r = await api.kubectl(minor, ['exec', 'p', '--', 'nosuchcmd']);
    expect(r.exitCode).toBe(1);
    // kubectl's own klog lines (a race in its stream reader under load: "Unknown stream id 1") are not the server's words.
    const words = r.stderr.split('\n').filter((l) => !/^[EWI]\d{4} \d\d:\d\d:\d\d\.\d+ /.test(l)).join('\n');
    expect(words).toMatch(/^error: Internal error occurred: Internal error occurred: error executing command in container: failed to exec in container: failed to start exec "[0-9a-f]{64}": OCI runtime exec failed: exec failed: unable to start container process: exec: "nosuchcmd": executable file not found in \$PATH: unknown$/);
  });

  it('exec -it gives the command a terminal of the client\'s size and follows resizes', async () => {
    const k = kubectlInPty(minor, ['exec', '-it', 'p', '--', 'sh'], 100, 30);
    try {
      k.term.write('tty; stty size\r');
      await k.waitFor(/\/dev\/pts\/\d+\r?\n30 100\r?\n/);
      k.term.resize(120, 40);
      // The resize and the next command travel separately: ask until the shell sees the new size.
      for (let from = k.length; ; from = k.length) {
        k.term.write('stty size\r');
        const seen = await k.waitFor(/\b\d+ \d+\r?\n/, from);
        if (/\b40 120\r?\n/.test(seen.slice(from))) break;
      }
      k.term.write('exit 4\r');
      expect(await k.exited).toBe(4);
    } finally {
      k.stop();
    }
  });

  it('attach -i talks to the container\'s process and reports success when it ends', async () => {
    const r = await api.kubectl(minor, ['attach', '-i', 'p'], { input: 'hello\n' });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('got hello');
  });
});
