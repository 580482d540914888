import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, type KubeObject } from '../object.ts';
import { parseProxyPath, proxyDestination, proxyHttp } from './proxy.ts';
import { relayTo } from './relay.ts';

describe('parseProxyPath', () => {
  it('reads [scheme:]name[:port] and keeps the path after proxy, trailing slash and all', () => {
    expect(parseProxyPath('/api/v1/namespaces/kube-system/services/kube-dns:dns/proxy/')).toEqual({ kind: 'Service', namespace: 'kube-system', name: 'kube-dns', scheme: '', port: 'dns', path: '/' });
    expect(parseProxyPath('/api/v1/namespaces/default/pods/https:web-1:8443/proxy/a/b')).toEqual({ kind: 'Pod', namespace: 'default', name: 'web-1', scheme: 'https', port: '8443', path: '/a/b' });
    expect(parseProxyPath('/api/v1/namespaces/default/services/web/proxy')).toMatchObject({ name: 'web', port: '', path: '/' });
    expect(parseProxyPath('/api/v1/namespaces/default/pods/web')).toBeUndefined();
    expect(() => parseProxyPath('/api/v1/namespaces/default/pods/a:b:c:d/proxy/')).toThrow('invalid pod request "a:b:c:d"');
  });
});

describe('proxyDestination', () => {
  const objects: Record<string, KubeObject> = {
    'Pod/web-1': { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1' }, spec: { containers: [{ name: 'c', ports: [{ containerPort: 8080 }] }] }, status: { podIP: '10.244.1.5' } },
    'Pod/pending': { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pending' }, spec: { containers: [{ name: 'c' }] }, status: {} },
    'Pod/bare': { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bare' }, spec: { containers: [{ name: 'c' }] }, status: { podIP: '10.244.0.9' } },
    'Service/web': { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { ports: [{ name: 'http', port: 80 }, { name: 'admin', port: 9000 }] } },
    'Endpoints/web': { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'web' }, subsets: [{ addresses: [{ ip: '10.244.1.5' }, { ip: '10.244.0.6' }], ports: [{ name: 'http', port: 8080 }, { name: 'admin', port: 9090 }] }] } as KubeObject,
    'Pod/local': { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'local' }, spec: { containers: [{ name: 'c' }] }, status: { podIP: '127.0.0.1' } },
    'Service/host': { apiVersion: 'v1', kind: 'Service', metadata: { name: 'host' }, spec: { ports: [{ port: 80 }] } },
    'Endpoints/host': { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'host' }, subsets: [{ addresses: [{ ip: '169.254.169.254' }, { ip: '127.0.0.53' }], ports: [{ port: 80 }] }] } as KubeObject,
    'Service/idle': { apiVersion: 'v1', kind: 'Service', metadata: { name: 'idle' }, spec: { ports: [{ port: 80 }] } },
  };
  const get = (kind: string, _ns: string, name: string) => {
    const o = objects[`${kind}/${name}`];
    if (!o) throw new ApiError(404, 'NotFound', `${kind.toLowerCase()}s "${name}" not found`);
    return o;
  };
  const to = (path: string, random = () => 0) => proxyDestination({ get }, parseProxyPath(`/api/v1/namespaces/default/${path}/proxy/`)!, random);
  const refusal = (path: string) => { try { to(path); } catch (e) { return [(e as ApiError).code, (e as ApiError).message]; } return undefined; };

  it('sends a pod\'s proxy to its IP, on the port named or the first it declares', () => {
    expect(to('pods/web-1')).toEqual({ address: '10.244.1.5', port: 8080 });
    expect(to('pods/web-1:81')).toEqual({ address: '10.244.1.5', port: 81 });
    expect(to('pods/bare')).toEqual({ address: '10.244.0.9', port: 80 });
    expect(refusal('pods/pending')).toEqual([400, 'address not allowed']);
    // A status a learner patched to loopback is refused, as upstream refuses it.
    expect(refusal('pods/local')).toEqual([400, 'address not allowed']);
  });

  it('sends a Service\'s to one of its endpoints, the port by name or number', () => {
    expect(to('services/web:http')).toEqual({ address: '10.244.1.5', port: 8080 });
    expect(to('services/web:9000', () => 0.99)).toEqual({ address: '10.244.0.6', port: 9090 });
    expect(refusal('services/web')).toEqual([503, 'no service port "" found for service "web"']);
    expect(refusal('services/idle')).toEqual([503, 'no endpoints available for service "idle"']);
    expect(refusal('services/host')).toEqual([503, 'no endpoints available for service "host"']);
    expect(refusal('services/nosuch:80')).toEqual([404, 'services "nosuch" not found']);
    expect(refusal('services/https:web:http')).toEqual([400, 'the https scheme is not proxied by this lab\'s API server (http only)']);
  });
});

describe('proxyHttp', () => {
  let backend: Server;
  let backendPort: number;
  let front: Server;
  let frontPort: number;
  /** The port the front proxies to: the backend's, or one nothing listens on. */
  let target = 0;
  let seen: { method?: string; url?: string; authorization?: string; body: string }[] = [];

  beforeAll(async () => {
    backend = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization, body });
        res.writeHead(201, { 'X-From': 'pod', 'Content-Type': 'text/plain' }).end(`got ${body.length}`);
      });
    });
    backend.listen(0, '127.0.0.1');
    await once(backend, 'listening');
    backendPort = (backend.address() as AddressInfo).port;
    front = createServer((req, res) => {
      void proxyHttp(req, res, relayTo({ argv: [] }, '127.0.0.1', target), `127.0.0.1:${target}`, req.url!, (e) => {
        res.writeHead(e.code, { 'Content-Type': 'application/json' }).end(JSON.stringify(e.toStatus()));
      });
    });
    front.listen(0, '127.0.0.1');
    await once(front, 'listening');
    frontPort = (front.address() as AddressInfo).port;
  });
  afterAll(() => { backend?.close(); front?.close(); });

  const call = (method: string, path: string, body = '') => new Promise<{ status: number; headers: Record<string, unknown>; text: string }>((resolve, reject) => {
    const r = request({ port: frontPort, host: '127.0.0.1', method, path, headers: { Authorization: 'Bearer secret' } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    r.on('error', reject);
    r.end(body);
  });

  it('relays the request, body and query, without the caller\'s credentials, and the answer as it is', async () => {
    target = backendPort;
    seen = [];
    const r = await call('POST', '/echo?msg=hi', 'x'.repeat(100_000));
    expect([r.status, r.headers['x-from'], r.text]).toEqual([201, 'pod', 'got 100000']);
    expect(seen).toEqual([{ method: 'POST', url: '/echo?msg=hi', authorization: undefined, body: 'x'.repeat(100_000) }]);
  });

  it('answers 503 with the dial\'s error when nothing listens', async () => {
    const probe = createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    target = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const r = await call('GET', '/');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.text)).toMatchObject({ reason: 'ServiceUnavailable', message: `error trying to reach service: dial tcp 127.0.0.1:${target}: connect: connection refused` });
  });
});
