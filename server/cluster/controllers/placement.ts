import type { Node, NodeSelectorRequirement, NodeSelectorTerm, PodSpec, Taint, Toleration } from './types.ts';

// Whether a pod may run on a node, as the scheduler's filters and the DaemonSet controller decide
// it (k8s.io/component-helpers/scheduling/corev1 and the core/v1 helpers): taints against
// tolerations, the nodeSelector, and required node affinity with matchExpressions over labels and
// matchFields over `metadata.name`.

/** A toleration tolerates a taint: same effect (or any), same key (or any with Exists), same value with Equal. */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  const op = t.operator ?? 'Equal';
  if (t.key && t.key !== taint.key) return false;
  if (!t.key && op !== 'Exists') return false;
  return op === 'Exists' || (t.value ?? '') === (taint.value ?? '');
}

/** The first of the node's taints with an effect that counts and that no toleration tolerates. */
export function untoleratedTaint(node: Node, tolerations: Toleration[] | undefined, effects: Taint['effect'][]): Taint | undefined {
  return (node.spec?.taints ?? []).find((taint) => effects.includes(taint.effect) && !(tolerations ?? []).some((t) => tolerates(t, taint)));
}

function requirementMatches(r: NodeSelectorRequirement, value: string | undefined): boolean {
  const has = value !== undefined;
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In': return has && values.includes(value);
    case 'NotIn': return !has || !values.includes(value);
    case 'Exists': return has;
    case 'DoesNotExist': return !has;
    case 'Gt': return has && /^-?\d+$/.test(value) && values.length === 1 && Number(value) > Number(values[0]);
    case 'Lt': return has && /^-?\d+$/.test(value) && values.length === 1 && Number(value) < Number(values[0]);
    default: return false;
  }
}

/** A term matches when all its requirements do; a term with none matches no node. */
function termMatches(term: NodeSelectorTerm, node: Node): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (!exprs.length && !fields.length) return false;
  const labels = node.metadata.labels ?? {};
  return exprs.every((r) => requirementMatches(r, Object.prototype.hasOwnProperty.call(labels, r.key) ? labels[r.key] : undefined))
    && fields.every((r) => r.key === 'metadata.name' && requirementMatches(r, node.metadata.name));
}

/** The nodeSelector (every label equal) and the required node affinity (any term). */
export function matchesNodeSelectorAndAffinity(spec: Pick<PodSpec, 'nodeSelector' | 'affinity'>, node: Node): boolean {
  const labels = node.metadata.labels ?? {};
  for (const [k, v] of Object.entries(spec.nodeSelector ?? {})) if (labels[k] !== v) return false;
  const required = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (!required) return true;
  return (required.nodeSelectorTerms ?? []).some((t) => termMatches(t, node));
}

/** The node a pod is pinned to by `metadata.name` matchFields (a DaemonSet pod's), if any. */
export function nodeNameFromAffinity(spec: PodSpec): string | undefined {
  for (const term of spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []) {
    for (const f of term.matchFields ?? []) if (f.key === 'metadata.name' && f.operator === 'In' && f.values?.length === 1) return f.values[0];
  }
  return undefined;
}
