// pods/proxy and services/proxy: the API server's HTTP proxy to a pod, named directly or picked among
// a Service's ready endpoints, as `kubectl get --raw`, `kubectl proxy` and the URLs `kubectl
// cluster-info` prints reach it (/api/v1/namespaces/<ns>/services/[https:]<name>[:<port>]/proxy/<path>).
// On kind the API server runs on the control-plane node's network, so it dials the pod's IP from
// there (a NetworkPolicy sees the node's address); the caller's credentials stay behind.

import { request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { Duplex } from 'node:stream';
import { ApiError, badRequest, type KubeObject } from '../object.ts';
import type { PodConnection } from './relay.ts';

export interface ProxyPath {
  kind: 'Pod' | 'Service';
  namespace: string;
  name: string;
  scheme: string;
  /** As the path names it: a port name or number, or empty. */
  port: string;
  /** The path on the pod, from the first '/' after `proxy` (or '/'). */
  path: string;
}

/** The proxy path of a request, or undefined when it is not one. */
export function parseProxyPath(pathname: string): ProxyPath | undefined {
  const m = /^\/api\/v1\/namespaces\/([^/]+)\/(pods|services)\/([^/]+)\/proxy(\/.*)?$/.exec(pathname);
  if (!m) return undefined;
  const parts = decodeURIComponent(m[3]).split(':');
  if (parts.length > 3) throw badRequest(`invalid ${m[2] === 'pods' ? 'pod' : 'service'} request "${m[3]}"`);
  const [scheme, name, port] = parts.length === 3 ? parts : ['', parts[0], parts[1] ?? ''];
  return { kind: m[2] === 'pods' ? 'Pod' : 'Service', namespace: decodeURIComponent(m[1]), name, scheme, port, path: m[4] ?? '/' };
}

/** Whether the API server proxies to an address: a global unicast IPv4 one (not loopback,
 *  link-local, unspecified, multicast or broadcast), as proxyutil.IsProxyableIP decides. An address
 *  a learner wrote into a pod's status or an Endpoints object is checked too. */
export function proxyable(ip: string): boolean {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) return false;
  const [a, b] = parts;
  return !(a === 0 || a === 127 || (a === 169 && b === 254) || a >= 224);
}

interface Objects {
  get(kind: 'Pod' | 'Service' | 'Endpoints', namespace: string, name: string): KubeObject;
}

interface PodSpecPorts { containers: { ports?: { containerPort: number }[] }[] }
interface ServiceSpecPorts { ports?: { name?: string; port: number }[] }
interface EndpointSubsets { subsets?: { addresses?: { ip: string }[]; ports?: { name?: string; port: number }[] }[] }

/** Where the API server sends the request: an address and port, or its refusal (ApiError) in the
 *  words of the pod and service registries' ResourceLocation. */
export function proxyDestination(objects: Objects, p: ProxyPath, random = Math.random): { address: string; port: number } {
  if (p.scheme && p.scheme !== 'http') throw badRequest(`the ${p.scheme} scheme is not proxied by this lab's API server (http only)`);
  if (p.kind === 'Pod') {
    const pod = objects.get('Pod', p.namespace, p.name);
    const ip = (pod.status as { podIP?: string } | undefined)?.podIP;
    if (!ip || !proxyable(ip)) throw badRequest('address not allowed');
    // No port named: the first port a container declares, else HTTP's.
    const declared = (pod.spec as PodSpecPorts).containers.flatMap((c) => c.ports ?? [])[0]?.containerPort;
    const port = p.port ? Number(p.port) : declared ?? 80;
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw badRequest(`invalid port "${p.port}"`);
    return { address: ip, port };
  }
  const svc = objects.get('Service', p.namespace, p.name);
  // A port by its name (an unnamed one by none), or by its number.
  const svcPort = ((svc.spec as ServiceSpecPorts).ports ?? []).find((sp) => (sp.name ?? '') === p.port || String(sp.port) === p.port);
  if (!svcPort) throw new ApiError(503, 'ServiceUnavailable', `no service port "${p.port}" found for service "${p.name}"`);
  const none = () => new ApiError(503, 'ServiceUnavailable', `no endpoints available for service "${p.name}"`);
  let endpoints: EndpointSubsets;
  try {
    endpoints = objects.get('Endpoints', p.namespace, p.name) as EndpointSubsets;
  } catch {
    throw none();
  }
  const candidates = (endpoints.subsets ?? []).flatMap((ss) => {
    const port = (ss.ports ?? []).find((ep) => (ep.name ?? '') === (svcPort.name ?? ''));
    return port ? (ss.addresses ?? []).filter((a) => proxyable(a.ip)).map((a) => ({ address: a.ip, port: port.port })) : [];
  });
  if (candidates.length === 0) throw none();
  return candidates[Math.floor(random() * candidates.length)];
}

/** Hop-by-hop headers (RFC 9110 §7.6.1), and what is the API server's own. */
const DROPPED = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'authorization', 'host']);

function forwarded(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !DROPPED.has(k)) out[k] = v;
  return out;
}

/** The connection as the stream Node's HTTP client writes the request to and reads the answer from. */
function asStream(conn: PodConnection): Duplex {
  const stream = new Duplex({
    write(chunk: Buffer, _encoding, cb) { if (conn.write(chunk)) cb(); else conn.onDrain(() => cb()); },
    final(cb) { conn.end(); cb(); },
    read() { conn.resume(); },
    destroy(err, cb) { conn.close(); cb(err); },
  });
  conn.onData((data) => { if (!stream.push(data)) conn.pause(); });
  void conn.done.then(() => stream.push(null));
  return stream;
}

/** Sends the request over `conn` to `host` and streams the answer back; a connection that fails
 *  answers 503, "error trying to reach service: <the dial's error>". */
export function proxyHttp(req: IncomingMessage, res: ServerResponse, conn: PodConnection, host: string, path: string, onError: (e: ApiError) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const upstream = request({ method: req.method, path, headers: { ...forwarded(req.headers), host }, createConnection: () => asStream(conn) as never }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, forwarded(answer.headers));
      answer.pipe(res);
      answer.once('end', () => resolve());
      answer.once('error', () => { res.destroy(); resolve(); });
    });
    upstream.once('error', (e) => {
      void conn.done.then((failure) => {
        // Connected, then closed without an answer: Go's transport says EOF where Node says "socket hang up".
        const why = failure ?? ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? 'EOF' : e.message);
        if (!res.headersSent) onError(new ApiError(503, 'ServiceUnavailable', `error trying to reach service: ${why}`));
        else res.destroy();
        resolve();
      });
    });
    res.once('close', () => { conn.close(); resolve(); });
    req.pipe(upstream);
  });
}
