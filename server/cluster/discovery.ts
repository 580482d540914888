// The API's self-description: /version, discovery and the OpenAPI documents, all derived from the
// lab's kind registry (built-in kinds and those of established CustomResourceDefinitions).
//
// Discovery comes in two forms, chosen by the request's Accept header:
// - aggregated (one request for everything): an APIGroupDiscoveryList from /api (the core group) and
//   /apis (the others). kubectl 1.28/1.29 ask for apidiscovery.k8s.io/v2beta1, 1.30+ for v2, then
//   v2beta1, then plain JSON; the response's Content-Type alone tells client-go which one it got, so it
//   carries the g/v/as parameters exactly.
// - legacy (one request per group version): APIVersions at /api, APIGroupList at /apis, APIGroup at
//   /apis/<group>, APIResourceList at /api/v1 and /apis/<group>/<version>. Subresources are listed
//   as "<plural>/<sub>" entries; `kubectl scale` needs deployments/scale to say autoscaling/v1 Scale.
// kubectl caches discovery on disk (6 h per server, under --cache-dir).

import { createHash } from 'node:crypto';
import { groupVersion, type KindInfo } from './kinds.ts';
import { ApiError } from './object.ts';
import { OPENAPI_V2_PROTOBUF, openApiV2Document, openApiV3Document, openApiV3Index } from './openapi.ts';
import type { KindRegistry } from './registry.ts';

export interface ServerVersion {
  major: string;
  minor: string;
  gitVersion: string;
  /** Optional build facts; unset ones read as an unstamped upstream build does. */
  gitCommit?: string;
  buildDate?: string;
}

export interface DocResponse { status: number; contentType: string; body: string | Buffer }

const JSON_TYPE = 'application/json';
const AGGREGATED_VERSIONS = ['v2', 'v2beta1'] as const;
type AggregatedVersion = (typeof AGGREGATED_VERSIONS)[number];
const aggregatedType = (v: AggregatedVersion) => `application/json;g=apidiscovery.k8s.io;v=${v};as=APIGroupDiscoveryList`;

/** Answers a GET for the API's documents, or undefined when `path` is not one of them:
 *  /version, /api, /apis, /api/v1, /apis/<group>, /apis/<group>/<version>, /openapi/v2, /openapi/v3,
 *  /openapi/v3/<api/v1 | apis/<g>/<v>>. `accept` is the request's Accept header (content negotiation). */
export function serveDocs(path: string, _query: URLSearchParams, accept: string | undefined, version: ServerVersion, kinds: KindRegistry): DocResponse | undefined {
  const clean = path.length > 1 ? path.replace(/\/+$/, '') : path;
  if (clean === '/version') return json(versionInfo(version), accept);
  if (clean === '/api' || clean === '/apis') {
    const core = clean === '/api';
    const chosen = negotiate(accept, [...AGGREGATED_VERSIONS.map(aggregatedType), JSON_TYPE]);
    if (!chosen) return notAcceptable();
    if (chosen === JSON_TYPE) return json(core ? apiVersions(kinds) : apiGroupList(kinds), accept);
    const aggregated = AGGREGATED_VERSIONS.find((v) => aggregatedType(v) === chosen)!;
    return { status: 200, contentType: chosen, body: JSON.stringify(aggregatedDiscovery(kinds, core, aggregated)) };
  }
  // kubectl >= 1.29 reads /openapi/v3; 1.28 needs v2, in protobuf (what it asks for), and nothing else does.
  if (clean === '/openapi/v2') {
    return negotiate(accept, [OPENAPI_V2_PROTOBUF.accept]) ? { status: 200, contentType: OPENAPI_V2_PROTOBUF.contentType, body: openApiV2Document(kinds) } : notFound(clean);
  }
  if (clean === '/openapi/v3') return json(openApiV3Index(kinds), accept);
  if (clean.startsWith('/openapi/v3/')) {
    const doc = openApiV3Document(clean.slice('/openapi/v3/'.length), kinds);
    return doc === undefined ? notFound(clean) : json(doc, accept);
  }
  const parts = clean.split('/').slice(1);
  if (parts[0] === 'api' && parts.length === 2 && isServed(kinds, '', parts[1])) return json(apiResourceList(kinds, '', parts[1]), accept);
  if (parts[0] === 'apis' && parts.length === 2 && groupVersionsOf(kinds, parts[1]).length) return json(apiGroup(kinds, parts[1]), accept);
  if (parts[0] === 'apis' && parts.length === 3 && isServed(kinds, parts[1], parts[2])) return json(apiResourceList(kinds, parts[1], parts[2]), accept);
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Content negotiation

interface MediaRange { type: string; params: Record<string, string>; q: number }

function parseAccept(accept: string): MediaRange[] {
  return accept.split(',').map((clause) => {
    const [type, ...rest] = clause.split(';').map((s) => s.trim());
    const params: Record<string, string> = {};
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq > 0) params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"|"$/g, '');
    }
    const q = params.q === undefined ? 1 : Number(params.q);
    delete params.q;
    return { type: type.toLowerCase(), params, q: Number.isFinite(q) ? q : 0 };
  }).filter((r) => r.type && r.q > 0);
}

/** The first of `offers` (media types with parameters) the client accepts, in the client's order of
 *  preference. A range with parameters (g, v, as) only matches an offer with the same ones: plain
 *  `application/json` or `*\/*` means the plain document. */
function negotiate(accept: string | undefined, offers: string[]): string | undefined {
  if (!accept?.trim()) return offers.at(-1);
  const parsedOffers = offers.map((o) => ({ offer: o, ...parseAccept(o)[0] }));
  const ranges = parseAccept(accept).sort((a, b) => b.q - a.q);
  for (const range of ranges) {
    const [type, subtype] = range.type.split('/');
    const match = parsedOffers.find((o) => {
      const [oType, oSubtype] = o.type.split('/');
      const typeOk = (type === '*' || type === oType) && (subtype === '*' || subtype === oSubtype);
      const rangeKeys = Object.keys(range.params);
      const offerKeys = Object.keys(o.params);
      return typeOk && rangeKeys.length === offerKeys.length && rangeKeys.every((k) => o.params[k] === range.params[k]);
    });
    if (match) return match.offer;
  }
  return undefined;
}

function json(body: unknown, accept: string | undefined): DocResponse {
  if (!negotiate(accept, [JSON_TYPE])) return notAcceptable();
  return { status: 200, contentType: JSON_TYPE, body: typeof body === 'string' ? body : JSON.stringify(body) };
}

const statusResponse = (error: ApiError): DocResponse => ({ status: error.code, contentType: JSON_TYPE, body: JSON.stringify(error.toStatus()) });
const notAcceptable = () => statusResponse(new ApiError(406, 'NotAcceptable', `only the following media types are accepted: ${JSON_TYPE}`));
const notFound = (path: string) => statusResponse(new ApiError(404, 'NotFound', `the server could not find the requested resource (get ${path})`));

// ---------------------------------------------------------------------------------------------
// /version

/** version.Info; the kubectl dispatcher picks its client binary by `minor`. */
export function versionInfo(version: ServerVersion) {
  const arch = ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386' } as Record<string, string>)[process.arch] ?? process.arch;
  return {
    major: version.major,
    minor: version.minor,
    gitVersion: version.gitVersion,
    gitCommit: version.gitCommit ?? '',
    gitTreeState: 'clean',
    buildDate: version.buildDate ?? '1970-01-01T00:00:00Z',
    goVersion: `node${process.versions.node}`,
    compiler: 'gc',
    platform: `${process.platform}/${arch}`,
  };
}

// ---------------------------------------------------------------------------------------------
// Discovery documents

/** The kinds of a group version, sorted by resource name as kube-apiserver lists them. */
const kindsOf = (kinds: KindRegistry, group: string, version: string) =>
  kinds.served().map((s) => s.info).filter((k) => k.group === group && k.version === version).sort((a, b) => a.plural.localeCompare(b.plural));

const isServed = (kinds: KindRegistry, group: string, version: string) => kinds.groupVersions().some((gv) => gv.group === group && gv.version === version);

const groupVersionsOf = (kinds: KindRegistry, group: string) => kinds.groupVersions().filter((gv) => gv.group === group && group !== '');

const servedGroups = (kinds: KindRegistry) => [...new Set(kinds.groupVersions().map((gv) => gv.group).filter((g) => g !== ''))];

/** kube-apiserver's storageVersionHash: the first 8 bytes of sha256("<group>/<version>/<kind>"), base64. */
const storageVersionHash = (k: KindInfo) => createHash('sha256').update(`${k.group}/${k.version}/${k.kind}`).digest().subarray(0, 8).toString('base64');

const versionEntry = (gv: { group: string; version: string }) => ({ groupVersion: groupVersion(gv), version: gv.version });

function apiVersions(kinds: KindRegistry) {
  return { kind: 'APIVersions', versions: kinds.groupVersions().filter((gv) => gv.group === '').map((gv) => gv.version), serverAddressByClientCIDRs: [] };
}

/** A group as /apis lists it; the first version is the preferred one. */
function groupEntry(kinds: KindRegistry, group: string) {
  const versions = groupVersionsOf(kinds, group).map(versionEntry);
  return { name: group, versions, preferredVersion: versions[0] };
}

const apiGroup = (kinds: KindRegistry, group: string) => ({ kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(kinds, group) });

const apiGroupList = (kinds: KindRegistry) => ({ kind: 'APIGroupList', apiVersion: 'v1', groups: servedGroups(kinds).map((g) => groupEntry(kinds, g)) });

function apiResourceList(kinds: KindRegistry, group: string, version: string) {
  const resources = kindsOf(kinds, group, version).flatMap((k) => [
    {
      name: k.plural, singularName: k.singular, namespaced: k.namespaced, kind: k.kind, verbs: k.verbs,
      ...(k.shortNames.length ? { shortNames: k.shortNames } : {}),
      ...(k.categories.length ? { categories: k.categories } : {}),
      storageVersionHash: storageVersionHash(k),
    },
    ...k.subresources.map((s) => ({
      name: `${k.plural}/${s.name}`, singularName: '', namespaced: k.namespaced,
      ...(s.group !== undefined ? { group: s.group } : {}),
      ...(s.version !== undefined ? { version: s.version } : {}),
      kind: s.kind, verbs: s.verbs,
    })),
  ]);
  // The core group's list carries no apiVersion, as kube-apiserver serves it.
  return { kind: 'APIResourceList', ...(group ? { apiVersion: 'v1' } : {}), groupVersion: groupVersion({ group, version }), resources };
}

function aggregatedDiscovery(kinds: KindRegistry, core: boolean, version: AggregatedVersion) {
  const groups = core ? [''] : servedGroups(kinds);
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: `apidiscovery.k8s.io/${version}`,
    metadata: {},
    items: groups.map((group) => ({
      metadata: group ? { name: group } : {},
      versions: kinds.groupVersions().filter((gv) => gv.group === group).map((gv) => ({
        version: gv.version,
        resources: kindsOf(kinds, group, gv.version).map((k) => ({
          resource: k.plural,
          responseKind: { group, version: gv.version, kind: k.kind },
          scope: k.namespaced ? 'Namespaced' : 'Cluster',
          singularResource: k.singular,
          verbs: k.verbs,
          ...(k.shortNames.length ? { shortNames: k.shortNames } : {}),
          ...(k.categories.length ? { categories: k.categories } : {}),
          ...(k.subresources.length ? {
            subresources: k.subresources.map((s) => ({
              subresource: s.name,
              responseKind: { group: s.group ?? group, version: s.version ?? gv.version, kind: s.kind },
              verbs: s.verbs,
            })),
          } : {}),
        })),
        freshness: 'Current',
      })),
    })),
  };
}
