// metav1.LabelSelector as kube-apiserver prints it: converted with LabelSelectorAsSelector, then
// labels.Selector.String(): requirements sorted by key, "k=v" for matchLabels, "k in (a,b)",
// "k notin (a,b)", "k" (Exists), "!k" (DoesNotExist), joined by commas. A selector the conversion
// rejects (bad operator, bad key or value, wrong number of values) has no string.

import type { V1LabelSelector } from '@kubernetes/client-node';

const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** validation.IsQualifiedName: an optional DNS subdomain prefix and "/", then a name of at most 63. */
function isQualifiedName(key: string): boolean {
  const parts = key.split('/');
  if (parts.length > 2) return false;
  const name = parts[parts.length - 1];
  if (parts.length === 2 && !(parts[0].length > 0 && parts[0].length <= 253 && DNS1123_SUBDOMAIN.test(parts[0]))) return false;
  return name.length > 0 && name.length <= 63 && LABEL_NAME.test(name);
}

/** validation.IsValidLabelValue: empty, or a name of at most 63 characters. */
const isLabelValue = (value: string) => value === '' || (value.length <= 63 && LABEL_NAME.test(value));

interface Requirement { key: string; text: string }

function requirement(key: string, operator: string, values: readonly string[]): Requirement | undefined {
  if (!isQualifiedName(key) || !values.every(isLabelValue)) return undefined;
  const list = () => `(${[...values].sort().join(',')})`;
  switch (operator) {
    case 'Equals': return values.length === 1 ? { key, text: `${key}=${values[0]}` } : undefined;
    case 'In': return values.length > 0 ? { key, text: `${key} in ${list()}` } : undefined;
    case 'NotIn': return values.length > 0 ? { key, text: `${key} notin ${list()}` } : undefined;
    case 'Exists': return values.length === 0 ? { key, text: key } : undefined;
    case 'DoesNotExist': return values.length === 0 ? { key, text: `!${key}` } : undefined;
    default: return undefined;
  }
}

/**
 * LabelSelectorAsSelector(selector).String(), or undefined when the selector is invalid. An absent
 * selector (which selects nothing) and an empty one (which selects everything) both print "".
 */
export function selectorString(selector: V1LabelSelector | null | undefined): string | undefined {
  const requirements: (Requirement | undefined)[] = [
    ...Object.entries(selector?.matchLabels ?? {}).map(([key, value]) => requirement(key, 'Equals', [value])),
    ...(selector?.matchExpressions ?? []).map((e) => requirement(e.key ?? '', e.operator ?? '', e.values ?? [])),
  ];
  if (requirements.some((r) => r === undefined)) return undefined;
  return (requirements as Requirement[])
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((r) => r.text)
    .join(',');
}

/** metav1.FormatLabelSelector: "<none>" for an empty selector, "<error>" for an invalid one. */
export function formatLabelSelector(selector: V1LabelSelector | null | undefined): string {
  const text = selectorString(selector);
  return text === undefined ? '<error>' : text || '<none>';
}
