import type { KubeObject } from '../object.ts';

// kube-apiserver's DefaultIngressClass admission plugin: an Ingress created without a class (no
// spec.ingressClassName and no kubernetes.io/ingress.class annotation) is given the default
// IngressClass, the one annotated ingressclass.kubernetes.io/is-default-class: "true" (the newest
// when several are, the first by name among equally new ones). Updates are left alone.

export const IS_DEFAULT_CLASS = 'ingressclass.kubernetes.io/is-default-class';

export function defaultIngressClass(classes: readonly KubeObject[]): KubeObject | undefined {
  return classes
    .filter((c) => c.metadata.annotations?.[IS_DEFAULT_CLASS] === 'true')
    .sort((a, b) => (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? '') || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''))[0];
}

/** Mutates and returns the Ingress being created. */
export function admitIngressClass(ingress: KubeObject, classes: readonly KubeObject[]): KubeObject {
  const spec = (ingress.spec ??= {}) as { ingressClassName?: string };
  if (spec.ingressClassName != null || ingress.metadata.annotations?.['kubernetes.io/ingress.class'] !== undefined) return ingress;
  const chosen = defaultIngressClass(classes);
  if (chosen) spec.ingressClassName = chosen.metadata.name;
  return ingress;
}
