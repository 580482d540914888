import { describe, expect, it } from 'vitest';
import type { JsonSchema } from './definition.ts';
import { applySchema } from './structural.ts';

const schema: JsonSchema = {
  type: 'object',
  properties: {
    apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' },
    spec: {
      type: 'object',
      required: ['port'],
      properties: {
        port: { type: 'integer', minimum: 1, maximum: 65535 },
        protocol: { type: 'string', enum: ['HTTP', 'HTTPS'], default: 'HTTP' },
        host: { type: 'string', pattern: '^[a-z.]+$', maxLength: 10 },
        target: { 'x-kubernetes-int-or-string': true },
        note: { type: 'string', nullable: true },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        routes: {
          type: 'array', maxItems: 2,
          items: { type: 'object', properties: { path: { type: 'object', default: { type: 'Prefix' }, properties: { type: { type: 'string' }, value: { type: 'string', default: '/' } } } } },
        },
        free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { known: { type: 'integer' } } },
      },
    },
    status: { type: 'object', default: { phase: 'Pending' }, properties: { phase: { type: 'string' } } },
  },
};

const base = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w', labels: { a: 'b' } } };
const run = (spec: unknown, extra: Record<string, unknown> = {}) => applySchema({ ...base, spec, ...extra }, schema);

describe('a structural schema applied to a custom resource', () => {
  it('prunes undeclared fields, reporting their paths, and never touches apiVersion, kind or metadata', () => {
    const r = run({ port: 80, colour: 'red', routes: [{ path: { value: '/a', wild: 1 } }] }, { extra: true });
    expect(r.unknownFields).toEqual(['spec.colour', 'spec.routes[0].path.wild', 'extra']);
    expect(r.value).toMatchObject({ ...base, spec: { port: 80, routes: [{ path: { value: '/a' } }] } });
    expect((r.value as { spec: object }).spec).not.toHaveProperty('colour');
    expect(r.errors).toEqual([]);
  });

  it('keeps what preserve-unknown-fields and additionalProperties allow, still checking declared fields under them', () => {
    const r = run({ port: 80, labels: { x: 'y' }, free: { anything: { deep: [1] }, known: 'no' } });
    expect(r.unknownFields).toEqual([]);
    expect(r.value).toMatchObject({ spec: { labels: { x: 'y' }, free: { anything: { deep: [1] } } } });
    expect(r.errors).toEqual([{ type: 'FieldValueInvalid', field: 'spec.free.known', message: 'Invalid value: "string": spec.free.known in body must be of type integer: "string"' }]);
  });

  it('defaults missing properties, then the defaulted values\' own properties, at any depth', () => {
    const r = run({ port: 80, routes: [{}, { path: { type: 'Exact' } }] });
    expect(r.value).toMatchObject({
      spec: { protocol: 'HTTP', routes: [{ path: { type: 'Prefix', value: '/' } }, { path: { type: 'Exact', value: '/' } }] },
      status: { phase: 'Pending' },
    });
  });

  it('drops a null the schema does not allow (and defaults in its place), keeps one it does', () => {
    const r = run({ port: 80, protocol: null, note: null });
    expect(r.value).toMatchObject({ spec: { protocol: 'HTTP', note: null } });
    expect(r.errors).toEqual([]);
  });

  it('reports types, required fields, enums, patterns, lengths and bounds in the API server\'s words', () => {
    const r = run({ protocol: 'FTP', host: 'Not-Valid-Host', target: true, routes: [{}, {}, {}] });
    expect(r.errors.map((e) => `${e.field}: ${e.message}`)).toEqual([
      'spec.port: Required value',
      'spec.protocol: Unsupported value: "FTP": supported values: "HTTP", "HTTPS"',
      'spec.host: Too long: may not be more than 10 bytes',
      'spec.host: Invalid value: "Not-Valid-Host": spec.host in body should match \'^[a-z.]+$\'',
      'spec.target: Invalid value: "boolean": spec.target in body must be of type integer,string: "boolean"',
      'spec.routes: Too many: 3: must have at most 2 items',
    ]);
    expect(run({ port: 0 }).errors[0].message).toBe('Invalid value: 0: spec.port in body should be greater than or equal to 1');
    expect(run({ port: 1.5 }).errors[0].message).toBe('Invalid value: "number": spec.port in body must be of type integer: "number"');
    expect(run('text').errors).toEqual([{ type: 'FieldValueInvalid', field: 'spec', message: 'Invalid value: "string": spec in body must be of type object: "string"' }]);
  });

  it('leaves unchecked a pattern only Go\'s regular expressions understand, instead of failing the request', () => {
    const goOnly: JsonSchema = { type: 'object', properties: { name: { type: 'string', pattern: '(?i)^web$' } } };
    expect(applySchema({ name: 'WEB' }, goOnly).errors).toEqual([]);
  });

  it('refuses duplicates in set and map lists, naming the item and, for a map, its keys', () => {
    const lists: JsonSchema = {
      type: 'object',
      properties: {
        tags: { type: 'array', 'x-kubernetes-list-type': 'set', items: { type: 'string' } },
        listeners: { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'], items: { type: 'object', properties: { name: { type: 'string' }, port: { type: 'integer' } } } },
        plain: { type: 'array', items: { type: 'string' } },
      },
    };
    const r = applySchema({ tags: ['a', 'b', 'a'], listeners: [{ name: 'http', port: 80 }, { name: 'http', port: 8080 }], plain: ['x', 'x'] }, lists);
    expect(r.errors.map((e) => `${e.field}: ${e.message}`)).toEqual([
      'tags[2]: Duplicate value: "a"',
      'listeners[1]: Duplicate value: map[string]interface {}{"name":"http"}',
    ]);
  });

  it('keeps the apiVersion, kind and metadata of an embedded resource', () => {
    const embedding: JsonSchema = { type: 'object', properties: { template: { type: 'object', 'x-kubernetes-embedded-resource': true, properties: { spec: { type: 'object' } } } } };
    const r = applySchema({ template: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: {}, other: 1 } }, embedding);
    expect(r.value).toEqual({ template: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: {} } });
    expect(r.unknownFields).toEqual(['template.other']);
  });

  it('runs CEL rules where the value is, transition rules only against an old value, with the rule\'s message', () => {
    const ruled: JsonSchema = {
      type: 'object',
      properties: {
        name: { type: 'string', 'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'Value is immutable' }] },
        paths: {
          type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['id'],
          items: {
            type: 'object', properties: { id: { type: 'string' }, value: { type: 'string' } },
            'x-kubernetes-validations': [
              { rule: "self.value.startsWith('/')", message: "must start with '/'" },
              { rule: 'self.value == oldSelf.value', message: 'fixed once set', fieldPath: '.value', reason: 'FieldValueForbidden' },
            ],
          },
        },
        limit: { type: 'integer', 'x-kubernetes-validations': [{ rule: 'self < 10' }, { rule: 'self.unknownFunction()' }] },
      },
    };
    const fresh = applySchema({ name: 'a', paths: [{ id: 'x', value: 'no-slash' }], limit: 12 }, ruled);
    expect(fresh.errors.map((e) => `${e.field}: ${e.message}`)).toEqual([
      'paths[0]: Invalid value: "object": must start with \'/\'',
      'limit: Invalid value: "integer": failed rule: self < 10',
    ]);
    const updated = applySchema({ name: 'b', paths: [{ id: 'x', value: '/new' }, { id: 'y', value: '/y' }] }, ruled, { name: 'a', paths: [{ id: 'x', value: '/old' }] });
    expect(updated.errors.map((e) => `${e.field}: ${e.message}`)).toEqual([
      'name: Invalid value: "string": Value is immutable',
      'paths[0].value: Forbidden: fixed once set',
    ]);
  });

  it('accepts an int-or-string as either', () => {
    expect(run({ port: 80, target: 8080 }).errors).toEqual([]);
    expect(run({ port: 80, target: 'http' }).errors).toEqual([]);
  });
});
