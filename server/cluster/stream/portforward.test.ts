import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { kubectlMinors } from '../../../test/support/env.ts';
import { MAX_PAIRS } from './portforward.ts';
import { relayToLocalhost } from './relay.ts';
import { FRAME, RST } from './spdy.ts';
import { frameReader, frameType, spdyClient } from './spdy-testing.ts';
import { startStubApi, type StubApi } from './testing.ts';

// Every minor this machine has: 1.27–1.30 speak SPDY, 1.31 on SPDY inside a WebSocket.
const MINORS = [...kubectlMinors().keys()];
if (MINORS.length === 0) console.warn('skipping kubectl port-forward tests: no versioned kubectl is installed');
const SANDBOX = 'f'.repeat(64);
const NETNS = '/var/run/netns/pod_default_p';

/** The pod's side: an echo server that also answers `size N\n` with N bytes, then closes. */
let pod: Server;
let podPort: number;
/** A port nothing listens on. */
let closedPort: number;
let api: StubApi;
const running: ResultPromise[] = [];

beforeAll(async () => {
  pod = createServer((s) => {
    let head = '';
    s.on('data', (d) => {
      head += d.toString('latin1');
      const m = /^size (\d+)\n/.exec(head);
      if (m) { s.end(Buffer.alloc(Number(m[1]), 'x')); return; }
      if (!head.startsWith('size')) s.write(d);
    });
    // Half-close: once the client has said all, the server answers and closes.
    s.on('end', () => { if (!head.startsWith('size')) s.end(`bye after ${head.length}\n`); });
    s.on('error', () => {});
  });
  pod.listen(0, '127.0.0.1');
  await once(pod, 'listening');
  podPort = (pod.address() as AddressInfo).port;
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  api = await startStubApi({ spawn: () => Promise.reject(new Error('no exec here')), portForward: { sandbox: SANDBOX, dial: relayToLocalhost({ argv: [] }, { path: NETNS, sandbox: SANDBOX }) } });
});
afterEach(() => { for (const p of running.splice(0)) p.kill('SIGKILL'); });
afterAll(async () => {
  await api?.close();
  pod?.close();
});

/** Starts `kubectl port-forward pod/p :<port>`; resolves with the local port once it forwards. */
async function portForward(minor: string, port: number) {
  const { file, args } = api.kubectlArgv(minor, ['port-forward', 'pod/p', `:${port}`]);
  const child = execa(file, args, { reject: false, buffer: false });
  running.push(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d; });
  const local = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /Forwarding from 127\.0\.0\.1:(\d+) ->/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    void child.then(() => reject(new Error(`kubectl exited: ${out}${err}`)));
  });
  return { local, child, output: () => out, errors: () => err };
}

/** Sends `data`, half-closes, and reads until the far side closes. */
async function roundTrip(port: number, data: Buffer | string): Promise<Buffer> {
  const s: Socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  s.on('data', (d) => chunks.push(d));
  await once(s, 'connect');
  s.end(data);
  await once(s, 'close');
  return Buffer.concat(chunks);
}

describe.skipIf(MINORS.length === 0).each(MINORS)('kubectl %s port-forward', (minor) => {
  it('relays a connection both ways, with half-close, over the transport this kubectl speaks', async () => {
    const pf = await portForward(minor, podPort);
    expect((await roundTrip(pf.local, 'hello pod')).toString()).toBe('hello podbye after 9\n');
    const upgrades = api.requests.filter((r) => r.includes('/portforward') && r.includes('upgrade='));
    expect(upgrades.at(-1)).toContain(Number(minor.split('.')[1]) <= 30 ? 'upgrade=SPDY/3.1' : 'upgrade=websocket protocols=SPDY/3.1+portforward.k8s.io');
    expect(pf.output()).toContain(`Handling connection for ${pf.local}`);
  });

  it('carries several connections at once, and megabytes in each', async () => {
    const pf = await portForward(minor, podPort);
    const sizes = [5 << 20, 1, 300_000];
    const got = await Promise.all(sizes.map((n) => roundTrip(pf.local, `size ${n}\n`)));
    expect(got.map((b) => b.length)).toEqual(sizes);
    expect(got[0].every((c) => c === 0x78)).toBe(true);
    const echoed = await roundTrip(pf.local, Buffer.alloc(2 << 20, 'y'));
    expect(echoed.length).toBe((2 << 20) + 'bye after 2097152\n'.length);
  });

  it('reports a port nothing listens on as the kubelet does, and kubectl stops', async () => {
    const pf = await portForward(minor, closedPort);
    const s = connect(pf.local, '127.0.0.1');
    s.on('error', () => {});
    const result = await pf.child;
    expect(result.exitCode).toBe(1);
    // klog quotes the error, escaping its quotes.
    const why = `error forwarding port ${closedPort} to pod ${SANDBOX}, uid : failed to execute portforward in network namespace "${NETNS}": ` +
      `failed to connect to localhost:${closedPort} inside namespace "${SANDBOX}", IPv4: dial tcp4 127.0.0.1:${closedPort}: connect: connection refused IPv6 dial tcp6 [::1]:${closedPort}: connect: `;
    expect(pf.errors().replaceAll('\\"', '"')).toContain(`an error occurred forwarding ${pf.local} -> ${closedPort}: ${why}`);
    expect(pf.errors()).toContain('error: lost connection to pod');
    s.destroy();
  });
});

/** A SPDY connection to the stub's pods/portforward made by hand, as kubectl 1.30 upgrades. */
async function rawSpdy(protocol = 'portforward.k8s.io') {
  const sock = connect(Number(new URL(api.url).port), '127.0.0.1');
  await once(sock, 'connect');
  sock.write(`POST /api/v1/namespaces/default/pods/p/portforward HTTP/1.1\r\nHost: stub\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${protocol}\r\nContent-Length: 0\r\n\r\n`);
  let head = '';
  const frames: Buffer[] = [];
  const waiters: (() => void)[] = [];
  const read = frameReader();
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  const response = new Promise<string>((resolve) => {
    sock.on('data', (d: Buffer) => {
      if (!head.includes('\r\n\r\n')) {
        const text = d.toString('latin1');
        const end = (head + text).indexOf('\r\n\r\n');
        if (end < 0) { head += text; return; }
        const rest = d.subarray(end + 4 - head.length);
        head = (head + text).slice(0, end + 4);
        resolve(head);
        d = rest;
      }
      frames.push(...read(d));
      for (const w of waiters.splice(0)) w();
    });
    sock.once('close', () => resolve(head));
  });
  /** Resolves with the first frame received that matches. */
  const frame = (match: (f: Buffer) => boolean) => new Promise<Buffer>((resolve, reject) => {
    const check = () => { const f = frames.find(match); if (f) resolve(f); else waiters.push(check); };
    check();
    void closed.then(() => { const f = frames.find(match); if (f) resolve(f); else reject(new Error('the connection closed first')); });
  });
  return { sock, response, frames, frame, closed, client: spdyClient() };
}

const streamOf = (f: Buffer) => f.readUInt32BE(frameType(f) === 'data' ? 0 : 8) & 0x7fffffff;

describe('pods/portforward, spoken by hand', () => {
  it('refuses a protocol it does not speak', async () => {
    const c = await rawSpdy('v4.channel.k8s.io');
    expect(await c.response).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    await c.closed;
  });

  it('pairs the streams of an older client by their ids (no requestID), and relays', async () => {
    const c = await rawSpdy();
    expect(await c.response).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n[^]*X-Stream-Protocol-Version: portforward\.k8s\.io\r\n/);
    c.sock.write(await c.client.synStream(1, { streamType: 'error', port: String(podPort) }));
    c.sock.write(await c.client.synStream(3, { streamType: 'data', port: String(podPort) }));
    c.sock.write(c.client.data(3, Buffer.from('ping'), true));
    const fin = await c.frame((f) => frameType(f) === 'data' && streamOf(f) === 3 && (f[4] & 1) === 1);
    const echoed = Buffer.concat(c.frames.filter((f) => frameType(f) === 'data' && streamOf(f) === 3).map((f) => f.subarray(8))).toString();
    expect(echoed).toBe('pingbye after 4\n');
    expect(fin.length).toBe(8);
    // The error stream ends empty: nothing failed.
    const errorFin = await c.frame((f) => frameType(f) === 'data' && streamOf(f) === 1);
    expect([errorFin.length, errorFin[4]]).toEqual([8, 1]);
    c.sock.destroy();
  });

  it('resets streams the kubelet would refuse, and pairs beyond its limit', async () => {
    const c = await rawSpdy();
    await c.response;
    const reset = (id: number) => c.frame((f) => frameType(f) === FRAME.rstStream && streamOf(f) === id);
    c.sock.write(await c.client.synStream(1, { streamType: 'error', port: 'http' }));
    c.sock.write(await c.client.synStream(3, { streamType: 'video', port: '80' }));
    c.sock.write(await c.client.synStream(5, { streamType: 'data' }));
    for (const id of [1, 3, 5]) expect((await reset(id)).readUInt32BE(12)).toBe(RST.cancel);
    // Error streams that never get their data stream hold a pair each.
    let id = 7;
    for (let i = 0; i < MAX_PAIRS; i++, id += 2) c.sock.write(await c.client.synStream(id, { streamType: 'error', port: '80', requestID: String(i) }));
    c.sock.write(await c.client.synStream(id, { streamType: 'error', port: '80', requestID: 'one too many' }));
    expect((await reset(id)).readUInt32BE(12)).toBe(RST.refusedStream);
    expect(c.frames.filter((f) => frameType(f) === FRAME.synReply)).toHaveLength(MAX_PAIRS);
    c.sock.destroy();
  });

  it('resets a data stream that sends more than it may before its error stream comes', async () => {
    const c = await rawSpdy();
    await c.response;
    c.sock.write(await c.client.synStream(1, { streamType: 'data', port: String(podPort), requestID: 'early' }));
    for (let i = 0; i < 3; i++) c.sock.write(c.client.data(1, Buffer.alloc(600_000)));
    expect((await c.frame((f) => frameType(f) === FRAME.rstStream && streamOf(f) === 1)).readUInt32BE(12)).toBe(RST.protocolError);
    c.sock.destroy();
  });

  it('ends the session at bytes that are not SPDY/3, and the API serves on', async () => {
    const c = await rawSpdy();
    await c.response;
    c.sock.write(Buffer.alloc(16, 0xff));
    const goAway = await c.frame((f) => frameType(f) === FRAME.goAway);
    expect(goAway.readUInt32BE(12)).toBe(RST.protocolError);
    await c.closed;
    const http = await fetch(`${api.url}/api/v1/namespaces/default/pods/p`);
    expect(((await http.json()) as { metadata: { name: string } }).metadata.name).toBe('p');
  });
});
