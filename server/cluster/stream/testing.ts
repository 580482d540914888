// Test-only: the smallest API server the real kubectl accepts for exec, attach, logs and port-forward against one
// pod `default/p` with one container `c` (discovery, the pod, the streaming subresources), and
// helpers to run the versioned kubectl binaries against it.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { ApiError } from '../object.ts';
import { handleStreamUpgrade, parseExecQuery, type Spawn } from './exec.ts';
import { parseLogQuery, streamLog, type LogFiles } from './logs.ts';
import { handlePortForwardUpgrade, type PortForwardTarget } from './portforward.ts';

export const POD = 'p';
export const CONTAINER = 'c';

export interface StubApiConfig {
  spawn: Spawn;
  /** Log files of container `c`. */
  logFiles?: LogFiles;
  /** Resolves when a follow should end (the container stopped). */
  logDone?: Promise<void>;
  /** Where port-forward's connections go. */
  portForward?: PortForwardTarget;
}

export interface StubApi {
  url: string;
  /** Mutable between requests. */
  config: StubApiConfig;
  /** `METHOD path?query` of every request, in order. */
  requests: string[];
  /** Runs a kubectl minor (e.g. '1.32') against this server. */
  kubectl(minor: string, args: string[], opts?: { input?: string; env?: Record<string, string> }): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  /** argv and env to run kubectl under a pseudo-terminal. */
  kubectlArgv(minor: string, args: string[]): { file: string; args: string[] };
  close(): Promise<void>;
}

const KUBECTL_DIR = path.dirname(
  (await execa('sh', ['-c', 'readlink -f "$(command -v kubectl)"'])).stdout.trim(),
);
export const kubectlBinary = (minor: string) => path.join(KUBECTL_DIR, `kubectl.${minor}`);

const pod = {
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name: POD, namespace: 'default', uid: '8d3c3b6a-0f51-4c8e-9d1e-2b0c1f7a9e11', resourceVersion: '1', creationTimestamp: '2024-01-01T00:00:00Z' },
  spec: { containers: [{ name: CONTAINER, image: 'busybox' }], restartPolicy: 'Always', nodeName: 'worker' },
  status: {
    phase: 'Running',
    conditions: [{ type: 'Ready', status: 'True' }],
    containerStatuses: [{ name: CONTAINER, ready: true, restartCount: 0, image: 'busybox', imageID: '', started: true, state: { running: { startedAt: '2024-01-01T00:00:00Z' } } }],
  },
};

const resources = {
  kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'v1',
  resources: [
    { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['po'], categories: ['all'] },
    { name: 'pods/attach', singularName: '', namespaced: true, kind: 'PodAttachOptions', verbs: ['create', 'get'] },
    { name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] },
    { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] },
    { name: 'pods/portforward', singularName: '', namespaced: true, kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
  ],
};

const POD_PATH = `/api/v1/namespaces/default/pods/${POD}`;

function sendJson(res: ServerResponse, code: number, body: unknown) {
  res.writeHead(code, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

function sendError(res: ServerResponse, err: unknown) {
  const apiErr = err instanceof ApiError ? err : new ApiError(500, 'InternalError', String(err));
  if (res.headersSent) res.destroy();
  else sendJson(res, apiErr.code, apiErr.toStatus());
}

export async function startStubApi(config: StubApiConfig): Promise<StubApi> {
  const requests: string[] = [];
  const dir = await mkdtemp(path.join(tmpdir(), 'stream-stub-'));
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    void route(req, res).catch((err) => sendError(res, err));
  });

  async function route(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://stub');
    switch (url.pathname) {
      case '/version': return sendJson(res, 200, { major: '1', minor: '32', gitVersion: 'v1.32.0', platform: 'linux/amd64' });
      case '/api': return sendJson(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: req.headers.host }] });
      case '/apis': return sendJson(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
      case '/api/v1': return sendJson(res, 200, resources);
      case POD_PATH: return sendJson(res, 200, pod);
      case `${POD_PATH}/log`: {
        const opts = parseLogQuery(url.searchParams, POD);
        const files = config.logFiles ?? { current: path.join(dir, 'missing.log') };
        return streamLog(res, { pod: POD, container: opts.container ?? CONTAINER, files }, opts, config.logDone);
      }
      case `${POD_PATH}/exec`: case `${POD_PATH}/attach`:
        throw new ApiError(400, 'BadRequest', 'Upgrade request required');
      default: throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
  }

  server.on('upgrade', (req: IncomingMessage, socket, head) => {
    requests.push(`${req.method} ${req.url} upgrade=${req.headers.upgrade} protocols=${req.headers['sec-websocket-protocol'] ?? ''}`);
    const url = new URL(req.url ?? '/', 'http://stub');
    if (url.pathname === `${POD_PATH}/portforward` && config.portForward) { handlePortForwardUpgrade(req, socket, head, config.portForward); return; }
    if (url.pathname !== `${POD_PATH}/exec` && url.pathname !== `${POD_PATH}/attach`) { socket.destroy(); return; }
    try {
      handleStreamUpgrade(req, socket, head, parseExecQuery(url.searchParams, 'default', POD, CONTAINER), (r, size) => config.spawn(r, size));
    } catch (err) {
      const status = (err instanceof ApiError ? err : new ApiError(500, 'InternalError', String(err))).toStatus();
      const body = JSON.stringify(status);
      socket.end(`HTTP/1.1 ${status.code} Error\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    }
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(kubeconfig, [
    'apiVersion: v1', 'kind: Config', 'current-context: stub',
    'clusters: [{name: stub, cluster: {server: "' + url + '"}}]',
    'users: [{name: stub, user: {}}]',
    'contexts: [{name: stub, context: {cluster: stub, user: stub, namespace: default}}]',
  ].join('\n'));

  const kubectlArgv = (minor: string, args: string[]) => ({
    file: kubectlBinary(minor),
    args: [`--kubeconfig=${kubeconfig}`, `--cache-dir=${path.join(dir, `cache-${minor}`)}`, ...args],
  });

  return {
    url, config, requests, kubectlArgv,
    async kubectl(minor, args, opts = {}) {
      const { file, args: argv } = kubectlArgv(minor, args);
      const r = await execa(file, argv, { reject: false, input: opts.input ?? '', env: opts.env, timeout: 30_000 });
      return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
