import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { EXEC_STATUS_MISSING, exitCodeFromStatus, kubeAccessFromFile, podExec, type KubeAccess } from './exec.ts';

// A fake kube-apiserver exec endpoint on loopback speaking the channel.k8s.io framing (one byte of
// stream number, then data; 3 = status, 255 = close-stream), driven through the real
// @kubernetes/client-node code path.

type Behaviour = (ws: WebSocket, url: URL) => void;
const frame = (n: number, data: string | Buffer) => Buffer.concat([Buffer.from([n]), Buffer.from(data)]);
const success = JSON.stringify({ metadata: {}, status: 'Success' });
const exitWith = (code: number) => JSON.stringify({
  metadata: {}, status: 'Failure', message: `command terminated with non-zero exit code: exit status ${code}`,
  reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
});

let wss: WebSocketServer;
let port: number;
let behaviour: Behaviour = () => {};
let protocol = 'v5.channel.k8s.io';
let lastUrl: URL | undefined;
const serverClosed: Promise<void>[] = [];

beforeAll(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (protos) => (protos.has(protocol) ? protocol : false) });
  await once(wss, 'listening');
  port = (wss.address() as AddressInfo).port;
  wss.on('connection', (ws, req) => {
    lastUrl = new URL(req.url!, 'http://x');
    serverClosed.push(once(ws, 'close').then(() => {}));
    behaviour(ws, lastUrl);
  });
});
afterAll(async () => {
  for (const c of wss.clients) c.terminate();
  await new Promise((r) => wss.close(r));
});

// A kubeconfig file as kind writes one (inline credentials), pointing at the fake server.
const dir = mkdtempSync(join(tmpdir(), 'netdojo-exec-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function kubeconfigFor(server: string): string {
  const file = join(dir, `kubeconfig-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, [
    'apiVersion: v1', 'kind: Config', 'current-context: kind-lab',
    'clusters:', `- name: kind-lab`, `  cluster: {server: "${server}", certificate-authority-data: ${Buffer.from('CA').toString('base64')}}`,
    'contexts:', '- name: kind-lab', '  context: {cluster: kind-lab, user: kind-lab}',
    'users:', '- name: kind-lab', `  user: {client-certificate-data: ${Buffer.from('CERT').toString('base64')}, client-key-data: ${Buffer.from('KEY').toString('base64')}}`,
    '',
  ].join('\n'));
  return file;
}
const kc = (): KubeAccess => kubeAccessFromFile(kubeconfigFor(`http://127.0.0.1:${port}`));

describe('podExec over the exec WebSocket', () => {
  it('returns stdout, stderr and exit 0 from a Success status, on the right URL', async () => {
    protocol = 'v5.channel.k8s.io';
    behaviour = (ws) => {
      ws.send(frame(1, 'hello\n'));
      ws.send(frame(2, 'warn\n'));
      ws.send(frame(3, success));
      ws.close();
    };
    const r = await podExec(kc(), 'default', 'client-worker', 'client', ['dig', '+short', 'web']);
    expect(r).toMatchObject({ code: 0, stdout: 'hello\n', stderr: 'warn\n', timedOut: false });
    expect(r.execError).toBeUndefined();
    expect(lastUrl!.pathname).toBe('/api/v1/namespaces/default/pods/client-worker/exec');
    expect(lastUrl!.searchParams.getAll('command')).toEqual(['dig', '+short', 'web']);
    expect(lastUrl!.searchParams.get('container')).toBe('client');
  });

  it('reads the exit code from a NonZeroExitCode status', async () => {
    behaviour = (ws) => {
      ws.send(frame(2, 'curl: (7) Failed to connect\n'));
      ws.send(frame(3, exitWith(7)));
      ws.close();
    };
    const r = await podExec(kc(), 'default', 'p', 'c', ['curl', 'x']);
    expect(r.code).toBe(7);
    expect(r.execError).toBeUndefined();
  });

  it('is an ERROR (code null, execError) when the socket closes without a status', async () => {
    behaviour = (ws) => {
      ws.send(frame(1, '{"probe":1,"ok":true}\n'));
      ws.close();
    };
    const r = await podExec(kc(), 'default', 'p', 'c', ['sh']);
    expect(r.code).toBeNull();
    expect(r.timedOut).toBe(false);
    expect(r.execError).toBe(EXEC_STATUS_MISSING);
    expect(r.stdout).toBe('{"probe":1,"ok":true}\n');
  });

  it('is an ERROR when the connection drops mid-stream', async () => {
    behaviour = (ws) => {
      ws.send(frame(1, 'partial'));
      ws.terminate();
    };
    const r = await podExec(kc(), 'default', 'p', 'c', ['sh']);
    expect(r.code).toBeNull();
    expect(r.execError).toBeTruthy();
  });

  it('is an ERROR, without crashing, on an unreadable status frame', async () => {
    behaviour = (ws) => {
      ws.send(frame(3, '{not json'));
      ws.close();
    };
    const r = await podExec(kc(), 'default', 'p', 'c', ['sh']);
    expect(r.code).toBeNull();
    expect(r.execError).toMatch(/unreadable exec status/);
  });

  it('times out on the client side and closes the socket when the command hangs', async () => {
    behaviour = () => {}; // never answers
    const before = serverClosed.length;
    const r = await podExec(kc(), 'default', 'p', 'c', ['sleep', '100'], { timeoutMs: 300 });
    expect(r).toMatchObject({ code: null, timedOut: true });
    expect(r.ms).toBeGreaterThanOrEqual(290);
    // The server sees the connection go away: nothing is left open on our side.
    await serverClosed[before];
  });

  it('sends stdin and closes it with the v5 close frame, keeping the socket for the output', async () => {
    behaviour = (ws) => {
      const got: Buffer[] = [];
      ws.on('message', (data: Buffer) => {
        if (data[0] === 0) got.push(data.subarray(1));
        if (data[0] === 255 && data[1] === 0) {
          ws.send(frame(1, Buffer.concat(got)));
          ws.send(frame(3, success));
          ws.close();
        }
      });
    };
    const r = await podExec(kc(), 'default', 'p', 'c', ['cat'], { stdin: 'line one\nline two\n' });
    expect(r).toMatchObject({ code: 0, stdout: 'line one\nline two\n' });
    expect(lastUrl!.searchParams.get('stdin')).toBe('true');
  });

  it('refuses stdin when the server only speaks v4 (closing stdin would cut the command off)', async () => {
    protocol = 'v4.channel.k8s.io';
    behaviour = () => {};
    const r = await podExec(kc(), 'default', 'p', 'c', ['cat'], { stdin: 'x', timeoutMs: 5000 });
    expect(r.code).toBeNull();
    expect(r.timedOut).toBe(false);
    expect(r.execError).toMatch(/v5\.channel\.k8s\.io/);
    protocol = 'v5.channel.k8s.io';
  });

  it('is an ERROR when nothing listens', async () => {
    const k = kubeAccessFromFile(kubeconfigFor('http://127.0.0.1:1'));
    const r = await podExec(k, 'default', 'p', 'c', ['true'], { timeoutMs: 5000 });
    expect(r.code).toBeNull();
    expect(r.execError).toMatch(/could not connect/);
  });
});

describe('kubeAccessFromFile', () => {
  it('reads the server and inline TLS credentials of the current context', async () => {
    const k = kubeAccessFromFile(kubeconfigFor('https://127.0.0.1:6443'));
    expect(k.getCurrentCluster()).toEqual({ server: 'https://127.0.0.1:6443' });
    const opts: Record<string, unknown> = {};
    await k.applyToHTTPSOptions(opts);
    expect(String(opts.ca)).toBe('CA');
    expect(String(opts.cert)).toBe('CERT');
    expect(String(opts.key)).toBe('KEY');
  });
});

describe('exitCodeFromStatus', () => {
  it('maps statuses to exit codes or errors', () => {
    expect(exitCodeFromStatus({ status: 'Success' })).toEqual({ code: 0 });
    expect(exitCodeFromStatus(JSON.parse(exitWith(9)))).toEqual({ code: 9 });
    expect(exitCodeFromStatus({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [] } })).toHaveProperty('error');
    expect(exitCodeFromStatus({ status: 'Failure', message: 'exec: "dig": executable file not found in $PATH' })).toEqual({ code: 127 });
    expect(exitCodeFromStatus({ status: 'Failure', reason: 'InternalError', message: 'container not running' })).toHaveProperty('error');
    expect(exitCodeFromStatus(undefined)).toHaveProperty('error');
    expect(exitCodeFromStatus({})).toHaveProperty('error');
  });
});

describe('KindLab.exec in a pod (API server faked, kubectl stood in)', () => {
  const fixtures = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'kind');
  const env = { ...process.env };
  let lab: import('./lab.ts').KindLab;
  let commands: string[][] = [];
  beforeAll(async () => {
    const { KindLab } = await import('./lab.ts');
    const { paths } = await import('./record.ts');
    const { baseTopology } = await import('../../lab/topology.ts');
    process.env.NETDOJO_HOME = join(dir, 'home');
    process.env.NETDOJO_KUBECTL = join(fixtures, 'fake-kubectl');
    process.env.FAKE_KUBE_DIR = dir;
    const pod = (image: string) => JSON.stringify({ metadata: { name: 'x', namespace: 'default' }, spec: { containers: [{ name: 'client', image }] }, status: {} });
    writeFileSync(join(dir, 'pod-default-client-worker.json'), pod('netdojo/probe:0.1.0'));
    writeFileSync(join(dir, 'pod-default-other.json'), pod('registry.example/other:1'));
    const id = 'lexecfake1';
    const topo = baseTopology();
    const { mkdirSync, copyFileSync } = await import('node:fs');
    mkdirSync(paths(id).dir, { recursive: true });
    copyFileSync(kubeconfigFor(`http://127.0.0.1:${port}`), paths(id).kubeconfig);
    lab = new KindLab({
      id, provider: 'kind', scenario: 's', seed: 1, cluster: `netdojo-${id}`, network: `netdojo-${id}`, mtu: 1500, createdAt: '', state: 'ready', pid: 1, host: 'h',
      facts: { id, scenario: 's', provider: 'kind', seed: 1, nodes: topo.nodes.map(({ name, role, ip, podCIDR }) => ({ name, role, ip, podCIDR })), pods: [], services: [], dns: topo.dns },
    }, { destroy: async () => {} });
  });
  afterAll(() => {
    for (const k of ['NETDOJO_HOME', 'NETDOJO_KUBECTL', 'FAKE_KUBE_DIR']) {
      if (env[k] === undefined) delete process.env[k];
      else process.env[k] = env[k];
    }
  });
  const answer = (withStatus: boolean): Behaviour => (ws, url) => {
    commands.push(url.searchParams.getAll('command'));
    ws.send(frame(1, '@nonce {"id":0,"rc":0}\n@nonce {"sentinel":true}\n'));
    if (withStatus) ws.send(frame(3, success));
    ws.close();
  };

  it('passes output and exit code through when the status arrives; runs our image under timeout', async () => {
    commands = [];
    behaviour = answer(true);
    const r = await lab.exec('default/client-worker', ['bash', '-c', 'probes'], { timeoutMs: 4000 });
    expect(r).toMatchObject({ code: 0, timedOut: false });
    expect(r.stdout).toContain('"sentinel":true');
    expect(commands[0]).toEqual(['timeout', '-s', 'KILL', '5', 'bash', '-c', 'probes']);
    // Another image may have no coreutils: its command runs as given.
    await lab.exec('default/other', ['true'], { timeoutMs: 4000 });
    expect(commands[1]).toEqual(['true']);
  });

  it('without a status, even a complete-looking batch is not a result: no stdout, code null, the output kept as evidence', async () => {
    behaviour = answer(false);
    const r = await lab.exec('client-worker', ['bash', '-c', 'probes'], { timeoutMs: 4000 });
    expect(r.code).toBeNull();
    expect(r.timedOut).toBe(false);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(EXEC_STATUS_MISSING);
    expect(r.stderr).toContain('"sentinel":true');
  });

  it('a pod that does not exist is a failed run, not an exception', async () => {
    const r = await lab.exec('default/ghost', ['true']);
    expect(r.code).toBeNull();
    expect(r.stderr).toMatch(/cannot exec in default\/ghost: .*pods "ghost" not found/);
  });
});
