// What each protobuf field of a served kind means: the tables of messages.ts, parsed once into
// MessageSchemas, and the lookup from an envelope's apiVersion/kind to the message of its object.
//
// A table entry describes one Go struct field as go-to-protobuf encodes it:
//   '<number> <jsonName> <type>'   a field; <type> is a scalar (string, bytes, bool, int32, int64), a
//                                  well-known type (Time, MicroTime, Quantity, IntOrString, FieldsV1),
//                                  or a message ("Name" in the same package, "pkg.Name" in another);
//                                  "[]<type>" is repeated, "map[string]<type>" a map.
//   '<number> ...<Message>'        an embedded struct (`json:",inline"`): a nested message on the wire
//                                  whose fields JSON lifts into the parent (Volume's VolumeSource).
// A scalar type ends in "?" when Go declares a plain value with `omitempty`: go-to-protobuf writes such
// fields even when zero (gogo marshals every non-pointer field), while encoding/json leaves a zero out,
// so a "?" zero is dropped to give the JSON the same client would have sent. Pointers and values
// without omitempty keep a zero (`replicas: 0` is a choice; `port: 0` is what JSON carries too).
// Entries are listed in Go declaration order, which is the order encoding/json writes the keys.

import { KINDS, groupVersion } from '../kinds.ts';
import { REVIEW_KINDS } from '../reviews.ts';
import { PACKAGES, type PackageName } from './messages.ts';

export type ScalarType = 'string' | 'bytes' | 'bool' | 'int32' | 'int64';
export type WellKnownType = 'Time' | 'MicroTime' | 'Quantity' | 'IntOrString' | 'FieldsV1';

export type ValueType =
  | { kind: 'scalar'; scalar: ScalarType }
  | { kind: 'wellKnown'; name: WellKnownType }
  | { kind: 'message'; message: MessageSchema };

export interface FieldSchema {
  number: number;
  /** The JSON key; undefined for an embedded struct, whose fields appear in the parent's JSON. */
  json: string | undefined;
  shape: 'single' | 'list' | 'map';
  type: ValueType;
  /** A zero scalar is left out of the JSON (a Go value field with omitempty). */
  omitZero: boolean;
}

export interface MessageSchema {
  /** "core.PodSpec", "meta.ObjectMeta"... */
  name: string;
  /** In Go declaration order. */
  fields: FieldSchema[];
  byNumber: Map<number, FieldSchema>;
}

const SCALARS: readonly string[] = ['string', 'bytes', 'bool', 'int32', 'int64'] satisfies ScalarType[];
const WELL_KNOWN: readonly string[] = ['Time', 'MicroTime', 'Quantity', 'IntOrString', 'FieldsV1'] satisfies WellKnownType[];

/** Every message of every package, by qualified name, fields resolved. Messages are created before
 *  their fields are parsed, so references between them (in any order) resolve to the same object. */
function buildSchemas(): Map<string, MessageSchema> {
  const schemas = new Map<string, MessageSchema>();
  for (const [pkg, table] of Object.entries(PACKAGES)) {
    for (const name of Object.keys(table)) schemas.set(`${pkg}.${name}`, { name: `${pkg}.${name}`, fields: [], byNumber: new Map() });
  }
  for (const [pkg, table] of Object.entries(PACKAGES)) {
    for (const [name, entries] of Object.entries(table)) {
      const schema = schemas.get(`${pkg}.${name}`)!;
      for (const entry of entries) {
        const field = parseEntry(entry, pkg, schemas);
        if (schema.byNumber.has(field.number)) throw new Error(`${schema.name}: field number ${field.number} declared twice`);
        schema.fields.push(field);
        schema.byNumber.set(field.number, field);
      }
    }
  }
  return schemas;
}

function parseEntry(entry: string, pkg: string, schemas: Map<string, MessageSchema>): FieldSchema {
  const where = `${pkg} table entry '${entry}'`;
  const inline = /^(\d+) \.\.\.([\w.]+)$/.exec(entry);
  if (inline) {
    const type = resolveType(inline[2], pkg, schemas, where);
    if (type.kind !== 'message') throw new Error(`${where}: only messages can be embedded`);
    return { number: Number(inline[1]), json: undefined, shape: 'single', type, omitZero: false };
  }
  const m = /^(\d+) (\w+) (\[\]|map\[string\])?([\w.]+)(\?)?$/.exec(entry);
  if (!m) throw new Error(`${where}: expected '<number> <jsonName> <type>'`);
  const [, number, json, container, typeName, optional] = m;
  const type = resolveType(typeName, pkg, schemas, where);
  if (optional && (container || type.kind !== 'scalar')) throw new Error(`${where}: only single scalars take "?"`);
  return { number: Number(number), json, shape: container === '[]' ? 'list' : container ? 'map' : 'single', type, omitZero: Boolean(optional) };
}

function resolveType(name: string, pkg: string, schemas: Map<string, MessageSchema>, where: string): ValueType {
  if (SCALARS.includes(name)) return { kind: 'scalar', scalar: name as ScalarType };
  if (WELL_KNOWN.includes(name)) return { kind: 'wellKnown', name: name as WellKnownType };
  const message = schemas.get(name.includes('.') ? name : `${pkg}.${name}`);
  if (!message) throw new Error(`${where}: unknown type ${name}`);
  return { kind: 'message', message };
}

export const SCHEMAS = buildSchemas();

// ---------------------------------------------------------------------------------------------
// The objects a request body may carry

/** The package of each served API group (versions are all v1). */
const GROUP_PACKAGES: Record<string, PackageName> = {
  '': 'core',
  apps: 'apps',
  'discovery.k8s.io': 'discovery',
  'networking.k8s.io': 'networking',
  autoscaling: 'autoscaling',
  policy: 'policy',
  'authentication.k8s.io': 'authentication',
  'authorization.k8s.io': 'authorization',
};

/** "<apiVersion>/<kind>" → message: every served kind, the kinds its subresources take as a
 *  body (Scale, Eviction, TokenRequest, Binding), and the reviews (reviews.ts). DeleteOptions is
 *  registered in every group version, as in the apiserver's scheme, and under meta.k8s.io/v1. */
function buildRoots(): Map<string, MessageSchema> {
  const roots = new Map<string, MessageSchema>();
  const add = (group: string, version: string, kind: string) => {
    const pkg = GROUP_PACKAGES[group];
    const schema = version === 'v1' && pkg ? SCHEMAS.get(`${pkg}.${kind}`) : undefined;
    if (schema) roots.set(`${groupVersion({ group, version })}/${kind}`, schema);
  };
  const deleteOptions = SCHEMAS.get('meta.DeleteOptions')!;
  roots.set('meta.k8s.io/v1/DeleteOptions', deleteOptions);
  for (const info of Object.values(KINDS)) {
    add(info.group, info.version, info.kind);
    for (const sub of info.subresources) add(sub.group ?? info.group, sub.version ?? info.version, sub.kind);
    roots.set(`${groupVersion(info)}/DeleteOptions`, deleteOptions);
  }
  for (const r of REVIEW_KINDS) add(r.group, r.version, r.kind);
  return roots;
}

const ROOTS = buildRoots();

/** The message of an object of this apiVersion and kind, if a request body may carry one. */
export function objectSchema(apiVersion: string, kind: string): MessageSchema | undefined {
  return ROOTS.get(`${apiVersion}/${kind}`);
}
