// Test-only: a plain-HTTP server on 127.0.0.1 that answers serveDocs' documents and stubs the rest
// of the API: GET answers the given objects (else 404 NotFound), POST echoes the object (201), PATCH
// of a /scale subresource answers an autoscaling/v1 Scale with the patched spec. And a runner for the
// real, versioned kubectl binaries pointed at it.

import { execa } from 'execa';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execSync } from 'node:child_process';
import { serveDocs, type ServerVersion } from '../discovery.ts';
import { ApiError } from '../object.ts';
import { KindRegistry } from '../registry.ts';
import { listenLocal } from './listen.ts';

export interface RecordedRequest { method: string; url: string; accept?: string; contentType?: string }

export interface DocsServer {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

const readBody = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};


/** `objects`: what GET answers, keyed by path (/apis/apps/v1/namespaces/default/deployments/web). */
export async function startDocsServer(version: ServerVersion, objects: Record<string, unknown> = {}): Promise<DocsServer> {
  const requests: RecordedRequest[] = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push({ method: req.method ?? '', url: req.url ?? '', accept: req.headers.accept, contentType: req.headers['content-type'] });
    const body = await readBody(req);
    const doc = req.method === 'GET' ? serveDocs(url.pathname, url.searchParams, req.headers.accept, version, new KindRegistry()) : undefined;
    const reply = (code: number, object: unknown) => res.writeHead(code, { 'Content-Type': 'application/json' }).end(JSON.stringify(object));
    if (doc) {
      res.writeHead(doc.status, { 'Content-Type': doc.contentType }).end(doc.body);
    } else if (req.method === 'GET' && objects[url.pathname]) {
      reply(200, objects[url.pathname]);
    } else if (req.method === 'PATCH' && url.pathname.endsWith('/scale')) {
      const [, namespace, name] = /\/namespaces\/([^/]+)\/[^/]+\/([^/]+)\/scale$/.exec(url.pathname) ?? [];
      const patch = JSON.parse(body) as { spec?: unknown };
      reply(200, { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name, namespace }, spec: patch.spec, status: { replicas: 0 } });
    } else if (req.method === 'POST') {
      const object = JSON.parse(body) as { metadata?: Record<string, unknown> };
      const namespace = /\/namespaces\/([^/]+)\//.exec(url.pathname)?.[1];
      object.metadata = { ...object.metadata, ...(namespace ? { namespace } : {}), uid: 'c0ffee00-0000-4000-8000-000000000001', resourceVersion: '1' };
      reply(201, object);
    } else {
      reply(404, new ApiError(404, 'NotFound', `the server could not find the requested resource (${req.method} ${url.pathname})`).toStatus());
    }
  });
  return { ...(await listenLocal(server)), requests };
}

/** The directory of the versioned kubectl binaries (kubectl.1.27 ... kubectl.1.33), if this machine has them. */
export function kubectlBinDir(): string | undefined {
  try {
    const dispatcher = execSync('readlink -f "$(command -v kubectl)"', { encoding: 'utf8', shell: '/bin/sh' }).trim();
    return dispatcher && existsSync(join(dirname(dispatcher), 'kubectl.1.33')) ? dirname(dispatcher) : undefined;
  } catch {
    return undefined;
  }
}

export interface KubectlRunner {
  /** Runs `kubectl.<minor> --server=<url> ...args` with a fresh discovery cache and no kubeconfig. */
  run(minor: string, args: string[], stdin?: string): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  cleanup(): void;
}

export function kubectlRunner(binDir: string, serverUrl: string): KubectlRunner {
  const home = mkdtempSync(join(tmpdir(), 'netdojo-kubectl-'));
  let calls = 0;
  return {
    async run(minor, args, stdin) {
      const cacheDir = join(home, `cache-${calls++}`);
      const result = await execa(join(binDir, `kubectl.${minor}`), [`--server=${serverUrl}`, `--cache-dir=${cacheDir}`, ...args], {
        reject: false, input: stdin, timeout: 20_000,
        env: { KUBECONFIG: join(home, 'no-kubeconfig'), HOME: home },
        extendEnv: false,
      });
      return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
    },
    cleanup: () => rmSync(home, { recursive: true, force: true }),
  };
}
