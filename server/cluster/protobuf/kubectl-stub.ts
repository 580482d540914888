// Test helper: a plain-HTTP stand-in for the API server that the real kubectl can be pointed at. It
// serves /version and discovery and records every other request's body as sent. A POST is answered
// with the object decoded (protobuf or JSON) and kept, so a later GET (`kubectl expose` reads the
// Deployment) finds it; PUT, PATCH and DELETE are recorded and answered with the kept object.

import http from 'node:http';
import { serveDocs } from '../discovery.ts';
import { ApiError, notFound } from '../object.ts';
import { KindRegistry } from '../registry.ts';
import { decodeKubeProtobuf, isKubeProtobuf } from './decode.ts';
import { listenLocal } from '../testing/listen.ts';

export interface RecordedRequest {
  method: string;
  path: string;
  contentType: string;
  body: Buffer;
  /** The body as JSON: decoded from protobuf, or parsed (undefined without a body). */
  object: Record<string, unknown> | undefined;
}

export interface KubectlStub {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** Protobuf decoded, JSON (and JSON patches) parsed; YAML (server-side apply) left as bytes. */
function parseBody(body: Buffer, contentType: string): Record<string, unknown> | undefined {
  if (!body.length) return undefined;
  if (isKubeProtobuf(contentType)) return decodeKubeProtobuf(body) as Record<string, unknown>;
  return contentType.includes('json') ? JSON.parse(body.toString('utf8')) : undefined;
}

const VERSION = { major: '1', minor: '33', gitVersion: 'v1.33.1' };

export async function startKubectlStub(): Promise<KubectlStub> {
  const requests: RecordedRequest[] = [];
  const stored = new Map<string, Record<string, unknown>>();
  const kept = (path: string) => {
    const object = stored.get(path);
    if (!object) throw notFound(path.split('/').at(-2) ?? '', '', path.split('/').at(-1) ?? '');
    return object;
  };
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://stub');
    const send = (code: number, value: unknown) => {
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    try {
      if (req.method === 'GET') {
        const doc = serveDocs(url.pathname, url.searchParams, req.headers.accept, VERSION, new KindRegistry());
        if (doc) { res.writeHead(doc.status, { 'Content-Type': doc.contentType }); res.end(doc.body); return; }
        send(200, kept(url.pathname));
        return;
      }
      const contentType = req.headers['content-type'] ?? '';
      const object = parseBody(body, contentType);
      requests.push({ method: req.method ?? '', path: url.pathname, contentType, body, object });
      if (req.method !== 'POST') {
        send(200, kept(url.pathname));
        return;
      }
      if (!object) throw new ApiError(400, 'BadRequest', 'a POST needs a body');
      const name = (object.metadata as { name?: string } | undefined)?.name;
      if (name) stored.set(`${url.pathname}/${name}`, object);
      // `kubectl create token` prints status.token from the answer.
      send(201, object.kind === 'TokenRequest' ? { ...object, status: { token: 'stub-token' } } : object);
    } catch (e) {
      if (e instanceof ApiError) send(e.code, e.toStatus());
      else send(500, new ApiError(500, 'InternalError', String(e)).toStatus());
    }
  });
  return { ...(await listenLocal(server)), requests };
}
