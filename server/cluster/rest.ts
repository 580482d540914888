import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { parse as parseYaml } from 'yaml';
import type { ClusterApi, DeleteOptions, FieldValidation, WatchEvent } from './api.ts';
import { groupVersion } from './kinds.ts';
import { ApiError, badRequest, type KubeObject, type KubeStatus } from './object.ts';
import { CUSTOM_RESOURCE_PATCH_TYPES, PATCH_CONTENT_TYPES, patchTypeOf, unsupportedPatchType } from './patch.ts';
import { decodeKubeProtobuf, isKubeProtobuf } from './protobuf/decode.ts';
import type { KindRegistry, ResourceKind, ServedKind } from './registry.ts';
import { answerReview, isReviewPath, type UserInfo } from './reviews.ts';
import { rejectUpgrade } from './stream/exec.ts';
import { parseProxyPath, type ProxyPath } from './stream/proxy.ts';

// The REST surface of a lab's API server: URL → kind, namespace, name and subresource; verb →
// ClusterApi call; content negotiation (JSON, server-side Tables, watch streams); every failure as
// a metav1.Status. Nothing here knows what a lab is: the documents, printers and the streaming
// subresources (log, exec, attach) are passed in.

/** The largest request body accepted, as kube-apiserver's 3 MiB limit. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export interface DocResponse { status: number; contentType: string; body: string | Buffer }

export interface TableOptions { now: Date; resourceVersion?: string; noHeaders?: boolean; includeObject?: 'None' | 'Metadata' | 'Object' }

export interface RestDeps {
  api: ClusterApi;
  /** /version, discovery and OpenAPI documents; undefined when the path is not one of them. */
  docs(path: string, query: URLSearchParams, accept: string | undefined): DocResponse | undefined;
  table(kind: ServedKind, objects: KubeObject[], opts: TableOptions): unknown;
  /** Who a bearer token stands for; undefined for one this lab does not accept. */
  authenticate(token: string | undefined): UserInfo | undefined;
  logs?(req: IncomingMessage, res: ServerResponse, pod: KubeObject, query: URLSearchParams): Promise<void>;
  /** serviceaccounts/<name>/token: a TokenRequest answered with a token for the service account. */
  token?(serviceAccount: KubeObject, request: unknown): KubeObject;
  /** pods/proxy and services/proxy: answers the request from the pod. */
  proxy?(req: IncomingMessage, res: ServerResponse, target: ProxyPath, search: string): Promise<void>;
  /** exec, attach or portforward: takes over the upgraded connection. */
  stream?(req: IncomingMessage, socket: Duplex, head: Buffer, pod: KubeObject, sub: StreamSubresource, query: URLSearchParams): void;
}

/** The pod subresources that take over their connection (an HTTP upgrade). */
const STREAM_SUBRESOURCES = ['exec', 'attach', 'portforward'] as const;
export type StreamSubresource = (typeof STREAM_SUBRESOURCES)[number];
const isStreamSubresource = (sub: string | undefined): sub is StreamSubresource => (STREAM_SUBRESOURCES as readonly (string | undefined)[]).includes(sub);

const methodNotAllowed = () => new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');

export interface ResourcePath {
  group: string;
  version: string;
  kind: ResourceKind;
  /** The kind as served at the path's version. */
  served: ServedKind;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** Parses /api/v1/... and /apis/<group>/<version>/... into what it addresses; undefined for other paths. */
export function parseResourcePath(pathname: string, kinds: KindRegistry): ResourcePath | undefined {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) { group = ''; version = parts[1]; rest = parts.slice(2); }
  else if (parts[0] === 'apis' && parts.length >= 4) { group = parts[1]; version = parts[2]; rest = parts.slice(3); }
  else return undefined;
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3 && !(group === '' && (rest[2] === 'status' || rest[2] === 'finalize') && rest.length === 3)) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource, ...extra] = rest;
  if (extra.length) return undefined;
  const served = kinds.byPlural(group, version, plural);
  if (!served) return undefined;
  if (namespace !== undefined && !served.info.namespaced) return undefined;
  return { group, version, kind: served.kind, served, namespace, name, subresource };
}

const statusOf = (e: unknown): KubeStatus => {
  if (e instanceof ApiError) return e.toStatus();
  return new ApiError(500, 'InternalError', `Internal error occurred: ${(e as Error)?.message ?? String(e)}`).toStatus();
};

export function sendStatus(res: ServerResponse, e: unknown): void {
  const s = statusOf(e);
  if (res.headersSent) { res.end(); return; }
  res.writeHead(s.code, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(s));
}

/** `warnings` go out as Warning headers (RFC 7234 code 299), which kubectl prints as "Warning: ...". */
function sendJson(res: ServerResponse, code: number, body: unknown, warnings: string[] = []): void {
  if (warnings.length) res.setHeader('Warning', [...new Set(warnings)].map((w) => `299 - ${JSON.stringify(w)}`));
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${MAX_BODY_BYTES}`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

function parseBody(raw: Buffer, contentType: string | undefined): unknown {
  if (!raw.length) return undefined;
  // kubectl 1.32+ sends its generators' objects (create deployment, namespace, ...) as protobuf.
  if (isKubeProtobuf(contentType)) return decodeKubeProtobuf(raw);
  if (/cbor/.test(contentType ?? '')) {
    throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/merge-patch+json, application/strategic-merge-patch+json, application/json-patch+json, application/apply-patch+yaml`);
  }
  const text = raw.toString('utf8');
  try {
    return /yaml/.test(contentType ?? '') ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw badRequest(`the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (${(e as Error).message.split('\n')[0]})`);
  }
}

const isFieldValidation = (v: string): v is FieldValidation => v === 'Ignore' || v === 'Warn' || v === 'Strict';

/** The `fieldValidation` parameter; the API server's default is Warn. */
function fieldValidationOf(q: URLSearchParams): FieldValidation {
  const v = q.get('fieldValidation') ?? 'Warn';
  if (!isFieldValidation(v)) throw badRequest(`fieldValidation: Unsupported value: "${v}": supported values: "Ignore", "Strict", "Warn"`);
  return v;
}

/**
 * Objects of a custom kind are stored at its storage version and served at every served version:
 * without a conversion webhook ("None" strategy) only their apiVersion changes on the way in and out.
 * Built-in kinds have one version, so nothing changes.
 */
function servedVersion(api: ClusterApi, t: ResourcePath) {
  const stored = groupVersion(api.kinds.info(t.kind));
  const served = groupVersion(t.served.info);
  const convert = (from: string, to: string) => (o: KubeObject): KubeObject => (o.apiVersion === from && from !== to ? { ...o, apiVersion: to } : o);
  return { in: convert(served, stored), out: convert(stored, served) };
}

const wantsTable = (accept: string | undefined) => /as=Table/.test(accept ?? '');
const bool = (v: string | null) => v === 'true' || v === '1';
const bearer = (req: IncomingMessage) => /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];

function includeObjectOf(q: URLSearchParams): TableOptions['includeObject'] {
  const v = q.get('includeObject');
  if (v === null) return 'Metadata';
  if (v === 'None' || v === 'Metadata' || v === 'Object') return v;
  throw badRequest(`includeObject: Unsupported value: "${v}": supported values: "None", "Metadata", "Object"`);
}

export class RestHandler {
  constructor(private readonly deps: RestDeps) {}

  private authenticated(req: IncomingMessage, res: ServerResponse): UserInfo | undefined {
    const user = this.deps.authenticate(bearer(req));
    if (!user) sendStatus(res, new ApiError(401, 'Unauthorized', 'Unauthorized'));
    return user;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'https://api');
      const path = url.pathname.replace(/\/+$/, '') || '/';
      if (path === '/healthz' || path === '/livez' || path === '/readyz') { res.writeHead(200, { 'Content-Type': 'text/plain' }); res.end('ok'); return; }
      const user = this.authenticated(req, res);
      if (!user) return;
      if (isReviewPath(path)) {
        if (req.method !== 'POST') throw methodNotAllowed();
        sendJson(res, 201, answerReview(path, parseBody(await readBody(req), req.headers['content-type']), user));
        return;
      }
      const proxied = parseProxyPath(url.pathname);
      if (proxied) {
        if (!this.deps.proxy) throw new ApiError(503, 'ServiceUnavailable', 'this API server has no pods to proxy to');
        await this.deps.proxy(req, res, proxied, url.search);
        return;
      }
      if (req.method === 'GET') {
        const doc = this.deps.docs(path, url.searchParams, req.headers.accept);
        if (doc) { res.writeHead(doc.status, { 'Content-Type': doc.contentType }); res.end(doc.body); return; }
      }
      const target = parseResourcePath(path, this.deps.api.kinds);
      if (!target) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      await this.resource(req, res, target, url.searchParams);
    } catch (e) {
      sendStatus(res, e);
    }
  }

  /** Upgrade requests: exec, attach and portforward. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const fail = (e: ApiError) => rejectUpgrade(socket, e);
    try {
      if (!this.deps.authenticate(bearer(req))) { fail(new ApiError(401, 'Unauthorized', 'Unauthorized')); return; }
      const url = new URL(req.url ?? '/', 'https://api');
      const t = parseResourcePath(url.pathname, this.deps.api.kinds);
      if (!t || t.kind !== 'Pod' || !t.name || !isStreamSubresource(t.subresource)) {
        throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      }
      const pod = this.deps.api.get('Pod', t.namespace, t.name);
      if (!this.deps.stream) throw new ApiError(400, 'BadRequest', `${t.subresource} is not supported by this server`);
      this.deps.stream(req, socket, head, pod, t.subresource, url.searchParams);
    } catch (e) {
      fail(e instanceof ApiError ? e : new ApiError(500, 'InternalError', (e as Error).message));
    }
  }

  private async resource(req: IncomingMessage, res: ServerResponse, t: ResourcePath, q: URLSearchParams): Promise<void> {
    const { api } = this.deps;
    const info = t.served.info;
    const method = req.method ?? 'GET';
    const dryRun = q.getAll('dryRun').includes('All');
    const sub = t.subresource;
    if (sub && !info.subresources.some((s) => s.name === sub)) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const warnings = t.served.custom?.deprecationWarning ? [t.served.custom.deprecationWarning] : [];
    const write = { dryRun, fieldValidation: fieldValidationOf(q), warn: (message: string) => { warnings.push(message); } };
    const version = servedVersion(api, t);
    const send = (code: number, object: KubeObject) => this.sendObject(res, req, t.served, version.out(object), q, code, warnings);

    if (sub === 'log' && method === 'GET') {
      const pod = api.get('Pod', t.namespace, t.name!);
      if (!this.deps.logs) throw badRequest('logs are not served');
      await this.deps.logs(req, res, pod, q);
      return;
    }
    if (isStreamSubresource(sub)) {
      throw new ApiError(400, 'BadRequest', `Upgrade request required`);
    }
    if (sub === 'scale') { await this.scale(req, res, t, q, dryRun); return; }
    if (sub === 'eviction') {
      // No PodDisruptionBudgets are served, so none forbids an eviction: it is the pod's deletion,
      // with the eviction's delete options (kubectl drain sends its grace period there).
      if (method !== 'POST') throw methodNotAllowed();
      const eviction = parseBody(await readBody(req), req.headers['content-type']) as { metadata?: { name?: string }; deleteOptions?: DeleteOptions & { dryRun?: string[] } } | undefined;
      if (eviction?.metadata?.name !== undefined && eviction.metadata.name !== t.name) throw badRequest('name in URL does not match name in Eviction object');
      const options = eviction?.deleteOptions ?? {};
      api.delete('Pod', t.namespace, t.name!, { gracePeriodSeconds: options.gracePeriodSeconds, preconditions: options.preconditions, dryRun: dryRun || options.dryRun?.includes('All') });
      sendJson(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
      return;
    }
    if (sub === 'token') {
      if (method !== 'POST') throw methodNotAllowed();
      if (!this.deps.token) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      const body = parseBody(await readBody(req), req.headers['content-type']);
      sendJson(res, 201, this.deps.token(api.get('ServiceAccount', t.namespace, t.name!), body));
      return;
    }

    switch (method) {
      case 'GET': {
        if (t.name) {
          send(200, api.get(t.kind, t.namespace, t.name));
          return;
        }
        const opts = { labelSelector: q.get('labelSelector'), fieldSelector: q.get('fieldSelector') };
        if (bool(q.get('watch'))) { this.watch(req, res, t, q, opts); return; }
        const list = api.list(t.kind, t.namespace, opts);
        if (wantsTable(req.headers.accept)) {
          sendJson(res, 200, this.deps.table(t.served, list.items, { now: api.now(), resourceVersion: list.resourceVersion, includeObject: includeObjectOf(q) }), warnings);
          return;
        }
        sendJson(res, 200, { kind: `${info.kind}List`, apiVersion: groupVersion(info), metadata: { resourceVersion: list.resourceVersion }, items: list.items.map(version.out) }, warnings);
        return;
      }
      case 'POST': {
        if (t.name) throw methodNotAllowed();
        const body = parseBody(await readBody(req), req.headers['content-type']) as KubeObject;
        if (!body || typeof body !== 'object') throw badRequest('the request body must be an object');
        send(201, api.create(t.kind, t.namespace, version.in(body), write));
        return;
      }
      case 'PUT': {
        if (!t.name) throw methodNotAllowed();
        const body = parseBody(await readBody(req), req.headers['content-type']) as KubeObject;
        if (!body || typeof body !== 'object') throw badRequest('the request body must be an object');
        send(200, api.update(t.kind, t.namespace, t.name, version.in(body), { ...write, subresource: sub }));
        return;
      }
      case 'PATCH': {
        if (!t.name) throw methodNotAllowed();
        const ct = req.headers['content-type'];
        const type = patchTypeOf(ct);
        if (!type) throw unsupportedPatchType(t.served.custom ? CUSTOM_RESOURCE_PATCH_TYPES : Object.keys(PATCH_CONTENT_TYPES));
        const body = parseBody(await readBody(req), ct);
        const existed = api.tryGet(t.kind, t.namespace, t.name) !== undefined;
        // An apply configuration is a whole object, at the version it was sent to.
        const patch = type === 'apply' && body && typeof body === 'object' ? version.in(body as KubeObject) : body;
        send(existed ? 200 : 201, api.patch(t.kind, t.namespace, t.name, type, patch, { ...write, subresource: sub }));
        return;
      }
      case 'DELETE': {
        const raw = parseBody(await readBody(req), req.headers['content-type']) as DeleteOptions & { kind?: string } | undefined;
        const opts: DeleteOptions = {
          propagationPolicy: (q.get('propagationPolicy') as DeleteOptions['propagationPolicy']) ?? raw?.propagationPolicy,
          gracePeriodSeconds: q.has('gracePeriodSeconds') ? Number(q.get('gracePeriodSeconds')) : raw?.gracePeriodSeconds,
          preconditions: raw?.preconditions,
          dryRun: dryRun || (raw as { dryRun?: string[] } | undefined)?.dryRun?.includes('All'),
        };
        if (opts.propagationPolicy && !['Foreground', 'Background', 'Orphan'].includes(opts.propagationPolicy)) {
          throw badRequest(`propagationPolicy: Unsupported value: "${opts.propagationPolicy}": supported values: "Foreground", "Background", "Orphan"`);
        }
        if (opts.gracePeriodSeconds !== undefined && !Number.isInteger(opts.gracePeriodSeconds)) throw badRequest('gracePeriodSeconds must be an integer');
        if (!t.name) {
          const list = api.list(t.kind, t.namespace, { labelSelector: q.get('labelSelector'), fieldSelector: q.get('fieldSelector') });
          for (const o of list.items) api.delete(t.kind, o.metadata.namespace, o.metadata.name!, opts);
          sendJson(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' }, warnings);
          return;
        }
        const { object, gone } = api.delete(t.kind, t.namespace, t.name, opts);
        send(gone ? 200 : 202, object);
        return;
      }
      default:
        throw methodNotAllowed();
    }
  }

  private sendObject(res: ServerResponse, req: IncomingMessage, served: ServedKind, object: KubeObject, q: URLSearchParams, code: number, warnings: string[]): void {
    if (wantsTable(req.headers.accept)) {
      sendJson(res, code, this.deps.table(served, [object], { now: this.deps.api.now(), resourceVersion: this.deps.api.store.resourceVersion, includeObject: includeObjectOf(q) }), warnings);
      return;
    }
    sendJson(res, code, object, warnings);
  }

  /** GET/PUT/PATCH …/scale as autoscaling/v1 Scale, what `kubectl scale` reads and patches. */
  private async scale(req: IncomingMessage, res: ServerResponse, t: ResourcePath, q: URLSearchParams, dryRun: boolean): Promise<void> {
    const { api } = this.deps;
    const toScale = (o: KubeObject) => {
      const spec = (o.spec ?? {}) as { replicas?: number; selector?: { matchLabels?: Record<string, string> } };
      const status = (o.status ?? {}) as { replicas?: number };
      const selector = Object.entries(spec.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
      return {
        kind: 'Scale', apiVersion: 'autoscaling/v1',
        metadata: { name: o.metadata.name, namespace: o.metadata.namespace, uid: o.metadata.uid, resourceVersion: o.metadata.resourceVersion, creationTimestamp: o.metadata.creationTimestamp },
        spec: { replicas: spec.replicas ?? 1 }, status: { replicas: status.replicas ?? 0, selector },
      };
    };
    const current = api.get(t.kind, t.namespace, t.name!);
    if (req.method === 'GET') { sendJson(res, 200, toScale(current)); return; }
    const body = parseBody(await readBody(req), req.headers['content-type']);
    let scale: { spec?: { replicas?: unknown }; metadata?: { resourceVersion?: string } };
    if (req.method === 'PUT') scale = body as typeof scale;
    else if (req.method === 'PATCH') {
      const type = patchTypeOf(req.headers['content-type']);
      if (!type) throw unsupportedPatchType(Object.keys(PATCH_CONTENT_TYPES));
      // The Scale has no merge keys of its own; the parent kind's (none under spec.replicas) serve.
      scale = api.patchValue(t.kind, toScale(current), type, body) as typeof scale;
    } else throw methodNotAllowed();
    const replicas = scale?.spec?.replicas;
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
      throw new ApiError(422, 'Invalid', `Scale.autoscaling "${t.name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`);
    }
    const updated = api.update(t.kind, t.namespace, t.name!, { ...current, spec: { ...(current.spec as object), replicas }, metadata: { ...current.metadata, resourceVersion: scale.metadata?.resourceVersion ?? current.metadata.resourceVersion } }, { dryRun });
    sendJson(res, 200, toScale(updated));
  }

  private watch(req: IncomingMessage, res: ServerResponse, t: ResourcePath, q: URLSearchParams, opts: { labelSelector: string | null; fieldSelector: string | null }): void {
    const { api } = this.deps;
    const table = wantsTable(req.headers.accept);
    const includeObject = table ? includeObjectOf(q) : undefined;
    const version = servedVersion(api, t);
    let first = true;
    const encode = (e: WatchEvent) => {
      const served = version.out(e.object);
      const object = table ? this.deps.table(t.served, [served], { now: api.now(), resourceVersion: e.object.metadata.resourceVersion, noHeaders: !first, includeObject }) : served;
      first = false;
      return JSON.stringify({ type: e.type, object }) + '\n';
    };
    const pending: WatchEvent[] = [];
    let started = false;
    // Subscribing may throw 410 Expired: that must be a Status response, not a broken stream.
    const stop = api.watch(t.kind, t.namespace, { ...opts, resourceVersion: q.get('resourceVersion') ?? undefined }, (e) => {
      if (!started) { pending.push(e); return; }
      res.write(encode(e));
    });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    started = true;
    for (const e of pending) res.write(encode(e));
    const timeout = Number(q.get('timeoutSeconds') ?? 1800);
    const bookmarks = bool(q.get('allowWatchBookmarks'))
      ? setInterval(() => res.write(JSON.stringify({ type: 'BOOKMARK', object: { kind: t.served.info.kind, apiVersion: groupVersion(t.served.info), metadata: { resourceVersion: api.store.resourceVersion } } }) + '\n'), 30_000)
      : undefined;
    const end = setTimeout(() => res.end(), Math.max(1, Math.min(timeout, 3600)) * 1000);
    const close = () => { stop(); clearTimeout(end); if (bookmarks) clearInterval(bookmarks); };
    res.on('close', close);
    req.on('close', close);
  }
}
