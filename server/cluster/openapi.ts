// The API's OpenAPI documents (v3, and the sliver of v2 kubectl 1.28 needs), built from
// @kubernetes/client-node's models for the built-in kinds and from their definitions' schemas for
// custom kinds (crd/openapi.ts), over the lab's kind registry.
//
// kubectl reads them for two things: `apply`/`create`/`edit` (1.29+) look for a PATCH operation whose
// `x-kubernetes-group-version-kind` is the object's kind and which declares the `fieldValidation`
// query parameter (without one they refuse to run, "failed to download openapi"); `explain` finds the
// path of the resource, takes the GVK of its operations, then the component schema carrying that
// GVK, and walks `properties`, `items`, `additionalProperties` and `allOf: [{$ref}]` from there.
//
// Each client-node model class (V1Pod, V1ObjectMeta, CoreV1Event...) has a static `attributeTypeMap`
// (JSON field name, TypeScript type, format); its `.d.ts` carries the upstream field descriptions in
// JSDoc, and a field without `?` is required. Schemas are named as upstream names them
// (io.k8s.api.core.v1.Pod, io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta): explain prints the last
// dotted segment as the field's type ("<[]ContainerPort>").
//
// Documents are built on first request and cached (~40 ms for api/v1 or apps/v1, cold); each model's
// files are read once.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PATCH_META_BY_SCHEMA } from './patch/merge-keys.ts';
import { customKindSchemas, type NamedSchema } from './crd/openapi.ts';
import { KINDS, groupVersion, isBuiltin, type KindInfo, type Subresource, type Verb } from './kinds.ts';
import type { KindRegistry, ServedKind } from './registry.ts';

type Schema = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Reading client-node's models

interface Attribute { name: string; baseName: string; type: string; format: string }

interface Model {
  description?: string;
  fields: { jsonName: string; type: string; format: string; description?: string; required: boolean }[];
}

const MODELS_DIR = dirname(createRequire(import.meta.url).resolve('@kubernetes/client-node/dist/gen/models/V1Pod.js'));

const hasModel = (className: string) => existsSync(join(MODELS_DIR, `${className}.js`));

const models = new Map<string, Model>();

/** A model's fields (from its class) with their docs (from its declaration file). */
function model(className: string): Model {
  let found = models.get(className);
  if (!found) {
    const attributes = readAttributeTypeMap(className);
    const docs = parseDeclaration(readFileSync(join(MODELS_DIR, `${className}.d.ts`), 'utf8'));
    found = {
      description: docs.classDescription,
      fields: attributes.map((a) => ({
        jsonName: a.baseName, type: a.type, format: a.format,
        description: docs.fields.get(a.name)?.description, required: docs.fields.get(a.name)?.required ?? false,
      })),
    };
    models.set(className, found);
  }
  return found;
}

/** The class's static attributeTypeMap, read from the generated module's text, where it is a JSON
 *  array literal: importing each module instead costs 1-2 ms apiece under tsx's loader (a document
 *  needs ~200), and must be asynchronous. openapi.test.ts checks the two agree. */
export function readAttributeTypeMap(className: string): Attribute[] {
  const source = readFileSync(join(MODELS_DIR, `${className}.js`), 'utf8');
  const marker = `${className}.attributeTypeMap = `;
  const start = source.indexOf(marker);
  const end = source.indexOf('\n];', start);
  if (start < 0 || end < 0) throw new Error(`no attributeTypeMap in client-node model ${className}`);
  return JSON.parse(source.slice(start + marker.length, end + 2)) as Attribute[];
}

/** The JSDoc of `export declare class X` and of each `'field'?: type;` member. */
function parseDeclaration(source: string) {
  const fields = new Map<string, { description?: string; required: boolean }>();
  let classDescription: string | undefined;
  let comment: string[] | undefined;
  let pending: string | undefined;
  for (const line of source.split('\n')) {
    const text = line.trim();
    if (text.startsWith('/**')) comment = [];
    else if (text.startsWith('*/')) { pending = comment?.join('\n') || undefined; comment = undefined; }
    else if (comment) comment.push(text.replace(/^\* ?/, ''));
    else {
      const member = /^'([^']+)'(\?)?:/.exec(text);
      if (member) fields.set(member[1], { description: pending && unescapeDoc(pending), required: !member[2] });
      else if (text.startsWith('export declare class')) classDescription = pending && unescapeDoc(pending);
      if (text) pending = undefined;
    }
  }
  return { classDescription, fields };
}

/** The generator escaped quotes and backslashes in the upstream text. */
const unescapeDoc = (text: string) => text.replace(/\\(.)/g, '$1');

// ---------------------------------------------------------------------------------------------
// Upstream names

const SCHEMAS = '#/components/schemas/';
const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';

/** client-node drops the package; the classes of apimachinery's meta/v1 keep upstream's short names. */
const META_TYPES = new Set(['ObjectMeta', 'ListMeta', 'ManagedFieldsEntry', 'OwnerReference', 'LabelSelector',
  'LabelSelectorRequirement', 'Condition', 'Status', 'StatusDetails', 'StatusCause', 'DeleteOptions', 'Preconditions', 'WatchEvent']);

/** core/v1 types that other groups' objects embed (a Deployment's pod template, a StatefulSet's volume
 *  claims, an EndpointSlice's targetRef, an Ingress's resource backend): everything below them is core. */
const CORE_TYPES_EMBEDDED_ELSEWHERE = new Set(['PodTemplateSpec', 'PersistentVolumeClaim', 'ObjectReference', 'TypedLocalObjectReference']);

/** Upstream's Go package of an API group: "apps" → io.k8s.api.apps.v1, "networking.k8s.io" → io.k8s.api.networking.v1. */
const packageOf = (group: string, version: string) => `io.k8s.api.${group ? group.split('.')[0] : 'core'}.${version}`;

/** V1Pod → {version: v1, name: Pod}; CoreV1Event → {prefix: core, version: v1, name: Event} (client-node
 *  prefixes the group when two groups define the same name). */
function splitClassName(className: string) {
  const m = /^([A-Z][a-z]+)?(V\d+(?:alpha\d+|beta\d+)?)([A-Z]\w*)$/.exec(className);
  if (!m) throw new Error(`not a client-node model name: ${className}`);
  return { prefix: m[1]?.toLowerCase(), version: m[2].toLowerCase(), name: m[3] };
}

/** The upstream schema name of a model, given the package of the type that refers to it. */
function schemaName(className: string, referrerPackage: string): string {
  const { prefix, version, name } = splitClassName(className);
  if (META_TYPES.has(name)) return `${META}.${name}`;
  if (prefix) return `io.k8s.api.${prefix}.${version}.${name}`;
  if (CORE_TYPES_EMBEDDED_ELSEWHERE.has(name)) return `io.k8s.api.core.${version}.${name}`;
  return `${referrerPackage}.${name}`;
}

const pascal = (word: string) => word.charAt(0).toUpperCase() + word.slice(1);

/** The model class of a kind: the group-prefixed name when client-node has one (CoreV1Event), else V1<Kind>. */
function modelClassOf(group: string, version: string, kind: string): string | undefined {
  return [`${pascal(group ? group.split('.')[0] : 'core')}${pascal(version)}${kind}`, `${pascal(version)}${kind}`].find(hasModel);
}

/** Schemas client-node has no class for: apimachinery's wrapper types, written as upstream serves them. */
const WRAPPER_SCHEMAS: Record<string, Schema> = {
  [`${META}.Time`]: { type: 'string', format: 'date-time', description: 'Time is a wrapper around time.Time which supports correct marshaling to YAML and JSON: RFC 3339 timestamps with second precision.' },
  [`${META}.MicroTime`]: { type: 'string', format: 'date-time', description: 'MicroTime is version of Time with microsecond level precision.' },
  // Typeless, as upstream's v3 documents have it: explain then names the type (<IntOrString>).
  ['io.k8s.apimachinery.pkg.util.intstr.IntOrString']: { oneOf: [{ type: 'integer' }, { type: 'string' }], format: 'int-or-string', description: 'IntOrString is a type that can hold an int32 or a string. It is written in JSON as whichever it holds: 8080, or "http".' },
  [`${META}.Patch`]: { type: 'object', description: 'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.' },
};

// ---------------------------------------------------------------------------------------------
// Schemas

/** The GVKs each model serves as, from KINDS: a kind, its list, the kinds of subresources. */
let gvkByClass: Map<string, { group: string; version: string; kind: string }[]> | undefined;
function gvksOf(className: string) {
  if (!gvkByClass) {
    gvkByClass = new Map();
    const add = (group: string, version: string, kind: string) => {
      const cls = modelClassOf(group, version, kind);
      if (cls && !gvkByClass!.get(cls)?.some((g) => g.group === group && g.kind === kind)) gvkByClass!.set(cls, [...(gvkByClass!.get(cls) ?? []), { group, kind, version }]);
    };
    for (const info of Object.values(KINDS)) {
      add(info.group, info.version, info.kind);
      add(info.group, info.version, `${info.kind}List`);
      for (const sub of info.subresources) add(sub.group ?? info.group, sub.version ?? info.version, sub.kind);
    }
  }
  return gvkByClass.get(className);
}

/** Collects the component schemas one document refers to. */
class SchemaSet {
  readonly schemas: Record<string, Schema> = {};

  /** `custom`: the schemas of the document's custom kinds, by "<group>/<version>/<kind>". */
  constructor(private readonly custom = new Map<string, NamedSchema>()) {}

  /** A `$ref` to a model, adding it and every type below it. */
  refModel(className: string, packageName: string): string {
    const name = schemaName(className, packageName);
    if (!this.schemas[name]) {
      this.schemas[name] = {}; // placeholder: breaks cycles (JSONSchemaProps, ...)
      this.schemas[name] = this.objectSchema(className, name);
    }
    return SCHEMAS + name;
  }

  /** The `$ref` to a kind's schema, or undefined when client-node has no model for it (PodExecOptions). */
  refKind(group: string, version: string, kind: string): string | undefined {
    const custom = this.custom.get(`${group}/${version}/${kind}`);
    if (custom) {
      this.schemas[custom.name] ??= custom.schema;
      this.refModel('V1ObjectMeta', META);
      this.refModel('V1ListMeta', META);
      return SCHEMAS + custom.name;
    }
    const cls = modelClassOf(group, version, kind);
    return cls && this.refModel(cls, packageOf(group, version));
  }

  refWrapper(name: string): string {
    this.schemas[name] ??= WRAPPER_SCHEMAS[name];
    return SCHEMAS + name;
  }

  private objectSchema(className: string, name: string): Schema {
    const { description, fields } = model(className);
    const properties: Record<string, Schema> = {};
    const packageName = name.slice(0, name.lastIndexOf('.'));
    for (const field of fields) {
      const schema = this.fieldSchema(field.type, field.format, packageName);
      properties[field.jsonName] = typeof schema.$ref !== 'string' ? { ...(field.description ? { description: field.description } : {}), ...schema }
        // A field that names another type refers to it through allOf, its own description beside the
        // reference: explain prints both (as upstream serves them).
        : field.description ? { description: field.description, allOf: [schema] }
        // client-node's generator dropped the descriptions of such fields (metadata, spec, status...)
        // more often than not: describe them by their type, which explain then prints only once.
        : { ...schema, description: this.schemas[schema.$ref.slice(SCHEMAS.length)]?.description };
      const patch = PATCH_META_BY_SCHEMA[name]?.[field.jsonName];
      if (patch?.strategy) {
        properties[field.jsonName]['x-kubernetes-patch-strategy'] = patch.strategy;
        if (patch.mergeKey) properties[field.jsonName]['x-kubernetes-patch-merge-key'] = patch.mergeKey;
      }
    }
    const required = fields.filter((f) => f.required).map((f) => f.jsonName);
    const gvks = gvksOf(className);
    return {
      ...(description ? { description } : {}),
      type: 'object',
      properties,
      ...(required.length ? { required } : {}),
      ...(gvks ? { 'x-kubernetes-group-version-kind': gvks } : {}),
    };
  }

  /** The schema of a client-node attribute type: "string", "Array<V1Container>", "{ [key: string]: string; }"... */
  private fieldSchema(type: string, format: string, packageName: string): Schema {
    const array = /^Array<(.+)>$/.exec(type);
    if (array) return { type: 'array', items: this.fieldSchema(array[1], format, packageName) };
    const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
    if (map) return { type: 'object', additionalProperties: this.fieldSchema(map[1], format, packageName) };
    switch (type) {
      case 'string': return format ? { type: 'string', format } : { type: 'string' };
      case 'boolean': return { type: 'boolean' };
      case 'number': return format.startsWith('int') ? { type: 'integer', format } : format ? { type: 'number', format } : { type: 'number' };
      case 'Date': case 'V1MicroTime': return { $ref: this.refWrapper(format === 'date-time-micro' ? `${META}.MicroTime` : `${META}.Time`) };
      case 'IntOrString': return { $ref: this.refWrapper('io.k8s.apimachinery.pkg.util.intstr.IntOrString') };
      case 'any': return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }; // RawExtension, FieldsV1
      default: return { $ref: this.refModel(type, packageName) };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Paths

const param = (name: string, type: 'string' | 'integer' | 'boolean', description: string, where: 'query' | 'path' = 'query'): Schema =>
  ({ name, in: where, description, ...(where === 'path' ? { required: true } : {}), schema: { type, uniqueItems: true } });

const PARAMS = {
  pretty: param('pretty', 'string', "If 'true', then the output is pretty printed."),
  dryRun: param('dryRun', 'string', 'When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed'),
  fieldManager: param('fieldManager', 'string', 'fieldManager is a name associated with the actor or entity that is making these changes.'),
  fieldValidation: param('fieldValidation', 'string', 'fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict'),
  force: param('force', 'boolean', 'Force is going to "force" Apply requests: the user re-acquires conflicting fields owned by other managers.'),
  gracePeriodSeconds: param('gracePeriodSeconds', 'integer', 'The duration in seconds before the object should be deleted. Zero means delete immediately.'),
  orphanDependents: param('orphanDependents', 'boolean', 'Deprecated: please use the PropagationPolicy. Should the dependent objects be orphaned.'),
  propagationPolicy: param('propagationPolicy', 'string', "Whether and how garbage collection will be performed: 'Orphan', 'Background' or 'Foreground'."),
  allowWatchBookmarks: param('allowWatchBookmarks', 'boolean', 'allowWatchBookmarks requests watch events with type "BOOKMARK".'),
  continue: param('continue', 'string', 'The continue option should be set when retrieving more results from the server.'),
  fieldSelector: param('fieldSelector', 'string', 'A selector to restrict the list of returned objects by their fields. Defaults to everything.'),
  labelSelector: param('labelSelector', 'string', 'A selector to restrict the list of returned objects by their labels. Defaults to everything.'),
  limit: param('limit', 'integer', 'limit is a maximum number of responses to return for a list call.'),
  resourceVersion: param('resourceVersion', 'string', 'resourceVersion sets a constraint on what resource versions a request may be served from.'),
  resourceVersionMatch: param('resourceVersionMatch', 'string', 'resourceVersionMatch determines how resourceVersion is applied to list calls.'),
  sendInitialEvents: param('sendInitialEvents', 'boolean', 'sendInitialEvents=true may be set together with watch=true to begin the watch stream with synthetic events.'),
  timeoutSeconds: param('timeoutSeconds', 'integer', 'Timeout for the list/watch call.'),
  watch: param('watch', 'boolean', 'Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.'),
};

const LIST_PARAMS = [PARAMS.allowWatchBookmarks, PARAMS.continue, PARAMS.fieldSelector, PARAMS.labelSelector, PARAMS.limit,
  PARAMS.resourceVersion, PARAMS.resourceVersionMatch, PARAMS.sendInitialEvents, PARAMS.timeoutSeconds, PARAMS.watch];
const WRITE_PARAMS = [PARAMS.dryRun, PARAMS.fieldManager, PARAMS.fieldValidation];
const DELETE_PARAMS = [PARAMS.dryRun, PARAMS.gracePeriodSeconds, PARAMS.orphanDependents, PARAMS.propagationPolicy];

const PATCH_CONTENT_TYPES = ['application/apply-patch+yaml', 'application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json'];

const content = (schema: Schema, types = ['application/json', 'application/yaml']) =>
  Object.fromEntries(types.map((t) => [t, { schema }]));

const ok = (schema: Schema, ...more: ('201' | '202')[]) => ({
  '200': { description: 'OK', content: content(schema) },
  ...(more.includes('201') ? { '201': { description: 'Created', content: content(schema) } } : {}),
  ...(more.includes('202') ? { '202': { description: 'Accepted', content: content(schema) } } : {}),
  '401': { description: 'Unauthorized' },
});

type Action = 'get' | 'list' | 'post' | 'put' | 'patch' | 'delete' | 'deletecollection' | 'connect';

const OPERATION_VERB: Record<Action, string> = {
  get: 'read', list: 'list', post: 'create', put: 'replace', patch: 'patch', delete: 'delete', deletecollection: 'deletecollection', connect: 'connect',
};

interface OperationTarget {
  info: KindInfo;
  gvk: { group: string; version: string; kind: string };
  /** "" for the resource itself, else the subresource's name. */
  sub: string;
  namespaced: boolean;
  allNamespaces?: boolean;
}

function operationId(action: Action, method: string, t: OperationTarget) {
  const group = pascal(t.info.group ? t.info.group.split('.')[0] : 'core');
  const connectMethod = action === 'connect' ? pascal(method) : '';
  const scope = t.allNamespaces ? '' : t.namespaced ? 'Namespaced' : '';
  return `${OPERATION_VERB[action]}${connectMethod}${group}${pascal(t.info.version)}${scope}${t.info.kind}${pascal(t.sub)}${t.allNamespaces ? 'ForAllNamespaces' : ''}`;
}

function operation(action: Action, method: string, t: OperationTarget, body: { parameters?: Schema[]; requestBody?: Schema; responses: Schema }) {
  return {
    description: `${OPERATION_VERB[action]} ${t.sub ? `${t.sub} of ` : ''}${t.allNamespaces ? 'objects of kind ' : 'the specified '}${t.info.kind}`,
    operationId: operationId(action, method, t),
    ...(body.parameters ? { parameters: body.parameters } : {}),
    ...(body.requestBody ? { requestBody: body.requestBody } : {}),
    responses: body.responses,
    tags: [`${t.info.group ? t.info.group.split('.')[0] : 'core'}_${t.info.version}`],
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': t.gvk,
  };
}

const ref = ($ref: string | undefined): Schema => ($ref ? { $ref } : { type: 'string' });
const requestBody = (schema: Schema, types?: string[]) => ({ content: content(schema, types), required: true });

/** The operations on one object (or one subresource of it): read, replace, patch, delete. Every
 *  PATCH declares fieldValidation: kubectl's check stops at the first PATCH it finds for the kind. */
function objectOperations(t: OperationTarget, verbs: Verb[], schemas: SchemaSet, objectRef: Schema) {
  const ops: Record<string, unknown> = {};
  const status = ref(schemas.refModel('V1Status', META));
  if (verbs.includes('get')) ops.get = operation('get', 'get', t, { responses: ok(objectRef) });
  if (verbs.includes('update')) ops.put = operation('put', 'put', t, { parameters: WRITE_PARAMS, requestBody: requestBody(objectRef), responses: ok(objectRef, '201') });
  if (verbs.includes('patch')) {
    ops.patch = operation('patch', 'patch', t, {
      parameters: [...WRITE_PARAMS, PARAMS.force],
      requestBody: requestBody(ref(schemas.refWrapper(`${META}.Patch`)), PATCH_CONTENT_TYPES),
      responses: ok(objectRef, '201'),
    });
  }
  if (verbs.includes('delete')) {
    ops.delete = operation('delete', 'delete', t, { parameters: DELETE_PARAMS, requestBody: requestBody(ref(schemas.refModel('V1DeleteOptions', META))), responses: ok(status, '202') });
  }
  if (verbs.includes('create')) ops.post = operation('post', 'post', t, { parameters: WRITE_PARAMS, requestBody: requestBody(objectRef), responses: ok(objectRef, '201', '202') });
  return ops;
}

/** Connect subresources (exec, attach, portforward, proxy) speak their options kind, not an object:
 *  their methods open a stream, and their responses are plain text. */
function connectOperations(t: OperationTarget, verbs: Verb[]) {
  const methods: Record<string, Verb> = { get: 'get', post: 'create', put: 'update', patch: 'patch', delete: 'delete' };
  return Object.fromEntries(Object.entries(methods).filter(([, verb]) => verbs.includes(verb))
    .map(([method]) => [method, operation('connect', method, t, { responses: ok({ type: 'string' }) })]));
}

const isConnect = (sub: Subresource) => sub.kind.endsWith('Options');

function addKindPaths(paths: Record<string, unknown>, info: KindInfo, schemas: SchemaSet) {
  const { group, version, kind, plural, namespaced, verbs } = info;
  const prefix = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const base = namespaced ? `${prefix}/namespaces/{namespace}/${plural}` : `${prefix}/${plural}`;
  const scopeParams = namespaced ? [param('namespace', 'string', 'object name and auth scope, such as for teams and projects', 'path')] : [];
  const nameParam = (what: string) => param('name', 'string', `name of the ${what}`, 'path');
  const gvk = { group, version, kind };
  const objectRef = ref(schemas.refKind(group, version, kind));
  const listRef = ref(schemas.refKind(group, version, `${kind}List`));
  const target: OperationTarget = { info, gvk, sub: '', namespaced };

  const collection: Record<string, unknown> = {};
  if (verbs.includes('list')) collection.get = operation('list', 'get', target, { parameters: LIST_PARAMS, responses: ok(listRef) });
  if (verbs.includes('create')) collection.post = operation('post', 'post', target, { parameters: WRITE_PARAMS, requestBody: requestBody(objectRef), responses: ok(objectRef, '201', '202') });
  if (verbs.includes('deletecollection')) {
    collection.delete = operation('deletecollection', 'delete', target, {
      parameters: [...LIST_PARAMS, ...DELETE_PARAMS],
      requestBody: requestBody(ref(schemas.refModel('V1DeleteOptions', META))),
      responses: ok(ref(schemas.refModel('V1Status', META))),
    });
  }
  paths[base] = { ...collection, parameters: [...scopeParams, PARAMS.pretty] };

  const itemVerbs = verbs.filter((v) => v !== 'create');
  paths[`${base}/{name}`] = { ...objectOperations(target, itemVerbs, schemas, objectRef), parameters: [nameParam(kind), ...scopeParams, PARAMS.pretty] };

  if (namespaced && verbs.includes('list')) {
    paths[`${prefix}/${plural}`] = {
      get: operation('list', 'get', { ...target, allNamespaces: true }, { parameters: LIST_PARAMS, responses: ok(listRef) }),
      parameters: [PARAMS.pretty],
    };
  }

  for (const sub of info.subresources) {
    const subGvk = { group: sub.group ?? group, version: sub.version ?? version, kind: sub.kind };
    const subTarget: OperationTarget = { info, gvk: subGvk, sub: sub.name, namespaced };
    const ops = isConnect(sub)
      ? connectOperations(subTarget, sub.verbs)
      : objectOperations(subTarget, sub.verbs, schemas, ref(schemas.refKind(subGvk.group, subGvk.version, subGvk.kind)));
    paths[`${base}/{name}/${sub.name}`] = { ...ops, parameters: [param('name', 'string', `name of the ${sub.kind}`, 'path'), ...scopeParams, PARAMS.pretty] };
  }
}

// ---------------------------------------------------------------------------------------------
// Documents

/** "api/v1", "apis/apps/v1": the keys of /openapi/v3 and the tails of /openapi/v3/<...>. */
const documentPath = (gv: { group: string; version: string }) => (gv.group ? `apis/${gv.group}/${gv.version}` : `api/${gv.version}`);

function buildDocument(served: ServedKind[]): string {
  const custom = new Map<string, NamedSchema>();
  for (const { info, custom: version } of served) {
    if (!version) continue;
    const { object, list } = customKindSchemas(info, version.schema);
    custom.set(`${info.group}/${info.version}/${info.kind}`, object);
    custom.set(`${info.group}/${info.version}/${info.kind}List`, list);
  }
  const schemas = new SchemaSet(custom);
  const paths: Record<string, unknown> = {};
  for (const { info } of served) addKindPaths(paths, info, schemas);
  return JSON.stringify({
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'unversioned' },
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(schemas.schemas).sort(([a], [b]) => a.localeCompare(b))),
      securitySchemes: { BearerToken: { type: 'apiKey', in: 'header', name: 'authorization', description: 'Bearer Token authentication' } },
    },
    security: [{ BearerToken: [] }],
  });
}

type Document = { json: string; hash: string };

/** Documents of built-in group versions, the same for every lab: built once per process. */
const builtinDocuments = new Map<string, Document>();
/** Documents holding custom kinds, per lab, until its custom kinds change. */
const customDocuments = new WeakMap<KindRegistry, Map<string, Document>>();

function customDocumentsOf(kinds: KindRegistry): Map<string, Document> {
  let docs = customDocuments.get(kinds);
  if (!docs) {
    const fresh = new Map<string, Document>();
    kinds.onChange(() => fresh.clear());
    customDocuments.set(kinds, fresh);
    docs = fresh;
  }
  return docs;
}

function cachedDocument(kinds: KindRegistry, gv: { group: string; version: string }): Document {
  const key = documentPath(gv);
  const served = kinds.served().filter(({ info }) => info.group === gv.group && info.version === gv.version);
  const cache = served.every((s) => isBuiltin(s.kind)) ? builtinDocuments : customDocumentsOf(kinds);
  let doc = cache.get(key);
  if (!doc) {
    const json = buildDocument(served);
    doc = { json, hash: createHash('sha512').update(json).digest('hex').toUpperCase() };
    cache.set(key, doc);
  }
  return doc;
}

/** The JSON of /openapi/v3: one entry per served group version, its URL carrying the document's hash
 *  (clients cache documents by that URL). Builds every document on first call. */
export function openApiV3Index(kinds: KindRegistry): string {
  const paths = Object.fromEntries(kinds.groupVersions().map((gv) => {
    const key = documentPath(gv);
    return [key, { serverRelativeURL: `/openapi/v3/${key}?hash=${cachedDocument(kinds, gv).hash}` }];
  }));
  return JSON.stringify({ paths });
}

/** The JSON of /openapi/v3/<api/v1 | apis/<group>/<version>>, or undefined when that group version is not served. */
export function openApiV3Document(path: string, kinds: KindRegistry): string | undefined {
  const gv = kinds.groupVersions().find((g) => documentPath(g) === path);
  return gv && cachedDocument(kinds, gv).json;
}

// ---------------------------------------------------------------------------------------------
// OpenAPI v2, for kubectl 1.28

/** OpenAPI v2 as kubectl asks for it (gnostic's openapi_v2.Document in protobuf), and as
 *  kube-apiserver labels it: Go's MIME parser rejects the "@" of the requested name. */
export const OPENAPI_V2_PROTOBUF = { accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf', contentType: 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf' };

// kubectl 1.28 reads /openapi/v2 (protobuf only) before `explain` (which then renders from v3) and
// for `create`/`apply`, to check that PATCH of the object's kind takes `fieldValidation`: it looks for
// the first path whose PATCH carries the kind's x-kubernetes-group-version-kind extension (YAML) and
// a query parameter of that name. This document holds exactly that; later kubectls never read it.

const varint = (n: number): Buffer => {
  const bytes: number[] = [];
  for (; n > 0x7f; n >>>= 7) bytes.push((n & 0x7f) | 0x80);
  bytes.push(n);
  return Buffer.from(bytes);
};
/** A length-delimited protobuf field (strings and messages alike). */
const pb = (fieldNumber: number, value: string | Buffer[]): Buffer => {
  const payload = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.concat(value);
  return Buffer.concat([varint((fieldNumber << 3) | 2), varint(payload.length), payload]);
};

/** gnostic field numbers: Document{swagger 1, info 2, paths 8}, Info{title 1, version 2},
 *  Paths{path 2}, NamedPathItem{name 1, value 2}, PathItem{patch 8}, Operation{operation_id 5,
 *  parameters 8, vendor_extension 13}, ParametersItem{parameter 1}, Parameter{non_body_parameter 2},
 *  NonBodyParameter{query_parameter_sub_schema 3}, QueryParameterSubSchema{in 2, name 4, type 6},
 *  NamedAny{name 1, value 2}, Any{yaml 2}. */
export function openApiV2Document(kinds: KindRegistry): Buffer {
  return Buffer.concat([
    pb(1, '2.0'),
    pb(2, [pb(1, 'Kubernetes'), pb(2, 'unversioned')]),
    pb(8, kinds.served().map((s) => s.info).filter((k) => k.verbs.includes('patch')).map((k) => {
      const base = `${k.group ? `/apis/${k.group}` : '/api'}/${k.version}${k.namespaced ? '/namespaces/{namespace}' : ''}/${k.plural}/{name}`;
      const gvk = `group: "${k.group}"\nkind: ${k.kind}\nversion: ${k.version}\n`;
      const patch = [
        pb(5, `patch${pascal(k.group ? k.group.split('.')[0] : 'core')}${pascal(k.version)}${k.namespaced ? 'Namespaced' : ''}${k.kind}`),
        pb(8, [pb(1, [pb(2, [pb(3, [pb(2, 'query'), pb(4, 'fieldValidation'), pb(6, 'string')])])])]),
        pb(13, [pb(1, 'x-kubernetes-group-version-kind'), pb(2, [pb(2, gvk)])]),
      ];
      return pb(2, [pb(1, base), pb(2, [pb(8, patch)])]);
    })),
  ]);
}
