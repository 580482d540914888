import type { FieldError } from '../admission/validate.ts';
import { goQuote } from '../admission/validate.ts';
import { compileRule } from './cel.ts';
import type { JsonSchema } from './definition.ts';

// What the API server does to a custom resource with its version's structural schema, in its
// order: prune (fields the schema does not declare are dropped, except under
// x-kubernetes-preserve-unknown-fields, and reported so that fieldValidation=Strict can refuse
// them; null where the schema does not allow it is dropped too), default (a missing property
// with a `default` gets it, then its own properties are defaulted), then validate (types, required,
// enum, patterns, bounds, then the CEL rules of x-kubernetes-validations, transition rules only
// where the old object has the value too), with kube-openapi's words for each failure. apiVersion, kind and metadata
// at the root (and in an x-kubernetes-embedded-resource) are the API server's, never pruned here; lists of x-kubernetes-list-type set or map
// hold no duplicates. Not done: formats, anyOf/oneOf/allOf/not, messageExpression, and the CEL this
// subset lacks (cel.ts): such rules are left unchecked.

export interface SchemaOutcome {
  /** The pruned and defaulted value. */
  value: unknown;
  errors: FieldError[];
  /** Paths of the fields pruned for not being declared ("spec.foo"). */
  unknownFields: string[];
}

type Json = unknown;
const isRecord = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const ROOT_FIELDS = new Set(['apiVersion', 'kind', 'metadata']);

/** An object whose apiVersion, kind and metadata are an object's own: the resource, or one embedded in it. */
const isResource = (schema: JsonSchema, path: string) => !path || schema['x-kubernetes-embedded-resource'] === true;

const child = (path: string, name: string) => (path ? `${path}.${name}` : name);

/** The JSON type name kube-openapi reports for a value. */
function typeName(v: Json): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v === 'object' ? 'object' : typeof v;
}

/** Go's %v of a scalar, as an "Invalid value:" prints it. */
const shown = (v: Json) => (typeof v === 'string' ? goQuote(v) : JSON.stringify(v));

const invalid = (field: string, value: Json, detail: string): FieldError => ({ type: 'FieldValueInvalid', field, message: `Invalid value: ${shown(value)}: ${detail}` });

/** `old`: the stored object, on an update (what transition rules compare with). */
export function applySchema(value: Json, schema: JsonSchema, old?: Json): SchemaOutcome {
  const unknownFields: string[] = [];
  const pruned = prune(value, schema, '', unknownFields);
  const defaulted = applyDefaults(pruned, schema);
  const errors: FieldError[] = [];
  check(defaulted, schema, '', errors, old);
  return { value: defaulted, errors, unknownFields };
}

function prune(value: Json, schema: JsonSchema, path: string, unknown: string[]): Json {
  if (Array.isArray(value)) return schema.items ? value.map((item, i) => prune(item, schema.items!, `${path}[${i}]`, unknown)) : value;
  if (!isRecord(value)) return value;
  const keep = schema['x-kubernetes-preserve-unknown-fields'] === true;
  const out: Record<string, Json> = {};
  for (const [key, field] of Object.entries(value)) {
    const fieldPath = child(path, key);
    const declared = schema.properties?.[key] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    if (isResource(schema, path) && ROOT_FIELDS.has(key)) { out[key] = field; continue; }
    if (field === null && declared && !declared.nullable) continue;
    if (declared) out[key] = prune(field, declared, fieldPath, unknown);
    else if (keep || schema.additionalProperties === true) out[key] = field;
    else unknown.push(fieldPath);
  }
  return out;
}

function applyDefaults(value: Json, schema: JsonSchema): Json {
  if (Array.isArray(value)) return schema.items ? value.map((item) => applyDefaults(item, schema.items!)) : value;
  if (!isRecord(value)) return value;
  const out: Record<string, Json> = { ...value };
  for (const [key, prop] of Object.entries(schema.properties ?? {})) {
    if (out[key] === undefined && prop.default !== undefined) out[key] = structuredClone(prop.default);
    if (out[key] !== undefined) out[key] = applyDefaults(out[key], prop);
  }
  if (typeof schema.additionalProperties === 'object') {
    for (const key of Object.keys(out)) if (!schema.properties?.[key]) out[key] = applyDefaults(out[key], schema.additionalProperties);
  }
  return out;
}

function typeMatches(value: Json, schema: JsonSchema): boolean {
  if (schema['x-kubernetes-int-or-string']) return typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value));
  if (value === null) return schema.nullable === true || schema.type === undefined;
  switch (schema.type) {
    case undefined: return true;
    case 'object': return isRecord(value);
    case 'array': return Array.isArray(value);
    case 'string': return typeof value === 'string';
    case 'boolean': return typeof value === 'boolean';
    case 'integer': return typeof value === 'number' && Number.isInteger(value);
    case 'number': return typeof value === 'number';
  }
}

function check(value: Json, schema: JsonSchema, path: string, errors: FieldError[], old: Json): void {
  const at = path || '<root>';
  if (!typeMatches(value, schema)) {
    const actual = typeName(value);
    errors.push(invalid(at, actual, `${at} in body must be of type ${schema['x-kubernetes-int-or-string'] ? 'integer,string' : schema.type}: ${goQuote(actual)}`));
    return;
  }
  if (value === null) return;
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    errors.push({ type: 'FieldValueNotSupported', field: at, message: `Unsupported value: ${shown(value)}: supported values: ${schema.enum.map(shown).join(', ')}` });
  }
  if (typeof value === 'string') checkString(value, schema, at, errors);
  if (typeof value === 'number') checkNumber(value, schema, at, errors);
  if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errors.push({ type: 'FieldValueTooMany', field: at, message: `Too many: ${value.length}: must have at most ${schema.maxItems} items` });
    if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(invalid(at, value.length, `${at} in body should have at least ${schema.minItems} items`));
    if (schema.items) value.forEach((item, i) => check(item, schema.items!, `${path}[${i}]`, errors, correlated(item, old, schema)));
    errors.push(...duplicateItems(value, schema, path));
  }
  if (isRecord(value)) {
    for (const name of schema.required ?? []) {
      if (value[name] === undefined) errors.push({ type: 'FieldValueRequired', field: child(path, name), message: 'Required value' });
    }
    const count = Object.keys(value).length;
    if (schema.maxProperties !== undefined && count > schema.maxProperties) errors.push({ type: 'FieldValueTooMany', field: at, message: `Too many: ${count}: must have at most ${schema.maxProperties} items` });
    if (schema.minProperties !== undefined && count < schema.minProperties) errors.push(invalid(at, count, `${at} in body should have at least ${schema.minProperties} properties`));
    for (const [key, field] of Object.entries(value)) {
      if (isResource(schema, path) && ROOT_FIELDS.has(key)) continue;
      const declared = schema.properties?.[key] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
      if (declared) check(field, declared, child(path, key), errors, isRecord(old) ? old[key] : undefined);
    }
  }
  errors.push(...ruleErrors(value, schema, path, old));
}

/** The old item a list item is the new version of: only map lists say (by their keys). */
function correlated(item: Json, old: Json, schema: JsonSchema): Json {
  const keys = schema['x-kubernetes-list-map-keys'];
  if (schema['x-kubernetes-list-type'] !== 'map' || !keys || !Array.isArray(old) || !isRecord(item)) return undefined;
  return old.find((o) => isRecord(o) && keys.every((k) => JSON.stringify(o[k]) === JSON.stringify(item[k])));
}

/** The failures of a node's CEL rules, as apiextensions-apiserver reports them. */
function ruleErrors(value: Json, schema: JsonSchema, path: string, old: Json): FieldError[] {
  return (schema['x-kubernetes-validations'] ?? []).flatMap((rule): FieldError[] => {
    const program = compileRule(rule.rule);
    if (!program || (program.usesOldSelf && old === undefined)) return [];
    let passed: boolean;
    try { passed = program.run(value, old); } catch { return []; }
    if (passed) return [];
    const field = rule.fieldPath ? `${path}${rule.fieldPath}`.replace(/^\./, '') : path || '<root>';
    const message = rule.message ?? `failed rule: ${rule.rule}`;
    switch (rule.reason) {
      case 'FieldValueRequired': return [{ type: 'FieldValueRequired', field, message: `Required value: ${message}` }];
      case 'FieldValueForbidden': return [{ type: 'FieldValueForbidden', field, message: `Forbidden: ${message}` }];
      case 'FieldValueDuplicate': return [{ type: 'FieldValueDuplicate', field, message: `Duplicate value: ${message}` }];
      default: return [invalid(field, schema.type ?? 'object', message)];
    }
  });
}

/** Go's %#v of a map list item's keys: map[string]interface {}{"name":"http"}. */
const goKeys = (keys: Record<string, Json>) => `map[string]interface {}{${Object.keys(keys).sort().map((k) => `${goQuote(k)}:${shown(keys[k])}`).join(', ')}}`;

/** x-kubernetes-list-type: a set holds no value twice, a map no two items with the same keys. */
function duplicateItems(list: Json[], schema: JsonSchema, path: string): FieldError[] {
  const type = schema['x-kubernetes-list-type'];
  if (type !== 'set' && type !== 'map') return [];
  const keysOf = (item: Json): Record<string, Json> => Object.fromEntries((schema['x-kubernetes-list-map-keys'] ?? []).map((k) => [k, isRecord(item) ? item[k] : undefined]));
  const seen = new Set<string>();
  const errors: FieldError[] = [];
  list.forEach((item, i) => {
    const id = JSON.stringify(type === 'set' ? item : keysOf(item));
    if (seen.has(id)) errors.push({ type: 'FieldValueDuplicate', field: `${path}[${i}]`, message: `Duplicate value: ${type === 'set' ? shown(item) : goKeys(keysOf(item))}` });
    seen.add(id);
  });
  return errors;
}

const patterns = new Map<string, RegExp | undefined>();

/** A schema's pattern as a JavaScript regular expression; undefined for one written in a syntax
 *  only Go's RE2 takes (such as a leading (?i)), which is then not checked. */
function compiled(pattern: string): RegExp | undefined {
  if (!patterns.has(pattern)) {
    let re: RegExp | undefined;
    try { re = new RegExp(pattern, 'u'); } catch { re = undefined; }
    patterns.set(pattern, re);
  }
  return patterns.get(pattern);
}

function checkString(value: string, schema: JsonSchema, at: string, errors: FieldError[]): void {
  const length = [...value].length;
  if (schema.maxLength !== undefined && length > schema.maxLength) errors.push({ type: 'FieldValueTooLong', field: at, message: `Too long: may not be more than ${schema.maxLength} bytes` });
  if (schema.minLength !== undefined && length < schema.minLength) errors.push(invalid(at, value, `${at} in body should be at least ${schema.minLength} chars long`));
  const pattern = schema.pattern === undefined ? undefined : compiled(schema.pattern);
  if (pattern && !pattern.test(value)) errors.push(invalid(at, value, `${at} in body should match '${schema.pattern}'`));
}

function checkNumber(value: number, schema: JsonSchema, at: string, errors: FieldError[]): void {
  const { maximum, minimum } = schema;
  if (maximum !== undefined && (schema.exclusiveMaximum ? value >= maximum : value > maximum)) {
    errors.push(invalid(at, value, `${at} in body should be less than ${schema.exclusiveMaximum ? '' : 'or equal to '}${maximum}`));
  }
  if (minimum !== undefined && (schema.exclusiveMinimum ? value <= minimum : value < minimum)) {
    errors.push(invalid(at, value, `${at} in body should be greater than ${schema.exclusiveMinimum ? '' : 'or equal to '}${minimum}`));
  }
}
