import { badRequest, type KubeObject } from './object.ts';

// Label and field selectors as the API server parses them from `?labelSelector=` and
// `?fieldSelector=` (k8s.io/apimachinery/pkg/labels and .../fields): `a=b`, `a==b`, `a!=b`,
// `a in (x,y)`, `a notin (x)`, `a`, `!a`, comma meaning AND. Label values are matched exactly;
// `!=` and `notin` also match objects that lack the key, as upstream does.

export type LabelRequirement =
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | '!' };

export type LabelSelector = LabelRequirement[];

const KEY = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?\/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkKey(key: string, text: string): string {
  if (!KEY.test(key) || key.length > 316) throw badRequest(`unable to parse requirement: invalid label key "${key}" in "${text}"`);
  return key;
}

function checkValue(value: string, text: string): string {
  if (!VALUE.test(value) || value.length > 63) throw badRequest(`unable to parse requirement: invalid label value: "${value}" in "${text}"`);
  return value;
}

/** Splits on commas that are not inside a parenthesised set. */
function splitTerms(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) { out.push(cur); cur = ''; continue; }
    cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t.length > 0);
}

export function parseLabelSelector(text: string | null | undefined): LabelSelector {
  if (!text || !text.trim()) return [];
  return splitTerms(text).map((term): LabelRequirement => {
    let m = /^!\s*(\S+)$/.exec(term);
    if (m) return { key: checkKey(m[1], text), op: '!' };
    m = /^(\S+?)\s+(in|notin)\s*\((.*)\)$/.exec(term);
    if (m) {
      const values = m[3].split(',').map((v) => checkValue(v.trim(), text));
      return { key: checkKey(m[1], text), op: m[2] as 'in' | 'notin', values };
    }
    m = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (m) {
      const value = checkValue(m[3].trim(), text);
      return { key: checkKey(m[1], text), op: m[2] === '!=' ? 'notin' : 'in', values: [value] };
    }
    if (/^[^\s=!(),]+$/.test(term)) return { key: checkKey(term, text), op: 'exists' };
    throw badRequest(`unable to parse requirement: found '${term}', expected: key, !key, key=value, key!=value, key in (...), key notin (...)`);
  });
}

export function matchesLabels(sel: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return sel.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    switch (r.op) {
      case 'exists': return has;
      case '!': return !has;
      case 'in': return has && r.values.includes(l[r.key]);
      case 'notin': return !has || !r.values.includes(l[r.key]);
    }
  });
}

/** metav1.LabelSelector (matchLabels + matchExpressions) as requirements. An empty selector selects everything. */
export function fromLabelSelector(sel: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] } | undefined): LabelSelector {
  if (!sel) return [];
  const reqs: LabelSelector = Object.entries(sel.matchLabels ?? {}).map(([key, v]) => ({ key, op: 'in', values: [v] }));
  for (const e of sel.matchExpressions ?? []) {
    switch (e.operator) {
      case 'In': reqs.push({ key: e.key, op: 'in', values: e.values ?? [] }); break;
      case 'NotIn': reqs.push({ key: e.key, op: 'notin', values: e.values ?? [] }); break;
      case 'Exists': reqs.push({ key: e.key, op: 'exists' }); break;
      case 'DoesNotExist': reqs.push({ key: e.key, op: '!' }); break;
      default: throw badRequest(`"${e.operator}" is not a valid label selector operator`);
    }
  }
  return reqs;
}

// ---- field selectors ------------------------------------------------------------------------

export interface FieldRequirement { field: string; op: '=' | '!='; value: string }
export type FieldSelector = FieldRequirement[];

export function parseFieldSelector(text: string | null | undefined): FieldSelector {
  if (!text || !text.trim()) return [];
  return splitTerms(text).map((term) => {
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid selector: '${text}'; can't understand '${term}'`);
    return { field: m[1].trim(), op: m[2] === '!=' ? '!=' : '=', value: m[3].trim() };
  });
}

/** The fields each kind can be selected by (the API server's field label conversion functions). */
const FIELDS: Record<string, (o: KubeObject) => Record<string, string>> = {
  Pod: (o) => {
    const spec = (o.spec ?? {}) as Record<string, unknown>;
    const status = (o.status ?? {}) as Record<string, unknown>;
    return {
      'spec.nodeName': String(spec.nodeName ?? ''),
      'spec.restartPolicy': String(spec.restartPolicy ?? ''),
      'spec.schedulerName': String(spec.schedulerName ?? ''),
      'spec.serviceAccountName': String(spec.serviceAccountName ?? ''),
      'spec.hostNetwork': String(Boolean(spec.hostNetwork)),
      'status.phase': String(status.phase ?? ''),
      'status.podIP': String(status.podIP ?? ''),
      'status.nominatedNodeName': String(status.nominatedNodeName ?? ''),
    };
  },
  Event: (o) => {
    const io = (o.involvedObject ?? {}) as Record<string, unknown>;
    const src = (o.source ?? {}) as Record<string, unknown>;
    const f: Record<string, string> = { reason: String(o.reason ?? ''), type: String(o.type ?? ''), 'source': String(src.component ?? ''), reportingComponent: String(o.reportingComponent ?? '') };
    for (const k of ['kind', 'namespace', 'name', 'uid', 'apiVersion', 'resourceVersion', 'fieldPath']) f[`involvedObject.${k}`] = String(io[k] ?? '');
    return f;
  },
  Secret: (o) => ({ type: String(o.type ?? '') }),
  Namespace: (o) => ({ 'status.phase': String(((o.status ?? {}) as Record<string, unknown>).phase ?? '') }),
  Node: (o) => ({ 'spec.unschedulable': String(Boolean(((o.spec ?? {}) as Record<string, unknown>).unschedulable)) }),
  ReplicaSet: (o) => ({ 'status.replicas': String(((o.status ?? {}) as Record<string, unknown>).replicas ?? 0) }),
};

function fieldsOf(kind: string, o: KubeObject): Record<string, string> {
  const base: Record<string, string> = { 'metadata.name': o.metadata.name ?? '' };
  if (o.metadata.namespace !== undefined) base['metadata.namespace'] = o.metadata.namespace;
  return { ...base, ...(FIELDS[kind]?.(o) ?? {}) };
}

/** Throws 400 for a field the kind cannot be selected by, as the API server does. */
export function checkFieldSelector(kind: string, sel: FieldSelector, sample: KubeObject): void {
  const known = fieldsOf(kind, sample);
  for (const r of sel) {
    if (!(r.field in known) && r.field !== 'metadata.namespace') {
      throw badRequest(`"${r.field}" is not a known field selector: only "${Object.keys(known).join('", "')}"`);
    }
  }
}

export function matchesFields(kind: string, sel: FieldSelector, o: KubeObject): boolean {
  if (!sel.length) return true;
  const f = fieldsOf(kind, o);
  return sel.every((r) => ((f[r.field] ?? '') === r.value) === (r.op === '='));
}
