// What the API server checks before it stores an object, and how it says no: a 422 Invalid whose
// causes carry a field path and a message (`spec.containers[0].image: Required value`). kubectl
// prints `The <Kind> "<name>" is invalid: <field>: <message>` from those causes, so learners see
// exactly these strings; they follow kube-apiserver 1.33 (pkg/apis/*/validation and
// k8s.io/apimachinery/pkg/util/validation) word for word, including Go's way of printing the
// offending value (`%q` for strings, `%#v` for maps, slices and structs).
//
// Validation runs on a defaulted object (see defaults.ts): a missing restartPolicy is already
// "Always" here, so "Required value" for it only appears when a client really sent "".

import { isIP } from 'node:net';
import { KINDS, type KindInfo, type KindName } from '../kinds.ts';
import { ApiError, type KubeObject } from '../object.ts';
import { validateCustomResourceDefinition } from './crd.ts';
import { quantityValue } from '../quantity.ts';

export interface FieldError {
  // FieldValueNotFound is what upstream reports for a volumeMount naming no volume.
  type: 'FieldValueRequired' | 'FieldValueInvalid' | 'FieldValueNotSupported' | 'FieldValueDuplicate' | 'FieldValueForbidden' | 'FieldValueTooLong' | 'FieldValueTooMany' | 'FieldValueTypeInvalid' | 'FieldValueNotFound';
  field: string;
  message: string;
}

// Objects arrive as the JSON a client sent; every accessor below tolerates a wrong shape
// (the decoder, not validation, owns type errors) instead of throwing.
type Obj = Record<string, any>;
const rec = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const strMap = (v: unknown): Record<string, string> | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, string>) : undefined);

// ---------------------------------------------------------------------------------------------
// Go's rendering of bad values

/** A value already rendered as Go's %#v / Stringer would print it. */
class GoText { constructor(readonly text: string) {} }
export const goText = (text: string) => new GoText(text);
export type BadValue = string | number | boolean | null | undefined | GoText;

/** strconv.Quote: Go's escaping, not JSON's. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\v') out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

const render = (v: BadValue): string =>
  v instanceof GoText ? v.text : typeof v === 'string' ? goQuote(v) : v === null || v === undefined ? 'null' : String(v);

const goStringMap = (m: Record<string, string> | undefined) =>
  goText(m ? `map[string]string{${Object.keys(m).sort().map((k) => `${goQuote(k)}:${goQuote(str(m[k]))}`).join(', ')}}` : 'map[string]string(nil)');

const goStrings = (a: unknown) =>
  goText(Array.isArray(a) ? `[]string{${a.map((s) => goQuote(str(s))).join(', ')}}` : '[]string(nil)');

function goLabelSelector(sel: Obj): GoText {
  const exprs = Array.isArray(sel.matchExpressions)
    ? `[]v1.LabelSelectorRequirement{${sel.matchExpressions.map((e: unknown) => {
      const r = rec(e);
      return `v1.LabelSelectorRequirement{Key:${goQuote(str(r.key))}, Operator:${goQuote(str(r.operator))}, Values:${goStrings(r.values).text}}`;
    }).join(', ')}}`
    : '[]v1.LabelSelectorRequirement(nil)';
  return goText(`v1.LabelSelector{MatchLabels:${goStringMap(strMap(sel.matchLabels)).text}, MatchExpressions:${exprs}}`);
}

/** An IntOrString prints through its String() method: 80 or 25%, never quoted. */
const goIntOrString = (v: unknown) => goText(typeof v === 'number' ? String(v) : str(v));

// ---------------------------------------------------------------------------------------------
// field.Error constructors (k8s.io/apimachinery/pkg/util/validation/field)

const withDetail = (head: string, detail: string) => (detail ? `${head}: ${detail}` : head);
export const required = (field: string, detail = ''): FieldError => ({ type: 'FieldValueRequired', field, message: withDetail('Required value', detail) });
export const invalid = (field: string, value: BadValue, detail: string): FieldError => ({ type: 'FieldValueInvalid', field, message: withDetail(`Invalid value: ${render(value)}`, detail) });
export const notSupported = (field: string, value: BadValue, valid: string[]): FieldError =>
  ({ type: 'FieldValueNotSupported', field, message: withDetail(`Unsupported value: ${render(value)}`, valid.length ? `supported values: ${valid.map(goQuote).join(', ')}` : '') });
export const duplicate = (field: string, value: BadValue, detail = ''): FieldError => ({ type: 'FieldValueDuplicate', field, message: withDetail(`Duplicate value: ${render(value)}`, detail) });
const forbidden = (field: string, detail: string): FieldError => ({ type: 'FieldValueForbidden', field, message: withDetail('Forbidden', detail) });
const tooLong = (field: string, max: number): FieldError => ({ type: 'FieldValueTooLong', field, message: `Too long: must have at most ${max} bytes` });
const notFound = (field: string, value: BadValue): FieldError => ({ type: 'FieldValueNotFound', field, message: `Not found: ${render(value)}` });

/** Each message of a string check, as an Invalid error on the field. */
export const invalidEach = (field: string, value: BadValue, msgs: string[]) => msgs.map((m) => invalid(field, value, m));

// Field paths print as field.Path does: children joined by dots, indexes and keys in brackets.
const child = (path: string, ...names: string[]) => [path, ...names].filter(Boolean).join('.');
const at = (path: string, i: number | string) => `${path}[${i}]`;

// ---------------------------------------------------------------------------------------------
// String formats (k8s.io/apimachinery/pkg/util/validation)

function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (!examples.length) return `${msg} (regex used for validation is '${fmt}')`;
  // Upstream's loop leaves a double space before each " or ": kept, learners paste these.
  return `${msg} (e.g. ${examples.map((e) => `'${e}', `).join(' or ')}regex used for validation is '${fmt}')`;
}
const maxLenError = (n: number) => `must be no more than ${n} characters`;
const inclusiveRangeError = (lo: number, hi: number) => `must be between ${lo} and ${hi}, inclusive`;
const IS_NEGATIVE = 'must be greater than or equal to 0';
export const FIELD_IMMUTABLE = 'field is immutable';

const DNS1123_LABEL_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN_FMT = `${DNS1123_LABEL_FMT}(\\.${DNS1123_LABEL_FMT})*`;
const DNS1035_LABEL_FMT = '[a-z]([-a-z0-9]*[a-z0-9])?';
const QUALIFIED_NAME_FMT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_VALUE_FMT = `(${QUALIFIED_NAME_FMT})?`;
const CONFIGMAP_KEY_FMT = '[-._a-zA-Z0-9]+';
const WILDCARD_SUBDOMAIN_FMT = `\\*\\.${DNS1123_SUBDOMAIN_FMT}`;
const full = (fmt: string) => new RegExp(`^${fmt}$`);

export function isDNS1123Label(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 63) errs.push(maxLenError(63));
  if (!full(DNS1123_LABEL_FMT).test(v)) {
    errs.push(full(DNS1123_SUBDOMAIN_FMT).test(v) ? 'must not contain dots'
      : regexError("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character", DNS1123_LABEL_FMT, 'my-name', '123-abc'));
  }
  return errs;
}

export function isDNS1123Subdomain(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 253) errs.push(maxLenError(253));
  if (!full(DNS1123_SUBDOMAIN_FMT).test(v)) {
    errs.push(regexError("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character", DNS1123_SUBDOMAIN_FMT, 'example.com'));
  }
  return errs;
}

export function isDNS1035Label(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 63) errs.push(maxLenError(63));
  if (!full(DNS1035_LABEL_FMT).test(v)) {
    errs.push(regexError("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character", DNS1035_LABEL_FMT, 'my-name', 'abc-123'));
  }
  return errs;
}

function isWildcardDNS1123Subdomain(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 253) errs.push(maxLenError(253));
  if (!full(WILDCARD_SUBDOMAIN_FMT).test(v)) {
    errs.push(regexError("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character", WILDCARD_SUBDOMAIN_FMT, '*.example.com'));
  }
  return errs;
}

const QUALIFIED_NAME_ERR = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/** A label key, annotation key, finalizer...: an optional DNS subdomain prefix and a name. */
export function isQualifiedName(v: string): string[] {
  const errs: string[] = [];
  const parts = v.split('/');
  let name: string;
  if (parts.length === 1) name = parts[0];
  else if (parts.length === 2) {
    const prefix = parts[0];
    name = parts[1];
    if (!prefix) errs.push('prefix part must be non-empty');
    else errs.push(...isDNS1123Subdomain(prefix).map((m) => `prefix part ${m}`));
  } else {
    return [`a qualified name ${regexError(QUALIFIED_NAME_ERR, QUALIFIED_NAME_FMT, 'MyName', 'my.name', '123-abc')} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`];
  }
  if (!name) errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push(`name part ${maxLenError(63)}`);
  if (!full(QUALIFIED_NAME_FMT).test(name)) errs.push(`name part ${regexError(QUALIFIED_NAME_ERR, QUALIFIED_NAME_FMT, 'MyName', 'my.name', '123-abc')}`);
  return errs;
}

export function isLabelValue(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 63) errs.push(maxLenError(63));
  if (!full(LABEL_VALUE_FMT).test(v)) {
    errs.push(regexError("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character", LABEL_VALUE_FMT, 'MyValue', 'my_value', '12345'));
  }
  return errs;
}

export const isValidPortNum = (p: number): string[] => (Number.isInteger(p) && p >= 1 && p <= 65535 ? [] : [inclusiveRangeError(1, 65535)]);

/** An IANA service name: what named container ports, targetPorts and probe ports must be. */
export function isValidPortName(p: string): string[] {
  const errs: string[] = [];
  if (p.length > 15) errs.push(maxLenError(15));
  if (!/^[-a-z0-9]+$/.test(p)) errs.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (!/[a-z]/.test(p)) errs.push('must contain at least one letter (a-z)');
  if (p.includes('--')) errs.push('must not contain consecutive hyphens');
  if (p.startsWith('-') || p.endsWith('-')) errs.push('must not begin or end with a hyphen');
  return errs;
}

function isConfigMapKey(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 253) errs.push(maxLenError(253));
  if (!full(CONFIGMAP_KEY_FMT).test(v)) errs.push(regexError("a valid config key must consist of alphanumeric characters, '-', '_' or '.'", CONFIGMAP_KEY_FMT, 'key.name', 'KEY_NAME', 'key-name'));
  if (v === '.') errs.push("must not be '.'");
  else if (v === '..') errs.push("must not be '..'");
  else if (v.startsWith('..')) errs.push("must not start with '..'");
  return errs;
}

/** RelaxedEnvironmentVariableValidation (on by default since 1.32): printable ASCII but '='. */
function isRelaxedEnvVarName(v: string): string[] {
  const errs: string[] = [];
  if (!v) errs.push('environment variable name must be non-empty');
  if ([...v].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) > 0x7e || c === '=')) {
    errs.push("a valid environment variable name must consist only of printable ASCII characters other than '='");
  }
  return errs;
}

const percentErrors = (v: string) => (/^[0-9]+%$/.test(v) ? [] : [regexError("a valid percent string must be a numeric string followed by an ending '%'", '[0-9]+%', '1%', '93%')]);

// IP addresses and CIDRs as netutils.ParseIPSloppy/ParseCIDRSloppy accept them (IPv4 octets may
// have leading zeros; IPv6 as Node parses it).

function parseIPv4(s: string): number[] | undefined {
  const parts = s.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^[0-9]{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.map(Number);
}
const isIPSloppy = (s: string) => parseIPv4(s) !== undefined || isIP(s) === 6;

function parseCIDR(s: string): { family: 4 | 6; bits: bigint; prefix: number } | undefined {
  const slash = s.indexOf('/');
  if (slash < 0 || !/^[0-9]{1,3}$/.test(s.slice(slash + 1))) return undefined;
  const ip = s.slice(0, slash);
  const prefix = Number(s.slice(slash + 1));
  const v4 = parseIPv4(ip);
  if (v4) return prefix <= 32 ? { family: 4, bits: v4.reduce((acc, o) => (acc << 8n) | BigInt(o), 0n), prefix } : undefined;
  if (isIP(ip) !== 6 || prefix > 128) return undefined;
  return { family: 6, bits: ipv6Bits(ip), prefix };
}

function ipv6Bits(ip: string): bigint {
  const groups = (part: string) => (part ? part.split(':') : []).flatMap((g) => {
    const v4 = parseIPv4(g);
    return v4 ? [((v4[0] << 8) | v4[1]).toString(16), ((v4[2] << 8) | v4[3]).toString(16)] : [g];
  });
  const [head, tail = ''] = ip.split('::');
  const h = groups(head);
  const t = groups(tail);
  return [...h, ...Array(8 - h.length - t.length).fill('0'), ...t].reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

const ipErrors = (field: string, v: string) => (isIPSloppy(v) ? [] : [invalid(field, v, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)')]);
const cidrErrors = (field: string, v: string) => (parseCIDR(v) ? [] : [invalid(field, v, 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)')]);

/** Whether CIDR `inner` is a strict subset of CIDR `outer` (the ipBlock.except rule). */
function strictSubset(outer: NonNullable<ReturnType<typeof parseCIDR>>, inner: NonNullable<ReturnType<typeof parseCIDR>>): boolean {
  if (outer.family !== inner.family || inner.prefix <= outer.prefix) return false;
  const width = outer.family === 4 ? 32 : 128;
  const shift = BigInt(width - outer.prefix);
  return inner.bits >> shift === outer.bits >> shift;
}

// ---------------------------------------------------------------------------------------------
// Object metadata (k8s.io/apimachinery/pkg/api/validation/objectmeta.go)

type NameCheck = (name: string) => string[];

/** generateName is checked as a prefix: a trailing dash is fine there. */
const asPrefix = (check: NameCheck): NameCheck => (name) => check(name.endsWith('-') ? `${name.slice(0, -1)}a` : name);

function validateLabels(labels: unknown, path: string): FieldError[] {
  const m = strMap(labels) ?? {};
  return Object.entries(m).flatMap(([k, v]) => [
    ...invalidEach(path, k, isQualifiedName(k)),
    ...invalidEach(path, str(v), isLabelValue(str(v))),
  ]);
}

function validateAnnotations(annotations: unknown, path: string): FieldError[] {
  const m = strMap(annotations) ?? {};
  const errs = Object.keys(m).flatMap((k) => invalidEach(path, k, isQualifiedName(k.toLowerCase())));
  const size = Object.entries(m).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(str(v)), 0);
  if (size > 256 * 1024) errs.push(tooLong(path, 256 * 1024));
  return errs;
}

export function validateObjectMeta(meta: Obj, namespaced: boolean, nameCheck: NameCheck, path = 'metadata'): FieldError[] {
  const errs: FieldError[] = [];
  const name = str(meta.name);
  const generateName = str(meta.generateName);
  if (generateName) errs.push(...invalidEach(child(path, 'generateName'), generateName, asPrefix(nameCheck)(generateName)));
  if (!name) errs.push(required(child(path, 'name'), 'name or generateName is required'));
  else errs.push(...invalidEach(child(path, 'name'), name, nameCheck(name)));
  // A cluster-scoped object's namespace is cleared by the REST layer before validation.
  if (namespaced) {
    const ns = str(meta.namespace);
    if (!ns) errs.push(required(child(path, 'namespace')));
    else errs.push(...invalidEach(child(path, 'namespace'), ns, isDNS1123Label(ns)));
  }
  if (typeof meta.generation === 'number' && meta.generation < 0) errs.push(invalid(child(path, 'generation'), meta.generation, IS_NEGATIVE));
  errs.push(...validateLabels(meta.labels, child(path, 'labels')));
  errs.push(...validateAnnotations(meta.annotations, child(path, 'annotations')));
  arr(meta.ownerReferences).forEach((r) => {
    const ref = rec(r);
    const refPath = child(path, 'ownerReferences');
    if (!str(ref.apiVersion).split('/').pop()) errs.push(invalid(child(refPath, 'apiVersion'), str(ref.apiVersion), 'version must not be empty'));
    for (const f of ['kind', 'name', 'uid']) if (!str(ref[f])) errs.push(invalid(child(refPath, f), '', 'must not be empty'));
  });
  arr(meta.finalizers).forEach((f) => errs.push(...invalidEach(child(path, 'finalizers'), str(f), isQualifiedName(str(f)))));
  return errs;
}

function validateObjectMetaUpdate(meta: Obj, oldMeta: Obj): FieldError[] {
  const errs: FieldError[] = [];
  for (const f of ['name', 'namespace', 'uid']) {
    if (oldMeta[f] !== undefined && meta[f] !== undefined && meta[f] !== oldMeta[f]) errs.push(invalid(child('metadata', f), str(meta[f]), FIELD_IMMUTABLE));
  }
  return errs;
}

// ---------------------------------------------------------------------------------------------
// Label selectors (k8s.io/apimachinery/pkg/apis/meta/v1/validation)

function validateLabelSelector(selector: unknown, path: string): FieldError[] {
  if (!selector || typeof selector !== 'object') return [];
  const sel = rec(selector);
  const errs = validateLabels(sel.matchLabels, child(path, 'matchLabels'));
  arr(sel.matchExpressions).forEach((e, i) => {
    const req = rec(e);
    const reqPath = at(child(path, 'matchExpressions'), i);
    const values = arr(req.values);
    switch (req.operator) {
      case 'In': case 'NotIn':
        if (!values.length) errs.push(required(child(reqPath, 'values'), "must be specified when `operator` is 'In' or 'NotIn'"));
        break;
      case 'Exists': case 'DoesNotExist':
        if (values.length) errs.push(forbidden(child(reqPath, 'values'), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
        break;
      default:
        errs.push(invalid(child(reqPath, 'operator'), str(req.operator), 'not a valid selector operator'));
    }
    errs.push(...invalidEach(child(reqPath, 'key'), str(req.key), isQualifiedName(str(req.key))));
  });
  return errs;
}

/** Whether a LabelSelector matches a label set; undefined when it cannot be turned into a selector. */
export function selectorMatches(selector: Obj, labels: Record<string, string> | undefined): boolean | undefined {
  const l = labels ?? {};
  if (validateLabelSelector(selector, 'selector').length) return undefined;
  const byLabels = Object.entries(strMap(selector.matchLabels) ?? {}).every(([k, v]) => l[k] === v);
  return byLabels && arr(selector.matchExpressions).every((e) => {
    const req = rec(e);
    const key = str(req.key);
    const values = arr(req.values).map(str);
    switch (req.operator) {
      case 'In': return key in l && values.includes(l[key]);
      case 'NotIn': return !(key in l) || !values.includes(l[key]);
      case 'Exists': return key in l;
      default: return !(key in l);
    }
  });
}

const isEmptySelector = (sel: Obj) => Object.keys(rec(sel.matchLabels)).length + arr(sel.matchExpressions).length === 0;

// ---------------------------------------------------------------------------------------------
// Pods (pkg/apis/core/validation: ValidatePodSpec and what it calls)

const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];

/** An IntOrString port: a number must be a port, a string an IANA name (even "8080"). */
function portNumOrName(field: string, port: unknown): FieldError[] {
  if (typeof port === 'number') return invalidEach(field, port, isValidPortNum(port));
  return invalidEach(field, str(port), isValidPortName(str(port)));
}

function validateContainerPorts(ports: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  arr(ports).forEach((p, i) => {
    const port = rec(p);
    const portPath = at(path, i);
    const name = str(port.name);
    if (name) {
      const msgs = isValidPortName(name);
      if (msgs.length) errs.push(...invalidEach(child(portPath, 'name'), name, msgs));
      else if (names.has(name)) errs.push(duplicate(child(portPath, 'name'), name));
      else names.add(name);
    }
    if (!num(port.containerPort)) errs.push(required(child(portPath, 'containerPort')));
    else errs.push(...invalidEach(child(portPath, 'containerPort'), port.containerPort, isValidPortNum(port.containerPort)));
    if (num(port.hostPort)) errs.push(...invalidEach(child(portPath, 'hostPort'), port.hostPort, isValidPortNum(port.hostPort)));
    if (!str(port.protocol)) errs.push(required(child(portPath, 'protocol')));
    else if (!PROTOCOLS.includes(port.protocol)) errs.push(notSupported(child(portPath, 'protocol'), port.protocol, PROTOCOLS));
  });
  return errs;
}

function validateEnv(env: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  arr(env).forEach((e, i) => {
    const v = rec(e);
    const envPath = at(path, i);
    if (!str(v.name)) errs.push(required(child(envPath, 'name')));
    else errs.push(...invalidEach(child(envPath, 'name'), v.name, isRelaxedEnvVarName(v.name)));
    if (v.valueFrom === undefined) return;
    const from = rec(v.valueFrom);
    const fromPath = child(envPath, 'valueFrom');
    const sources = ['fieldRef', 'resourceFieldRef', 'configMapKeyRef', 'secretKeyRef'].filter((s) => from[s]);
    for (const s of ['configMapKeyRef', 'secretKeyRef']) {
      if (!from[s]) continue;
      const ref = rec(from[s]);
      errs.push(...invalidEach(child(fromPath, s, 'name'), str(ref.name), isDNS1123Subdomain(str(ref.name))));
      if (!str(ref.key)) errs.push(required(child(fromPath, s, 'key')));
      else errs.push(...invalidEach(child(fromPath, s, 'key'), ref.key, isConfigMapKey(ref.key)));
    }
    if (from.fieldRef && !str(rec(from.fieldRef).fieldPath)) errs.push(required(child(fromPath, 'fieldRef', 'fieldPath')));
    if (!sources.length) errs.push(invalid(fromPath, '', 'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`'));
    else if (str(v.value)) errs.push(invalid(fromPath, '', 'may not be specified when `value` is not empty'));
    else if (sources.length > 1) errs.push(invalid(fromPath, '', 'may not have more than one field specified at a time'));
  });
  return errs;
}

function validateEnvFrom(envFrom: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  arr(envFrom).forEach((e, i) => {
    const v = rec(e);
    const p = at(path, i);
    if (str(v.prefix)) errs.push(...invalidEach(child(p, 'prefix'), v.prefix, isRelaxedEnvVarName(v.prefix)));
    const sources = ['configMapRef', 'secretRef'].filter((s) => v[s]);
    for (const s of sources) {
      const name = str(rec(v[s]).name);
      if (!name) errs.push(required(child(p, s, 'name')));
      else errs.push(...invalidEach(child(p, s, 'name'), name, asPrefix(isDNS1123Subdomain)(name)));
    }
    if (!sources.length) errs.push(invalid(path, '', 'must specify one of: `configMapRef` or `secretRef`'));
    else if (sources.length > 1) errs.push(invalid(path, '', 'may not have more than one field specified at a time'));
  });
  return errs;
}

function validateVolumeMounts(mounts: unknown, volumes: Set<string>, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  arr(mounts).forEach((m, i) => {
    const mount = rec(m);
    const p = at(path, i);
    const name = str(mount.name);
    const mountPath = str(mount.mountPath);
    if (!name) errs.push(required(child(p, 'name')));
    if (!volumes.has(name)) errs.push(notFound(child(p, 'name'), name));
    if (!mountPath) errs.push(required(child(p, 'mountPath')));
    if (seen.has(mountPath)) errs.push(invalid(child(p, 'mountPath'), mountPath, 'must be unique'));
    seen.add(mountPath);
  });
  return errs;
}

function validateResources(resources: unknown, path: string): FieldError[] {
  const r = rec(resources);
  const errs: FieldError[] = [];
  const limits = rec(r.limits);
  for (const kind of ['limits', 'requests'] as const) {
    for (const [name, q] of Object.entries(rec(r[kind]))) {
      const qPath = at(child(path, kind), name);
      errs.push(...invalidEach(qPath, name, isQualifiedName(name)));
      const value = quantityValue(q);
      if (value !== undefined && value < 0) errs.push(invalid(qPath, String(q), IS_NEGATIVE));
    }
  }
  for (const [name, q] of Object.entries(rec(r.requests))) {
    const request = quantityValue(q);
    const limit = quantityValue(limits[name]);
    if (request !== undefined && limit !== undefined && request > limit) {
      errs.push(invalid(at(child(path, 'requests'), name), String(q), `must be less than or equal to ${name} limit of ${String(limits[name])}`));
    }
  }
  return errs;
}

function validateHandler(handler: Obj, path: string, kinds: string[]): FieldError[] {
  const errs: FieldError[] = [];
  let count = 0;
  for (const k of kinds) {
    if (!handler[k]) continue;
    if (count++ > 0) { errs.push(forbidden(child(path, k), 'may not specify more than 1 handler type')); continue; }
    const h = rec(handler[k]);
    if (k === 'exec' && !arr(h.command).length) errs.push(required(child(path, k, 'command')));
    if (k === 'httpGet') {
      if (!str(h.path)) errs.push(required(child(path, k, 'path')));
      errs.push(...portNumOrName(child(path, k, 'port'), h.port));
      if (!['HTTP', 'HTTPS'].includes(h.scheme)) errs.push(notSupported(child(path, k, 'scheme'), str(h.scheme), ['HTTP', 'HTTPS']));
    }
    if (k === 'tcpSocket') errs.push(...portNumOrName(child(path, k, 'port'), h.port));
    if (k === 'grpc') errs.push(...portNumOrName(child(path, k, 'port'), num(h.port)));
  }
  if (!count) errs.push(required(path, 'must specify a handler type'));
  return errs;
}

function validateProbe(probe: unknown, path: string, kind: 'liveness' | 'readiness' | 'startup'): FieldError[] {
  if (probe === undefined || probe === null) return [];
  const p = rec(probe);
  const errs = validateHandler(p, path, ['exec', 'httpGet', 'tcpSocket', 'grpc']);
  for (const f of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold']) {
    if (num(p[f]) < 0) errs.push(invalid(child(path, f), p[f], IS_NEGATIVE));
  }
  if (kind !== 'readiness' && p.successThreshold !== undefined && p.successThreshold !== 1) errs.push(invalid(child(path, 'successThreshold'), p.successThreshold, 'must be 1'));
  if (kind === 'readiness' && p.terminationGracePeriodSeconds !== undefined) errs.push(invalid(child(path, 'terminationGracePeriodSeconds'), p.terminationGracePeriodSeconds, 'must not be set for readinessProbes'));
  return errs;
}

const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];
const TERMINATION_MESSAGE_POLICIES = ['File', 'FallbackToLogsOnError'];

function validateContainerCommon(c: Obj, volumes: Set<string>, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const name = str(c.name);
  if (!name) errs.push(required(child(path, 'name')));
  else errs.push(...invalidEach(child(path, 'name'), name, isDNS1123Label(name)));
  if (!str(c.image)) errs.push(required(child(path, 'image')));
  const tmp = str(c.terminationMessagePolicy);
  if (!tmp) errs.push(required(child(path, 'terminationMessagePolicy')));
  else if (!TERMINATION_MESSAGE_POLICIES.includes(tmp)) errs.push(notSupported(child(path, 'terminationMessagePolicy'), tmp, TERMINATION_MESSAGE_POLICIES));
  errs.push(...validateContainerPorts(c.ports, child(path, 'ports')));
  errs.push(...validateEnv(c.env, child(path, 'env')));
  errs.push(...validateEnvFrom(c.envFrom, child(path, 'envFrom')));
  errs.push(...validateVolumeMounts(c.volumeMounts, volumes, child(path, 'volumeMounts')));
  const pull = str(c.imagePullPolicy);
  if (!pull) errs.push(required(child(path, 'imagePullPolicy')));
  else if (!PULL_POLICIES.includes(pull)) errs.push(notSupported(child(path, 'imagePullPolicy'), pull, PULL_POLICIES));
  errs.push(...validateResources(c.resources, child(path, 'resources')));
  return errs;
}

function validateContainers(containers: unknown, volumes: Set<string>, path: string): FieldError[] {
  const list = arr(containers).map(rec);
  if (!list.length) return [required(path)];
  const errs: FieldError[] = [];
  const names = new Set<string>();
  list.forEach((c, i) => {
    const p = at(path, i);
    errs.push(...validateContainerCommon(c, volumes, p));
    if (names.has(str(c.name))) errs.push(duplicate(child(p, 'name'), str(c.name)));
    else names.add(str(c.name));
    if (c.lifecycle) for (const h of ['postStart', 'preStop']) if (rec(c.lifecycle)[h]) errs.push(...validateHandler(rec(rec(c.lifecycle)[h]), child(p, 'lifecycle', h), ['exec', 'httpGet', 'tcpSocket', 'sleep']));
    errs.push(...validateProbe(c.livenessProbe, child(p, 'livenessProbe'), 'liveness'));
    errs.push(...validateProbe(c.readinessProbe, child(p, 'readinessProbe'), 'readiness'));
    errs.push(...validateProbe(c.startupProbe, child(p, 'startupProbe'), 'startup'));
    if (c.restartPolicy !== undefined) errs.push(forbidden(child(p, 'restartPolicy'), 'may not be set for non-init containers'));
  });
  errs.push(...hostPortConflicts(list, path));
  return errs;
}

function validateInitContainers(initContainers: unknown, containers: unknown, volumes: Set<string>, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set(arr(containers).map((c) => str(rec(c).name)));
  arr(initContainers).map(rec).forEach((c, i) => {
    const p = at(path, i);
    errs.push(...validateContainerCommon(c, volumes, p));
    const sidecar = c.restartPolicy === 'Always';
    if (c.restartPolicy !== undefined && !sidecar) errs.push(notSupported(child(p, 'restartPolicy'), str(c.restartPolicy), ['Always']));
    if (names.has(str(c.name))) errs.push(duplicate(child(p, 'name'), str(c.name)));
    else if (str(c.name)) names.add(str(c.name));
    errs.push(...hostPortConflicts([c], path));
    if (sidecar) {
      errs.push(...validateProbe(c.livenessProbe, child(p, 'livenessProbe'), 'liveness'));
      errs.push(...validateProbe(c.readinessProbe, child(p, 'readinessProbe'), 'readiness'));
      errs.push(...validateProbe(c.startupProbe, child(p, 'startupProbe'), 'startup'));
    } else {
      for (const f of ['lifecycle', 'livenessProbe', 'readinessProbe', 'startupProbe']) {
        if (c[f]) errs.push(forbidden(child(p, f), 'may not be set for init containers without restartPolicy=Always'));
      }
    }
  });
  return errs;
}

/** Two containers of a pod cannot bind the same hostPort for the same protocol and host IP. */
function hostPortConflicts(containers: Obj[], path: string): FieldError[] {
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  containers.forEach((c, ci) => arr(c.ports).map(rec).forEach((port, pi) => {
    if (!num(port.hostPort)) return;
    const key = `${str(port.protocol)}/${str(port.hostIP)}/${port.hostPort}`;
    if (seen.has(key)) errs.push(duplicate(child(at(child(at(path, ci), 'ports'), pi), 'hostPort'), key));
    seen.add(key);
  }));
  return errs;
}

const VOLUME_SOURCES = ['hostPath', 'emptyDir', 'gcePersistentDisk', 'awsElasticBlockStore', 'gitRepo', 'secret', 'nfs', 'iscsi', 'glusterfs', 'persistentVolumeClaim', 'rbd', 'flexVolume', 'cinder', 'cephfs', 'flocker', 'downwardAPI', 'fc', 'azureFile', 'configMap', 'vsphereVolume', 'quobyte', 'azureDisk', 'photonPersistentDisk', 'projected', 'portworxVolume', 'scaleIO', 'storageos', 'csi', 'ephemeral', 'image'];

/** Returns the errors and the set of volume names containers may mount. */
function validateVolumes(volumes: unknown, path: string): { errs: FieldError[]; names: Set<string> } {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  arr(volumes).map(rec).forEach((v, i) => {
    const p = at(path, i);
    const name = str(v.name);
    const sources = VOLUME_SOURCES.filter((s) => v[s] !== undefined && v[s] !== null);
    if (!sources.length) errs.push(required(p, 'must specify a volume type'));
    sources.slice(1).forEach((s) => errs.push(forbidden(child(p, s), 'may not specify more than 1 volume type')));
    const src = rec(v[sources[0]]);
    const requiredFields: Record<string, string> = { hostPath: 'path', secret: 'secretName', configMap: 'name', persistentVolumeClaim: 'claimName', nfs: 'server' };
    const field = requiredFields[sources[0]];
    if (field && !str(src[field])) errs.push(required(child(p, sources[0], field)));
    if (!name) errs.push(required(child(p, 'name')));
    else {
      const msgs = isDNS1123Label(name);
      if (msgs.length) errs.push(...invalidEach(child(p, 'name'), name, msgs));
      else if (names.has(name)) errs.push(duplicate(child(p, 'name'), name));
      else names.add(name);
    }
  });
  return { errs, names };
}

const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'];
const DNS_POLICIES = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'];
const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

function validateTolerations(tolerations: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  arr(tolerations).map(rec).forEach((t, i) => {
    const p = at(path, i);
    const key = str(t.key);
    const operator = str(t.operator);
    if (key) errs.push(...invalidEach(child(p, 'key'), key, isQualifiedName(key)));
    if (!key && operator !== 'Exists') errs.push(invalid(child(p, 'operator'), operator, 'operator must be Exists when `key` is empty, which means "match all values and all keys"'));
    if (t.tolerationSeconds !== undefined && t.tolerationSeconds !== null && t.effect !== 'NoExecute') errs.push(invalid(child(p, 'effect'), str(t.effect), "effect must be 'NoExecute' when `tolerationSeconds` is set"));
    if (operator === 'Equal' || operator === '') {
      const msgs = isLabelValue(str(t.value));
      if (msgs.length) errs.push(invalid(child(p, 'operator'), str(t.value), msgs.join(';')));
    } else if (operator !== 'Exists') errs.push(notSupported(child(p, 'operator'), operator, ['Equal', 'Exists']));
    if (str(t.effect) && !TAINT_EFFECTS.includes(t.effect)) errs.push(notSupported(child(p, 'effect'), t.effect, TAINT_EFFECTS));
  });
  return errs;
}

function validatePodSpec(spec: Obj, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (spec.terminationGracePeriodSeconds === undefined || spec.terminationGracePeriodSeconds === null) errs.push(required(child(path, 'terminationGracePeriodSeconds')));
  const { errs: volumeErrs, names: volumes } = validateVolumes(spec.volumes, child(path, 'volumes'));
  errs.push(...volumeErrs);
  errs.push(...validateContainers(spec.containers, volumes, child(path, 'containers')));
  errs.push(...validateInitContainers(spec.initContainers, spec.containers, volumes, child(path, 'initContainers')));
  if (spec.hostNetwork === true) {
    arr(spec.containers).map(rec).forEach((c, ci) => arr(c.ports).map(rec).forEach((port, pi) => {
      if (num(port.hostPort) && port.hostPort !== port.containerPort) {
        errs.push(invalid(child(at(child(at(child(path, 'containers'), ci), 'ports'), pi), 'hostPort'), port.hostPort, 'must match `containerPort` when `hostNetwork` is true'));
      }
    }));
  }
  const restart = str(spec.restartPolicy);
  if (!restart) errs.push(required(child(path, 'restartPolicy')));
  else if (!RESTART_POLICIES.includes(restart)) errs.push(notSupported(child(path, 'restartPolicy'), restart, RESTART_POLICIES));
  const dns = str(spec.dnsPolicy);
  if (!dns) errs.push(required(child(path, 'dnsPolicy')));
  else if (!DNS_POLICIES.includes(dns)) errs.push(notSupported(child(path, 'dnsPolicy'), dns, DNS_POLICIES));
  errs.push(...validateLabels(spec.nodeSelector, child(path, 'nodeSelector')));
  if (dns === 'None') {
    if (!spec.dnsConfig) errs.push(required(child(path, 'dnsConfig'), 'must provide `dnsConfig` when `dnsPolicy` is None'));
    else if (!arr(rec(spec.dnsConfig).nameservers).length) errs.push(required(child(path, 'dnsConfig', 'nameservers'), 'must provide at least one DNS nameserver when `dnsPolicy` is None'));
  }
  arr(rec(spec.dnsConfig).nameservers).forEach((ns, i) => errs.push(...ipErrors(at(child(path, 'dnsConfig', 'nameservers'), i), str(ns))));
  for (const f of ['serviceAccountName', 'nodeName', 'priorityClassName']) {
    if (str(spec[f])) errs.push(...invalidEach(child(path, f), spec[f], isDNS1123Subdomain(spec[f])));
  }
  if (spec.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds !== null) {
    const v = num(spec.activeDeadlineSeconds);
    if (v < 1 || v > 2147483647) errs.push(invalid(child(path, 'activeDeadlineSeconds'), v, inclusiveRangeError(1, 2147483647)));
  }
  for (const f of ['hostname', 'subdomain']) if (str(spec[f])) errs.push(...invalidEach(child(path, f), spec[f], isDNS1123Label(spec[f])));
  errs.push(...validateTolerations(spec.tolerations, child(path, 'tolerations')));
  if (spec.preemptionPolicy !== undefined && !['PreemptLowerPriority', 'Never'].includes(spec.preemptionPolicy)) {
    errs.push(notSupported(child(path, 'preemptionPolicy'), str(spec.preemptionPolicy), ['PreemptLowerPriority', 'Never']));
  }
  return errs;
}

function validatePodTemplateSpec(template: Obj, path: string): FieldError[] {
  const meta = rec(template.metadata);
  const spec = rec(template.spec);
  // Upstream checks template labels at `<path>.labels`, not `<path>.metadata.labels`.
  const errs = [...validateLabels(meta.labels, child(path, 'labels')), ...validateAnnotations(meta.annotations, child(path, 'annotations')), ...validatePodSpec(spec, child(path, 'spec'))];
  if (arr(spec.ephemeralContainers).length) errs.push(forbidden(child(path, 'spec', 'ephemeralContainers'), 'ephemeral containers not allowed in pod template'));
  return errs;
}

const UPDATABLE_POD_SPEC_FIELDS = [
  '`spec.containers[*].image`',
  '`spec.initContainers[*].image`',
  '`spec.activeDeadlineSeconds`',
  '`spec.tolerations` (only additions to existing tolerations)',
  '`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
];

/** A Pod's spec is immutable but for images, a shorter deadline and added tolerations. */
function validatePodUpdate(pod: Obj, old: Obj): FieldError[] {
  const spec = rec(pod.spec);
  const oldSpec = rec(old.spec);
  for (const list of ['containers', 'initContainers']) {
    if (arr(spec[list]).length !== arr(oldSpec[list]).length) return [forbidden(child('spec', list), 'pod updates may not add or remove containers')];
  }
  const errs: FieldError[] = [];
  const newDeadline = spec.activeDeadlineSeconds;
  const oldDeadline = oldSpec.activeDeadlineSeconds;
  if (typeof newDeadline === 'number') {
    if (newDeadline < 0 || newDeadline > 2147483647) return [invalid('spec.activeDeadlineSeconds', newDeadline, inclusiveRangeError(0, 2147483647))];
    if (typeof oldDeadline === 'number' && oldDeadline < newDeadline) return [invalid('spec.activeDeadlineSeconds', newDeadline, 'must be less than or equal to previous value')];
  } else if (typeof oldDeadline === 'number') errs.push(invalid('spec.activeDeadlineSeconds', null, 'must not update from a positive integer to nil value'));
  const oldTolerations = arr(oldSpec.tolerations).map((t) => JSON.stringify(withoutSeconds(rec(t))));
  const newTolerations = new Set(arr(spec.tolerations).map((t) => JSON.stringify(withoutSeconds(rec(t)))));
  oldTolerations.forEach((t) => { if (!newTolerations.has(t)) errs.push(forbidden('spec.tolerations', `existing toleration can not be modified except its tolerationSeconds`)); });
  // Compare what is left once the mutable fields are taken from the old spec.
  const munged = structuredClone(spec);
  for (const list of ['containers', 'initContainers']) arr(munged[list]).forEach((c, i) => { rec(c).image = rec(arr(oldSpec[list])[i]).image; });
  munged.activeDeadlineSeconds = oldSpec.activeDeadlineSeconds;
  munged.tolerations = oldSpec.tolerations;
  munged.schedulingGates = oldSpec.schedulingGates;
  const changed = [...new Set([...Object.keys(munged), ...Object.keys(oldSpec)])].filter((k) => !sameJSON(munged[k], oldSpec[k]));
  if (changed.length) {
    // Upstream appends a go-cmp diff of the internal PodSpec; this is the same idea, field by field.
    const diff = changed.map((k) => `- \t${k}: ${JSON.stringify(oldSpec[k] ?? null)},\n+ \t${k}: ${JSON.stringify(munged[k] ?? null)},`).join('\n');
    errs.push(forbidden('spec', `pod updates may not change fields other than ${UPDATABLE_POD_SPEC_FIELDS.join(',')}\n  core.PodSpec{\n${diff}\n  }\n`));
  }
  return errs;
}

const withoutSeconds = (t: Obj) => { const { tolerationSeconds: _ignored, ...rest } = t; return rest; };

/** Deep equality of JSON values, key order ignored, undefined and absent alike. */
function sameJSON(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => sameJSON(v, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].every((k) => sameJSON((a as Obj)[k], (b as Obj)[k]));
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Services (ValidateService and the REST allocator's range checks)

/** The ranges a kind-like lab allocates from (kube-apiserver --service-cluster-ip-range, --service-node-port-range). */
export const SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/16';
export const SERVICE_NODE_PORT_RANGE = { base: 30000, size: 2768 };

const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];

function validateServicePort(port: Obj, requireName: boolean, names: Set<string>, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const name = str(port.name);
  if (requireName && !name) errs.push(required(child(path, 'name')));
  else if (name) {
    errs.push(...invalidEach(child(path, 'name'), name, isDNS1123Label(name)));
    if (names.has(name)) errs.push(duplicate(child(path, 'name'), name));
    else names.add(name);
  }
  errs.push(...invalidEach(child(path, 'port'), num(port.port), isValidPortNum(num(port.port))));
  if (!str(port.protocol)) errs.push(required(child(path, 'protocol')));
  else if (!PROTOCOLS.includes(port.protocol)) errs.push(notSupported(child(path, 'protocol'), port.protocol, PROTOCOLS));
  errs.push(...portNumOrName(child(path, 'targetPort'), port.targetPort));
  if (typeof port.appProtocol === 'string') errs.push(...invalidEach(child(path, 'appProtocol'), port.appProtocol, isQualifiedName(port.appProtocol)));
  return errs;
}

/** core.ServicePort as %#v prints it in a duplicate-port error (only protocol and port are set). */
const goServicePortKey = (protocol: string, port: number) =>
  goText(`core.ServicePort{Name:"", Protocol:${goQuote(protocol)}, AppProtocol:(*string)(nil), Port:${port}, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}`);

function validateService(svc: Obj, old?: Obj): FieldError[] {
  const errs = validateObjectMeta(rec(svc.metadata), true, isDNS1035Label);
  const spec = rec(svc.spec);
  const type = str(spec.type);
  const ports = arr(spec.ports).map(rec);
  const clusterIPs = arr(spec.clusterIPs).map(str);
  const headless = clusterIPs.length === 1 && clusterIPs[0] === 'None';
  if (!ports.length && !headless && type !== 'ExternalName') errs.push(required('spec.ports'));
  if ((type === 'LoadBalancer' || type === 'NodePort') && headless) errs.push(invalid('spec.clusterIPs[0]', clusterIPs[0], `may not be set to 'None' for ${type} services`));
  if (type === 'ExternalName') {
    if (clusterIPs.length) errs.push(forbidden('spec.clusterIPs', 'may not be set for ExternalName services'));
    if (arr(spec.ipFamilies).length) errs.push(forbidden('spec.ipFamilies', 'may not be set for ExternalName services'));
    if (spec.ipFamilyPolicy !== undefined) errs.push(forbidden('spec.ipFamilyPolicy', 'may not be set for ExternalName services'));
    const cname = str(spec.externalName).replace(/\.$/, '');
    if (cname) errs.push(...invalidEach('spec.externalName', cname, isDNS1123Subdomain(cname)));
    else errs.push(required('spec.externalName'));
  }
  const names = new Set<string>();
  ports.forEach((p, i) => errs.push(...validateServicePort(p, ports.length > 1, names, at('spec.ports', i))));
  if (spec.selector !== undefined && spec.selector !== null) errs.push(...validateLabels(spec.selector, 'spec.selector'));
  const affinity = str(spec.sessionAffinity);
  if (!affinity) errs.push(required('spec.sessionAffinity'));
  else if (!['ClientIP', 'None'].includes(affinity)) errs.push(notSupported('spec.sessionAffinity', affinity, ['ClientIP', 'None']));
  if (affinity === 'ClientIP') {
    const timeout = rec(rec(spec.sessionAffinityConfig).clientIP).timeoutSeconds;
    if (typeof timeout === 'number' && (timeout <= 0 || timeout > 86400)) errs.push(invalid('spec.sessionAffinityConfig.clientIP.timeoutSeconds', timeout, 'must be greater than 0 and less than 86400'));
  } else if (affinity === 'None' && spec.sessionAffinityConfig) errs.push(forbidden('spec.sessionAffinityConfig', 'must not be set when session affinity is None'));
  errs.push(...validateClusterIPs(spec, type));
  arr(spec.externalIPs).forEach((ip, i) => errs.push(...ipErrors(at('spec.externalIPs', i), str(ip))));
  if (!type) errs.push(required('spec.type'));
  else if (!SERVICE_TYPES.includes(type)) errs.push(notSupported('spec.type', type, SERVICE_TYPES));
  if (type === 'ClusterIP') ports.forEach((p, i) => { if (num(p.nodePort)) errs.push(forbidden(child(at('spec.ports', i), 'nodePort'), "may not be used when `type` is 'ClusterIP'")); });
  const nodePorts = new Set<string>();
  ports.forEach((p, i) => {
    if (!num(p.nodePort)) return;
    const key = `${str(p.protocol)}/${p.nodePort}`;
    if (nodePorts.has(key)) errs.push(duplicate(child(at('spec.ports', i), 'nodePort'), p.nodePort));
    nodePorts.add(key);
  });
  const seenPorts = new Set<string>();
  ports.forEach((p, i) => {
    const key = `${str(p.protocol)}/${num(p.port)}`;
    if (seenPorts.has(key)) errs.push(duplicate(at('spec.ports', i), goServicePortKey(str(p.protocol), num(p.port))));
    seenPorts.add(key);
  });
  if (spec.allocateLoadBalancerNodePorts !== undefined && type !== 'LoadBalancer') errs.push(forbidden('spec.allocateLoadBalancerNodePorts', "may only be used when `type` is 'LoadBalancer'"));
  const external = type === 'NodePort' || type === 'LoadBalancer' || arr(spec.externalIPs).length > 0;
  const etp = str(spec.externalTrafficPolicy);
  if (!external && etp) errs.push(invalid('spec.externalTrafficPolicy', etp, 'may only be set for externally-accessible services'));
  if (external && !etp) errs.push(required('spec.externalTrafficPolicy'));
  else if (external && !['Cluster', 'Local'].includes(etp)) errs.push(notSupported('spec.externalTrafficPolicy', etp, ['Cluster', 'Local']));
  const itp = spec.internalTrafficPolicy;
  if ((itp === undefined || itp === null) && ['NodePort', 'LoadBalancer', 'ClusterIP'].includes(type)) errs.push(required('spec.internalTrafficPolicy'));
  else if (typeof itp === 'string' && !['Cluster', 'Local'].includes(itp)) errs.push(notSupported('spec.internalTrafficPolicy', itp, ['Cluster', 'Local']));
  errs.push(...serviceRangeErrors(spec, type));
  if (old) errs.push(...validateServiceUpdate(spec, rec(old.spec)));
  return errs;
}

function validateClusterIPs(spec: Obj, type: string): FieldError[] {
  if (type === 'ExternalName') return [];
  const errs: FieldError[] = [];
  const clusterIP = str(spec.clusterIP);
  const clusterIPs = arr(spec.clusterIPs).map(str);
  if (clusterIP) {
    if (!clusterIPs.length) errs.push(required('spec.clusterIPs'));
    else if (clusterIPs[0] !== clusterIP) errs.push(invalid('spec.clusterIPs', goStrings(clusterIPs), 'first value must match `clusterIP`'));
  } else if (clusterIPs.length) errs.push(invalid('spec.clusterIPs', goStrings(clusterIPs), 'must be empty when `clusterIP` is not specified'));
  const families = arr(spec.ipFamilies).map(str);
  families.forEach((f, i) => {
    if (!['IPv4', 'IPv6'].includes(f)) errs.push(notSupported(at('spec.ipFamilies', i), f, ['IPv4', 'IPv6']));
    if (families.indexOf(f) < i) errs.push(duplicate(at('spec.ipFamilies', i), f));
  });
  const policies = ['PreferDualStack', 'RequireDualStack', 'SingleStack'];
  if (typeof spec.ipFamilyPolicy === 'string' && !policies.includes(spec.ipFamilyPolicy)) errs.push(notSupported('spec.ipFamilyPolicy', spec.ipFamilyPolicy, policies));
  let badIPs = false;
  clusterIPs.forEach((ip, i) => {
    if (i === 0 && ip === 'None') {
      if (clusterIPs.length > 1) { badIPs = true; errs.push(invalid('spec.clusterIPs', goStrings(clusterIPs), "'None' must be the first and only value")); }
      return;
    }
    const e = ipErrors(at('spec.clusterIPs', i), ip);
    badIPs ||= e.length > 0;
    errs.push(...e);
  });
  if (clusterIPs.length > 2) errs.push(invalid('spec.clusterIPs', goStrings(clusterIPs), 'may only hold up to 2 values'));
  if (badIPs) return errs;
  if (clusterIPs.length === 2 && (isIP(clusterIPs[0]) === 6) === (isIP(clusterIPs[1]) === 6)) errs.push(invalid('spec.clusterIPs', goStrings(clusterIPs), 'may specify no more than one IP for each IP family'));
  if (!(clusterIPs.length === 1 && clusterIPs[0] === 'None')) {
    clusterIPs.forEach((ip, i) => {
      if (families[i] === 'IPv4' && isIP(ip) === 6) errs.push(invalid(at('spec.clusterIPs', i), ip, `expected an IPv4 value as indicated by \`ipFamilies[${i}]\``));
      if (families[i] === 'IPv6' && isIP(ip) !== 6) errs.push(invalid(at('spec.clusterIPs', i), ip, `expected an IPv6 value as indicated by \`ipFamilies[${i}]\``));
    });
  }
  return errs;
}

/** What the ClusterIP and NodePort allocators answer for a requested value outside their range. */
function serviceRangeErrors(spec: Obj, type: string): FieldError[] {
  const errs: FieldError[] = [];
  const range = parseCIDR(SERVICE_CLUSTER_IP_RANGE)!;
  const clusterIPs = arr(spec.clusterIPs).map(str);
  for (const ip of clusterIPs) {
    const cidr = ip === 'None' || type === 'ExternalName' ? undefined : parseCIDR(`${ip}/${isIP(ip) === 6 ? 128 : 32}`);
    if (cidr && cidr.family === range.family && !strictSubset(range, cidr)) {
      errs.push(invalid('spec.clusterIPs', goStrings(clusterIPs), `failed to allocate IP ${ip}: the provided IP (${ip}) is not in the valid range. The range of valid IPs is ${SERVICE_CLUSTER_IP_RANGE}`));
    }
  }
  const { base, size } = SERVICE_NODE_PORT_RANGE;
  arr(spec.ports).map(rec).forEach((p, i) => {
    const nodePort = num(p.nodePort);
    if (nodePort && type !== 'ClusterIP' && (nodePort < base || nodePort >= base + size)) {
      errs.push(invalid(child(at('spec.ports', i), 'nodePort'), nodePort, `provided port is not in the valid range. The range of valid ports is ${base}-${base + size - 1}`));
    }
  });
  return errs;
}

function validateServiceUpdate(spec: Obj, oldSpec: Obj): FieldError[] {
  if (spec.type === 'ExternalName' || oldSpec.type === 'ExternalName') return [];
  const ips = arr(spec.clusterIPs).map(str);
  const oldIPs = arr(oldSpec.clusterIPs).map(str);
  const headless = (l: string[]) => l.length === 1 && l[0] === 'None';
  if (headless(ips) && headless(oldIPs)) return [];
  if (ips.length === oldIPs.length) return oldIPs.flatMap((ip, i) => (ip !== ips[i] ? [invalid(at('spec.clusterIPs', i), goStrings(ips), 'may not change once set')] : []));
  if (!ips.length) return [invalid('spec.clusterIPs[0]', goStrings(ips), 'primary clusterIP can not be unset')];
  return oldIPs.length && ips[0] !== oldIPs[0] ? [invalid('spec.clusterIPs[0]', goStrings(ips), 'may not change once set')] : [];
}

// ---------------------------------------------------------------------------------------------
// Workloads (pkg/apis/apps/validation)

function validatePositiveIntOrPercent(v: unknown, path: string): FieldError[] {
  if (typeof v === 'string') return invalidEach(path, goIntOrString(v), percentErrors(v));
  if (typeof v === 'number') return v < 0 ? [invalid(path, v, IS_NEGATIVE)] : [];
  return [];
}
const intOrPercentValue = (v: unknown) => (typeof v === 'number' ? v : parseInt(str(v), 10) || 0);
function notMoreThan100Percent(v: unknown, path: string): FieldError[] {
  return typeof v === 'string' && /^[0-9]+%$/.test(v) && parseInt(v, 10) > 100 ? [invalid(path, goIntOrString(v), 'must not be greater than 100%')] : [];
}

const nonNegative = (spec: Obj, f: string, path: string) => (typeof spec[f] === 'number' && spec[f] < 0 ? [invalid(child(path, f), spec[f], IS_NEGATIVE)] : []);

/** The selector rules workloads share. Deployments, ReplicaSets and StatefulSets require a
 *  selector (and a missing one also "does not match" the template: an absent selector selects
 *  nothing); a DaemonSet's is only checked for matching. */
function validateWorkloadSelector(spec: Obj, what: string, requireSelector: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const templateLabels = strMap(rec(rec(spec.template).metadata).labels);
  const mismatch = () => invalid('spec.template.metadata.labels', goStringMap(templateLabels), '`selector` does not match template `labels`');
  if (!spec.selector) return requireSelector ? [required('spec.selector'), mismatch()] : [mismatch()];
  const selector = rec(spec.selector);
  errs.push(...validateLabelSelector(selector, 'spec.selector'));
  if (isEmptySelector(selector)) errs.push(invalid('spec.selector', goLabelSelector(selector), `empty selector is invalid for ${what}`));
  const matches = selectorMatches(selector, templateLabels);
  if (matches === undefined) {
    if (requireSelector) errs.push(invalid('spec.selector', goLabelSelector(selector), 'invalid label selector'));
  } else if (!isEmptySelector(selector) && !matches) errs.push(mismatch());
  return errs;
}

/** The template must be a valid pod template whose pods restart Always and never time out. */
function validateWorkloadTemplate(spec: Obj, kind: string): FieldError[] {
  const template = rec(spec.template);
  const podSpec = rec(template.spec);
  const errs = validatePodTemplateSpec(template, 'spec.template');
  if (podSpec.restartPolicy !== 'Always') errs.push(notSupported('spec.template.spec.restartPolicy', str(podSpec.restartPolicy), ['Always']));
  const deadline = podSpec.activeDeadlineSeconds;
  if (deadline !== undefined && deadline !== null) {
    const detail = `activeDeadlineSeconds in ${kind} is not Supported`;
    // The DaemonSet validator words this one as Invalid, the others as Forbidden.
    errs.push(kind === 'DaemonSet' ? invalid('spec.template.spec.activeDeadlineSeconds', deadline, detail) : forbidden('spec.template.spec.activeDeadlineSeconds', detail));
  }
  return errs;
}

const selectorImmutable = (spec: Obj, oldSpec: Obj): FieldError[] =>
  sameJSON(spec.selector, oldSpec.selector) ? [] : [invalid('spec.selector', goLabelSelector(rec(spec.selector)), FIELD_IMMUTABLE)];

function validateDeployment(d: Obj, old?: Obj): FieldError[] {
  const errs = validateObjectMeta(rec(d.metadata), true, isDNS1123Subdomain);
  const spec = rec(d.spec);
  errs.push(...nonNegative(spec, 'replicas', 'spec'));
  // Deployment and ReplicaSet share upstream's wording, "for deployment" included.
  errs.push(...validateWorkloadSelector(spec, 'deployment', true));
  errs.push(...validateWorkloadTemplate(spec, 'ReplicaSet'));
  const strategy = rec(spec.strategy);
  const su = rec(strategy.rollingUpdate);
  if (strategy.type === 'Recreate') {
    if (strategy.rollingUpdate) errs.push(forbidden('spec.strategy.rollingUpdate', "may not be specified when strategy `type` is 'Recreate'"));
  } else if (strategy.type === 'RollingUpdate') {
    errs.push(...validatePositiveIntOrPercent(su.maxUnavailable, 'spec.strategy.rollingUpdate.maxUnavailable'));
    errs.push(...validatePositiveIntOrPercent(su.maxSurge, 'spec.strategy.rollingUpdate.maxSurge'));
    if (intOrPercentValue(su.maxUnavailable) === 0 && intOrPercentValue(su.maxSurge) === 0) {
      errs.push(invalid('spec.strategy.rollingUpdate.maxUnavailable', goIntOrString(su.maxUnavailable), 'may not be 0 when `maxSurge` is 0'));
    }
    errs.push(...notMoreThan100Percent(su.maxUnavailable, 'spec.strategy.rollingUpdate.maxUnavailable'));
  } else {
    errs.push(notSupported('spec.strategy', goText(`apps.DeploymentStrategy{Type:${goQuote(str(strategy.type))}, RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}`), ['Recreate', 'RollingUpdate']));
  }
  errs.push(...nonNegative(spec, 'minReadySeconds', 'spec'), ...nonNegative(spec, 'revisionHistoryLimit', 'spec'), ...nonNegative(spec, 'progressDeadlineSeconds', 'spec'));
  if (typeof spec.progressDeadlineSeconds === 'number' && spec.progressDeadlineSeconds <= num(spec.minReadySeconds)) {
    errs.push(invalid('spec.progressDeadlineSeconds', spec.progressDeadlineSeconds, 'must be greater than minReadySeconds'));
  }
  if (old) errs.push(...selectorImmutable(spec, rec(old.spec)));
  return errs;
}

function validateReplicaSet(rs: Obj, old?: Obj): FieldError[] {
  const spec = rec(rs.spec);
  const errs = [...validateObjectMeta(rec(rs.metadata), true, isDNS1123Subdomain), ...nonNegative(spec, 'replicas', 'spec'), ...nonNegative(spec, 'minReadySeconds', 'spec')];
  errs.push(...validateWorkloadSelector(spec, 'deployment', true), ...validateWorkloadTemplate(spec, 'ReplicaSet'));
  if (old) errs.push(...selectorImmutable(spec, rec(old.spec)));
  return errs;
}

function validateDaemonSet(ds: Obj, old?: Obj): FieldError[] {
  const spec = rec(ds.spec);
  const errs = validateObjectMeta(rec(ds.metadata), true, isDNS1123Subdomain);
  errs.push(...validateWorkloadSelector(spec, 'daemonset', false), ...validateWorkloadTemplate(spec, 'DaemonSet'));
  errs.push(...nonNegative(spec, 'minReadySeconds', 'spec'), ...nonNegative(spec, 'revisionHistoryLimit', 'spec'));
  const strategy = rec(spec.updateStrategy);
  if (strategy.type === 'RollingUpdate') {
    const ru = rec(strategy.rollingUpdate);
    const path = 'spec.updateStrategy.rollingUpdate';
    errs.push(...validatePositiveIntOrPercent(ru.maxUnavailable, `${path}.maxUnavailable`), ...validatePositiveIntOrPercent(ru.maxSurge, `${path}.maxSurge`));
    if (intOrPercentValue(ru.maxUnavailable) === 0 && intOrPercentValue(ru.maxSurge) === 0) {
      errs.push(invalid(`${path}.maxUnavailable`, goIntOrString(ru.maxUnavailable), 'may not be 0 when `maxSurge` is 0'));
    }
  } else if (strategy.type !== 'OnDelete') {
    errs.push(notSupported('spec.updateStrategy', goText(`apps.DaemonSetUpdateStrategy{Type:${goQuote(str(strategy.type))}, RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}`), ['OnDelete', 'RollingUpdate']));
  }
  if (old) errs.push(...selectorImmutable(spec, rec(old.spec)));
  return errs;
}

const STATEFULSET_MUTABLE = ['replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy', 'minReadySeconds'];

function validateStatefulSet(sts: Obj, old?: Obj): FieldError[] {
  const spec = rec(sts.spec);
  const errs = validateObjectMeta(rec(sts.metadata), true, isDNS1123Subdomain);
  const pmp = str(spec.podManagementPolicy);
  if (!pmp) errs.push(required('spec.podManagementPolicy'));
  else if (!['OrderedReady', 'Parallel'].includes(pmp)) errs.push(invalid('spec.podManagementPolicy', pmp, "must be 'OrderedReady' or 'Parallel'"));
  const strategy = rec(spec.updateStrategy);
  if (!strategy.type) errs.push(required('spec.updateStrategy'));
  else if (strategy.type === 'OnDelete' && strategy.rollingUpdate) errs.push(invalid('spec.updateStrategy.rollingUpdate', goText('&apps.RollingUpdateStatefulSetStrategy{...}'), "only allowed for updateStrategy 'RollingUpdate'"));
  else if (strategy.type === 'RollingUpdate') {
    const ru = rec(strategy.rollingUpdate);
    if (typeof ru.partition === 'number' && ru.partition < 0) errs.push(invalid('spec.updateStrategy.rollingUpdate.partition', ru.partition, IS_NEGATIVE));
  } else if (strategy.type !== 'OnDelete') errs.push(invalid('spec.updateStrategy', goText(`apps.StatefulSetUpdateStrategy{Type:${goQuote(str(strategy.type))}}`), "must be 'RollingUpdate' or 'OnDelete'"));
  const retention = rec(spec.persistentVolumeClaimRetentionPolicy);
  for (const f of ['whenDeleted', 'whenScaled']) {
    if (retention[f] !== undefined && !['Retain', 'Delete'].includes(retention[f])) errs.push(notSupported(child('spec.persistentVolumeClaimRetentionPolicy', f), str(retention[f]), ['Retain', 'Delete']));
  }
  errs.push(...nonNegative(spec, 'replicas', 'spec'), ...nonNegative(spec, 'minReadySeconds', 'spec'));
  errs.push(...validateWorkloadSelector(spec, 'statefulset', true), ...validateWorkloadTemplate(spec, 'StatefulSet'));
  if (old) {
    const oldSpec = rec(old.spec);
    const changed = [...new Set([...Object.keys(spec), ...Object.keys(oldSpec)])].filter((k) => !STATEFULSET_MUTABLE.includes(k) && !sameJSON(spec[k], oldSpec[k]));
    if (changed.length) errs.push(forbidden('spec', "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"));
  }
  return errs;
}

// ---------------------------------------------------------------------------------------------
// Networking (pkg/apis/networking/validation, pkg/apis/discovery/validation)

function validateNetworkPolicyPort(port: Obj, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (port.protocol !== undefined && !['TCP', 'UDP', 'SCTP'].includes(port.protocol)) errs.push(notSupported(child(path, 'protocol'), str(port.protocol), ['TCP', 'UDP', 'SCTP']));
  const hasEnd = port.endPort !== undefined && port.endPort !== null;
  if (port.port === undefined || port.port === null) {
    if (hasEnd) errs.push(invalid(child(path, 'endPort'), port.endPort, 'may not be specified when `port` is not specified'));
  } else if (typeof port.port === 'number') {
    errs.push(...invalidEach(child(path, 'port'), port.port, isValidPortNum(port.port)));
    if (hasEnd) {
      if (port.endPort < port.port) errs.push(invalid(child(path, 'endPort'), port.endPort, 'must be greater than or equal to `port`'));
      errs.push(...invalidEach(child(path, 'endPort'), port.endPort, isValidPortNum(num(port.endPort))));
    }
  } else {
    if (hasEnd) errs.push(invalid(child(path, 'endPort'), port.endPort, 'may not be specified when `port` is non-numeric'));
    errs.push(...invalidEach(child(path, 'port'), str(port.port), isValidPortName(str(port.port))));
  }
  return errs;
}

function validateIPBlock(block: Obj, path: string): FieldError[] {
  const cidr = str(block.cidr);
  if (!cidr) return [required(child(path, 'cidr'))];
  const errs = cidrErrors(child(path, 'cidr'), cidr);
  const outer = parseCIDR(cidr);
  if (!outer) return errs;
  arr(block.except).map(str).forEach((except, i) => {
    const p = at(child(path, 'except'), i);
    const inner = parseCIDR(except);
    if (!inner) { errs.push(...cidrErrors(p, except)); return; }
    if (!strictSubset(outer, inner)) errs.push(invalid(p, except, 'must be a strict subset of `cidr`'));
  });
  return errs;
}

function validateNetworkPolicyPeer(peer: Obj, path: string): FieldError[] {
  const errs: FieldError[] = [];
  let peers = 0;
  for (const s of ['podSelector', 'namespaceSelector']) {
    if (peer[s] === undefined || peer[s] === null) continue;
    peers++;
    errs.push(...validateLabelSelector(peer[s], child(path, s)));
  }
  if (peer.ipBlock) { peers++; errs.push(...validateIPBlock(rec(peer.ipBlock), child(path, 'ipBlock'))); }
  if (!peers) errs.push(required(path, 'must specify a peer'));
  else if (peers > 1 && peer.ipBlock) errs.push(forbidden(path, 'may not specify both ipBlock and another peer'));
  return errs;
}

function validateNetworkPolicy(np: Obj): FieldError[] {
  const errs = validateObjectMeta(rec(np.metadata), true, isDNS1123Subdomain);
  const spec = rec(np.spec);
  errs.push(...validateLabelSelector(rec(spec.podSelector), 'spec.podSelector'));
  for (const [direction, peersField] of [['ingress', 'from'], ['egress', 'to']] as const) {
    arr(spec[direction]).map(rec).forEach((rule, i) => {
      const rulePath = at(`spec.${direction}`, i);
      arr(rule.ports).map(rec).forEach((p, j) => errs.push(...validateNetworkPolicyPort(p, at(child(rulePath, 'ports'), j))));
      arr(rule[peersField]).map(rec).forEach((p, j) => errs.push(...validateNetworkPolicyPeer(p, at(child(rulePath, peersField), j))));
    });
  }
  const types = arr(spec.policyTypes).map(str);
  if (types.length > 2) {
    errs.push(invalid('spec.policyTypes', goText(`&[]networking.PolicyType{${types.map(goQuote).join(', ')}}`), 'may not specify more than two policyTypes'));
    return errs;
  }
  types.forEach((t, i) => { if (!['Ingress', 'Egress'].includes(t)) errs.push(notSupported(at('spec.policyTypes', i), t, ['Ingress', 'Egress'])); });
  return errs;
}

const PATH_TYPES = ['Exact', 'ImplementationSpecific', 'Prefix'];

function validateIngressBackend(backend: Obj, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (backend.resource && backend.service) return [invalid(path, '', 'cannot set both resource and service backends')];
  if (backend.resource) {
    const r = rec(backend.resource);
    if (!str(r.kind)) errs.push(required(child(path, 'resource', 'kind')));
    if (!str(r.name)) errs.push(required(child(path, 'resource', 'name')));
    return errs;
  }
  if (!backend.service) return [invalid(path, '', 'resource or service backend is required')];
  const svc = rec(backend.service);
  const name = str(svc.name);
  if (!name) errs.push(required(child(path, 'service', 'name')));
  else errs.push(...invalidEach(child(path, 'service', 'name'), name, isDNS1035Label(name)));
  const port = rec(svc.port);
  const portName = str(port.name);
  const portNumber = num(port.number);
  if (portName && portNumber) errs.push(invalid(path, '', 'cannot set both port name & port number'));
  else if (portName) errs.push(...invalidEach(child(path, 'service', 'port', 'name'), portName, isValidPortName(portName)));
  else if (portNumber) errs.push(...invalidEach(child(path, 'service', 'port', 'number'), portNumber, isValidPortNum(portNumber)));
  else errs.push(required(path, 'port name or number is required'));
  return errs;
}

function validateIngressPath(p: Obj, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (p.pathType === undefined || p.pathType === null) return [required(child(path, 'pathType'), 'pathType must be specified')];
  const value = str(p.path);
  if (p.pathType === 'Exact' || p.pathType === 'Prefix') {
    if (!value.startsWith('/')) errs.push(invalid(child(path, 'path'), value, 'must be an absolute path'));
    for (const seq of ['//', '/./', '/../', '%2f', '%2F']) if (value.includes(seq)) errs.push(invalid(child(path, 'path'), value, `must not contain '${seq}'`));
    for (const suffix of ['/..', '/.']) if (value.endsWith(suffix)) errs.push(invalid(child(path, 'path'), value, `cannot end with '${suffix}'`));
  } else if (p.pathType === 'ImplementationSpecific') {
    if (value && !value.startsWith('/')) errs.push(invalid(child(path, 'path'), value, 'must be an absolute path'));
  } else errs.push(notSupported(child(path, 'pathType'), str(p.pathType), PATH_TYPES));
  errs.push(...validateIngressBackend(rec(p.backend), child(path, 'backend')));
  return errs;
}

function validateIngress(ing: Obj): FieldError[] {
  const errs = validateObjectMeta(rec(ing.metadata), true, isDNS1123Subdomain);
  const spec = rec(ing.spec);
  const rules = arr(spec.rules).map(rec);
  if (!rules.length && !spec.defaultBackend) errs.push(invalid('spec', goText(spec.rules === undefined ? '[]networking.IngressRule(nil)' : '[]networking.IngressRule{}'), 'either `defaultBackend` or `rules` must be specified'));
  if (spec.defaultBackend) errs.push(...validateIngressBackend(rec(spec.defaultBackend), 'spec.defaultBackend'));
  rules.forEach((rule, i) => {
    const p = at('spec.rules', i);
    const host = str(rule.host);
    if (host) {
      if (isIPSloppy(host)) errs.push(invalid(child(p, 'host'), host, 'must be a DNS name, not an IP address'));
      errs.push(...invalidEach(child(p, 'host'), host, host.includes('*') ? isWildcardDNS1123Subdomain(host) : isDNS1123Subdomain(host)));
    }
    if (!rule.http) return;
    const paths = arr(rec(rule.http).paths).map(rec);
    if (!paths.length) errs.push(required(child(p, 'http', 'paths')));
    paths.forEach((hp, j) => errs.push(...validateIngressPath(hp, at(child(p, 'http', 'paths'), j))));
  });
  arr(spec.tls).map(rec).forEach((tls, i) => {
    arr(tls.hosts).map(str).forEach((h, j) => errs.push(...invalidEach(at(child(at('spec.tls', i), 'hosts'), j), h, h.includes('*') ? isWildcardDNS1123Subdomain(h) : isDNS1123Subdomain(h))));
    if (str(tls.secretName)) errs.push(...invalidEach(child(at('spec.tls', i), 'secretName'), tls.secretName, isDNS1123Subdomain(tls.secretName)));
  });
  if (typeof spec.ingressClassName === 'string') errs.push(...invalidEach('spec.ingressClassName', spec.ingressClassName, isDNS1123Subdomain(spec.ingressClassName)));
  const annotation = rec(rec(ing.metadata).annotations)['kubernetes.io/ingress.class'];
  if (typeof annotation === 'string' && typeof spec.ingressClassName === 'string' && annotation !== spec.ingressClassName) {
    errs.push(invalid('annotations.kubernetes.io/ingress.class', annotation, 'must match `ingressClassName` when both are specified'));
  }
  return errs;
}

function validateIngressClass(ic: Obj, old?: Obj): FieldError[] {
  const errs = validateObjectMeta(rec(ic.metadata), false, isDNS1123Subdomain);
  const spec = rec(ic.spec);
  const controller = str(spec.controller);
  if (!controller) errs.push(required('spec.controller'));
  else {
    if (controller.length > 250) errs.push(tooLong('spec.controller', 250));
    const [host, rest] = [controller.split('/')[0], controller.split('/').slice(1).join('/')];
    if (!controller.includes('/') || !host || !rest) errs.push(invalid('spec.controller', controller, 'must be a domain-prefixed path (such as "acme.io/foo")'));
    else {
      errs.push(...invalidEach('spec.controller', host, isDNS1123Subdomain(host)));
      if (!/^[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/.test(rest)) errs.push(invalid('spec.controller', rest, regexError('Invalid path', "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+")));
    }
  }
  if (spec.parameters) {
    const params = rec(spec.parameters);
    if (!str(params.kind)) errs.push(required('spec.parameters.kind'));
    if (!str(params.name)) errs.push(required('spec.parameters.name'));
    if (params.scope !== undefined && !['Cluster', 'Namespace'].includes(params.scope)) errs.push(notSupported('spec.parameters.scope', str(params.scope), ['Cluster', 'Namespace']));
    if (params.scope === 'Namespace' && !params.namespace) errs.push(required('spec.parameters.namespace', "`parameters.scope` is set to 'Namespace'"));
    if (params.scope === 'Cluster' && params.namespace !== undefined) errs.push(forbidden('spec.parameters.namespace', "`parameters.scope` is set to 'Cluster'"));
  }
  if (old && str(rec(old.spec).controller) !== controller) errs.push(invalid('spec.controller', controller, FIELD_IMMUTABLE));
  return errs;
}

const ADDRESS_TYPES = ['FQDN', 'IPv4', 'IPv6'];

function validateEndpointSlice(slice: Obj, old?: Obj): FieldError[] {
  const errs = validateObjectMeta(rec(slice.metadata), true, isDNS1123Subdomain);
  const addressType = str(slice.addressType);
  if (!addressType) errs.push(required('addressType'));
  else if (!ADDRESS_TYPES.includes(addressType)) errs.push(notSupported('addressType', addressType, ADDRESS_TYPES));
  arr(slice.endpoints).map(rec).forEach((ep, i) => {
    const p = at('endpoints', i);
    const addresses = arr(ep.addresses).map(str);
    if (!addresses.length) errs.push(required(child(p, 'addresses'), 'must contain at least 1 address'));
    else if (addresses.length > 100) errs.push({ type: 'FieldValueTooLong', field: child(p, 'addresses'), message: `Too many: ${addresses.length}: must have at most 100 items` });
    addresses.forEach((a, j) => {
      const ap = at(child(p, 'addresses'), j);
      if (addressType === 'IPv4' && !parseIPv4(a)) errs.push(invalid(ap, a, 'must be a valid IPv4 address'));
      if (addressType === 'IPv6' && isIP(a) !== 6) errs.push(invalid(ap, a, 'must be a valid IPv6 address'));
      if (addressType === 'FQDN') errs.push(...invalidEach(ap, a, isDNS1123Subdomain(a)));
    });
    if (typeof ep.hostname === 'string') errs.push(...invalidEach(child(p, 'hostname'), ep.hostname, isDNS1123Label(ep.hostname)));
    if (typeof ep.nodeName === 'string') errs.push(...invalidEach(child(p, 'nodeName'), ep.nodeName, isDNS1123Subdomain(ep.nodeName)));
  });
  const names = new Set<string>();
  arr(slice.ports).map(rec).forEach((port, i) => {
    const p = at('ports', i);
    const name = str(port.name);
    if (name) errs.push(...invalidEach(child(p, 'name'), name, isDNS1123Label(name)));
    if (names.has(name)) errs.push(duplicate(child(p, 'name'), name));
    names.add(name);
    if (port.protocol !== undefined && !PROTOCOLS.includes(port.protocol)) errs.push(notSupported(child(p, 'protocol'), str(port.protocol), PROTOCOLS));
    if (typeof port.port === 'number' && (port.port < 0 || port.port > 65535)) errs.push(invalid(child(p, 'port'), port.port, inclusiveRangeError(0, 65535)));
  });
  if (old && str(old.addressType) !== addressType) errs.push(invalid('addressType', addressType, FIELD_IMMUTABLE));
  return errs;
}

function validateEndpoints(ep: Obj): FieldError[] {
  const errs = validateObjectMeta(rec(ep.metadata), true, isDNS1123Subdomain);
  arr(ep.subsets).map(rec).forEach((ss, i) => {
    const p = at('subsets', i);
    if (!arr(ss.addresses).length && !arr(ss.notReadyAddresses).length) errs.push(required(p, 'must specify `addresses` or `notReadyAddresses`'));
    for (const list of ['addresses', 'notReadyAddresses']) {
      arr(ss[list]).map(rec).forEach((a, j) => {
        const ap = at(child(p, list), j);
        const ip = str(a.ip);
        errs.push(...ipErrors(child(ap, 'ip'), ip));
        if (str(a.hostname)) errs.push(...invalidEach(child(ap, 'hostname'), a.hostname, isDNS1123Label(a.hostname)));
        if (typeof a.nodeName === 'string') errs.push(...invalidEach(child(ap, 'nodeName'), a.nodeName, isDNS1123Subdomain(a.nodeName)));
        if (isIPSloppy(ip)) errs.push(...specialIPErrors(child(ap, 'ip'), ip));
      });
    }
    const ports = arr(ss.ports).map(rec);
    ports.forEach((port, j) => {
      const pp = at(child(p, 'ports'), j);
      const name = str(port.name);
      if (ports.length > 1 && !name) errs.push(required(child(pp, 'name')));
      else if (name) errs.push(...invalidEach(child(pp, 'name'), name, isDNS1123Label(name)));
      errs.push(...invalidEach(child(pp, 'port'), num(port.port), isValidPortNum(num(port.port))));
      if (!str(port.protocol)) errs.push(required(child(pp, 'protocol')));
      else if (!PROTOCOLS.includes(port.protocol)) errs.push(notSupported(child(pp, 'protocol'), port.protocol, PROTOCOLS));
    });
  });
  return errs;
}

/** Endpoints may not point at unspecified, loopback or link-local addresses. */
function specialIPErrors(field: string, ip: string): FieldError[] {
  const v4 = parseIPv4(ip);
  const errs: FieldError[] = [];
  if (v4 ? v4.every((o) => o === 0) : /^[0:]+$/.test(ip)) errs.push(invalid(field, ip, `may not be unspecified (${ip})`));
  if (v4 ? v4[0] === 127 : ip === '::1') errs.push(invalid(field, ip, 'may not be in the loopback range (127.0.0.0/8, ::1/128)'));
  if (v4 ? v4[0] === 169 && v4[1] === 254 : /^fe[89ab]/i.test(ip)) errs.push(invalid(field, ip, 'may not be in the link-local range (169.254.0.0/16, fe80::/10)'));
  if (v4 ? v4[0] === 224 && v4[1] === 0 && v4[2] === 0 : /^ff02:/i.test(ip)) errs.push(invalid(field, ip, 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)'));
  return errs;
}

// ---------------------------------------------------------------------------------------------
// Configuration and cluster objects

function validateConfigMap(cm: Obj): FieldError[] {
  const errs = validateObjectMeta(rec(cm.metadata), true, isDNS1123Subdomain);
  const data = rec(cm.data);
  const binary = rec(cm.binaryData);
  let size = 0;
  for (const [k, v] of Object.entries(data)) {
    errs.push(...invalidEach(at('data', k), k, isConfigMapKey(k)));
    if (k in binary) errs.push(invalid(at('data', k), k, 'duplicate of key present in binaryData'));
    size += Buffer.byteLength(str(v));
  }
  for (const [k, v] of Object.entries(binary)) {
    errs.push(...invalidEach(at('binaryData', k), k, isConfigMapKey(k)));
    size += Math.floor((str(v).length * 3) / 4);
  }
  if (size > 1024 * 1024) errs.push(tooLong('', 1024 * 1024));
  return errs;
}

/** The data keys each well-known Secret type requires. */
const SECRET_TYPE_KEYS: Record<string, string[]> = {
  'kubernetes.io/dockercfg': ['.dockercfg'],
  'kubernetes.io/dockerconfigjson': ['.dockerconfigjson'],
  'kubernetes.io/ssh-auth': ['ssh-privatekey'],
  'kubernetes.io/tls': ['tls.crt', 'tls.key'],
};

function validateSecret(secret: Obj, old?: Obj): FieldError[] {
  const errs = validateObjectMeta(rec(secret.metadata), true, isDNS1123Subdomain);
  const data = rec(secret.data);
  let size = 0;
  for (const [k, v] of Object.entries(data)) {
    errs.push(...invalidEach(at('data', k), k, isConfigMapKey(k)));
    size += Buffer.from(str(v), 'base64').length;
  }
  if (size > 1024 * 1024) errs.push(tooLong('data', 1024 * 1024));
  const type = str(secret.type);
  if (type === 'kubernetes.io/service-account-token' && !str(rec(rec(secret.metadata).annotations)['kubernetes.io/service-account.name'])) {
    errs.push(required('metadata.annotations[kubernetes.io/service-account.name]'));
  } else if (type === 'kubernetes.io/basic-auth' && !('username' in data) && !('password' in data)) {
    errs.push(required('data[username]'), required('data[password]'));
  } else {
    for (const key of SECRET_TYPE_KEYS[type] ?? []) if (!(key in data)) errs.push(required(at('data', key)));
  }
  if (old) {
    if (str(old.type) !== type) errs.push(invalid('type', type, FIELD_IMMUTABLE));
    if (old.immutable === true) {
      if (secret.immutable !== true) errs.push(forbidden('immutable', 'field is immutable when `immutable` is set'));
      if (!sameJSON(secret.data, old.data)) errs.push(forbidden('data', 'field is immutable when `immutable` is set'));
    }
  }
  return errs;
}

const STANDARD_FINALIZERS = ['kubernetes', 'orphan', 'foregroundDeletion'];

function validateNamespace(ns: Obj): FieldError[] {
  const errs = validateObjectMeta(rec(ns.metadata), false, isDNS1123Label);
  arr(rec(ns.spec).finalizers).map(str).forEach((f) => {
    errs.push(...invalidEach('spec.finalizers', f, isQualifiedName(f)));
    if (!f.includes('/') && !STANDARD_FINALIZERS.includes(f)) errs.push(invalid('spec.finalizers', f, 'name is neither a standard finalizer name nor is it fully qualified'));
  });
  return errs;
}

function validateNode(node: Obj, old?: Obj): FieldError[] {
  const errs = validateObjectMeta(rec(node.metadata), false, isDNS1123Subdomain);
  const spec = rec(node.spec);
  const cidrs = arr(spec.podCIDRs).map(str);
  cidrs.forEach((c, i) => errs.push(...cidrErrors(at('spec.podCIDRs', i), c)));
  if (cidrs.length > 2 || (cidrs.length === 2 && parseCIDR(cidrs[0])?.family === parseCIDR(cidrs[1])?.family)) {
    errs.push(invalid('spec.podCIDRs', goStrings(cidrs), 'may specify no more than one CIDR for each IP family'));
  }
  const seen = new Set<string>();
  arr(spec.taints).map(rec).forEach((t, i) => {
    const p = at('spec.taints', i);
    errs.push(...invalidEach(child(p, 'key'), str(t.key), isQualifiedName(str(t.key))));
    const valueErrs = isLabelValue(str(t.value));
    if (valueErrs.length) errs.push(invalid(child(p, 'value'), str(t.value), valueErrs.join(';')));
    if (!str(t.effect)) errs.push(required(child(p, 'effect')));
    else if (!TAINT_EFFECTS.includes(t.effect)) errs.push(notSupported(child(p, 'effect'), t.effect, TAINT_EFFECTS));
    const key = `${str(t.effect)}\u0000${str(t.key)}`;
    if (seen.has(key)) {
      errs.push(duplicate(p, goText(`core.Taint{Key:${goQuote(str(t.key))}, Value:${goQuote(str(t.value))}, Effect:${goQuote(str(t.effect))}, TimeAdded:<nil>}`), 'taints must be unique by key and effect pair'));
    }
    seen.add(key);
  });
  if (old) {
    const oldSpec = rec(old.spec);
    if (arr(oldSpec.podCIDRs).length && !sameJSON(oldSpec.podCIDRs, spec.podCIDRs)) errs.push(forbidden('spec.podCIDRs', 'node updates may not change podCIDR except from "" to valid'));
    if (str(oldSpec.providerID) && oldSpec.providerID !== spec.providerID) errs.push(forbidden('spec.providerID', 'node updates may not change providerID except from "" to valid'));
  }
  return errs;
}

function validateEvent(ev: Obj): FieldError[] {
  const meta = rec(ev.metadata);
  const errs = validateObjectMeta(meta, true, isDNS1123Subdomain);
  const ns = str(meta.namespace);
  const involvedNs = str(rec(ev.involvedObject).namespace);
  if (!ev.eventTime) {
    // Old-style events: the involved object must live in the event's namespace.
    if (involvedNs ? involvedNs !== ns : ns !== '' && ns !== 'default') errs.push(invalid('involvedObject.namespace', involvedNs, 'does not match event.namespace'));
  } else {
    if (!involvedNs && ns !== 'default' && ns !== 'kube-system') errs.push(invalid('involvedObject.namespace', involvedNs, 'does not match event.namespace'));
    const controller = str(ev.reportingComponent);
    if (!controller) errs.push(required('reportingComponent'));
    errs.push(...invalidEach('reportingComponent', controller, isQualifiedName(controller)));
    if (!str(ev.reportingInstance)) errs.push(required('reportingInstance'));
    if (str(ev.reportingInstance).length > 128) errs.push(invalid('reportingInstance', '', 'can have at most 128 characters'));
    if (!str(ev.action)) errs.push(required('action'));
    if (str(ev.action).length > 128) errs.push(invalid('action', '', 'can have at most 128 characters'));
    if (!str(ev.reason)) errs.push(required('reason'));
    if (str(ev.reason).length > 128) errs.push(invalid('reason', '', 'can have at most 128 characters'));
    if (str(ev.message).length > 1024) errs.push(invalid('message', '', 'can have at most 1024 characters'));
  }
  errs.push(...invalidEach('namespace', ns, isDNS1123Subdomain(ns)));
  return errs;
}

// ---------------------------------------------------------------------------------------------
// Entry points

type Validator = (obj: Obj, old?: Obj) => FieldError[];

function validatePod(pod: Obj, old?: Obj): FieldError[] {
  const errs = validateObjectMeta(rec(pod.metadata), true, isDNS1123Subdomain);
  errs.push(...validatePodSpec(rec(pod.spec), 'spec'));
  if (old) errs.push(...validatePodUpdate(pod, old));
  return errs;
}

const metaOnly = (namespaced: boolean): Validator => (obj) => validateObjectMeta(rec(obj.metadata), namespaced, isDNS1123Subdomain);

const VALIDATORS: Record<KindName, Validator> = {
  Namespace: validateNamespace,
  Node: validateNode,
  Pod: validatePod,
  Service: validateService,
  Endpoints: validateEndpoints,
  ConfigMap: validateConfigMap,
  Secret: validateSecret,
  ServiceAccount: metaOnly(true),
  Event: validateEvent,
  Deployment: validateDeployment,
  ReplicaSet: validateReplicaSet,
  DaemonSet: validateDaemonSet,
  StatefulSet: validateStatefulSet,
  EndpointSlice: validateEndpointSlice,
  NetworkPolicy: validateNetworkPolicy,
  Ingress: validateIngress,
  IngressClass: validateIngressClass,
  CustomResourceDefinition: validateCustomResourceDefinition,
};

/** Validates a defaulted object (on update, `old` is the stored one: immutable fields such as Service
 *  spec.clusterIP, Deployment spec.selector, Pod spec except the mutable fields, are checked against it).
 *  Returns the field errors; empty when valid. */
export function validate(kind: KindName, obj: KubeObject, old?: KubeObject): FieldError[] {
  const errs = VALIDATORS[kind](obj, old);
  if (old) errs.unshift(...validateObjectMetaUpdate(rec(obj.metadata), rec(old.metadata)));
  return errs;
}

/** The ApiError (422 Invalid) for a list of field errors, as the real API server words it:
 *  `Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: ...`.
 *  The message names the kind with its group; kubectl prints `The Deployment "web" is invalid`
 *  from details.kind and the causes instead. Identical messages appear once in the text, as
 *  ErrorList.ToAggregate dedups them; causes keep every error. */
export function invalidError(kind: KindName | Pick<KindInfo, 'group' | 'kind'>, name: string, errors: FieldError[]): ApiError {
  const info = typeof kind === 'string' ? KINDS[kind] : kind;
  const qualified = info.group ? `${info.kind}.${info.group}` : info.kind;
  const texts = [...new Set(errors.map((e) => `${e.field}: ${e.message}`))];
  const summary = texts.length === 0 ? '' : texts.length === 1 ? `: ${texts[0]}` : `: [${texts.join(', ')}]`;
  return new ApiError(422, 'Invalid', `${qualified} ${goQuote(name)} is invalid${summary}`, {
    name,
    group: info.group || undefined,
    kind: info.kind,
    causes: errors.map((e) => ({ reason: e.type, message: e.message, field: e.field })),
  });
}

// ---------------------------------------------------------------------------------------------
// Secret data is []byte in Go: the JSON decoder rejects bad base64 before validation runs.

/** Where Go's base64.StdEncoding decoder gives up on `s`, or undefined when it decodes. */
export function base64ErrorOffset(s: string): number | undefined {
  const alphabet = /[A-Za-z0-9+/]/;
  let i = 0;
  const next = () => { while (i < s.length && (s[i] === '\n' || s[i] === '\r')) i++; };
  for (;;) {
    for (let j = 0; j < 4; j++) {
      next();
      if (i === s.length) return j === 0 ? undefined : i - j;
      const c = s[i++];
      if (alphabet.test(c)) continue;
      if (c !== '=' || j < 2) return i - 1;
      if (j === 2) {
        next();
        if (i === s.length) return s.length;
        if (s[i] !== '=') return i - 1;
        i++;
      }
      next();
      return i < s.length ? i : undefined;
    }
  }
}

/** The 400 the API server answers for a Secret whose data is not base64:
 *  `Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 4`. */
export function secretDecodeError(obj: KubeObject): ApiError | undefined {
  for (const v of Object.values(rec(obj.data))) {
    const offset = base64ErrorOffset(str(v));
    if (offset !== undefined) return new ApiError(400, 'BadRequest', `Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte ${offset}`);
  }
  return undefined;
}
