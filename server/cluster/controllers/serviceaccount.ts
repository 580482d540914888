import { ApiError, type KubeObject } from '../object.ts';
import type { ControllerContext, ControllerSpec } from './controller.ts';

// Two controllers every namespace relies on. The service account controller
// (pkg/controller/serviceaccount) gives each active namespace its `default` ServiceAccount, and
// recreates it when deleted. The root CA publisher (pkg/controller/certificates/rootcacertpublisher)
// puts the cluster's CA bundle in each namespace's `kube-root-ca.crt` ConfigMap (key `ca.crt`),
// which projected service account volumes mount; an edited or deleted copy is restored.

const DEFAULT_SA = 'default';
const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';
const DESCRIPTION = 'kubernetes.io/description';
const ROOT_CA_DESCRIPTION = 'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.';

/** The namespace, if it exists and is not being deleted (nothing new may be created in it then). */
function activeNamespace(ctx: ControllerContext, name: string): KubeObject | undefined {
  const ns = ctx.api.tryGet('Namespace', undefined, name);
  return ns && !ns.metadata.deletionTimestamp ? ns : undefined;
}

/** Creating races with the namespace's deletion and with another writer: both outcomes are fine. */
function createIgnoringRaces(ctx: ControllerContext, kind: 'ServiceAccount' | 'ConfigMap', namespace: string, body: KubeObject): void {
  try {
    ctx.api.create(kind, namespace, body);
  } catch (e) {
    if (!(e instanceof ApiError && (e.reason === 'AlreadyExists' || e.reason === 'Forbidden' || e.reason === 'NotFound'))) throw e;
  }
}

const namespaceKeys = (namespace: string | undefined, name: string | undefined, wanted: string) => (namespace && name === wanted ? [namespace] : []);

export function serviceAccountController(): ControllerSpec {
  return {
    name: 'serviceaccount',
    watches: ['Namespace', 'ServiceAccount'],
    initialKeys: (ctx) => ctx.api.store.list('Namespace').map((n) => n.metadata.name!),
    keysFor: (e) => (e.kind === 'Namespace' ? (e.type === 'DELETED' ? [] : [e.object.metadata.name!])
      : e.type === 'DELETED' ? namespaceKeys(e.object.metadata.namespace, e.object.metadata.name, DEFAULT_SA) : []),
    reconcile(namespace, ctx) {
      if (!activeNamespace(ctx, namespace) || ctx.api.tryGet('ServiceAccount', namespace, DEFAULT_SA)) return;
      createIgnoringRaces(ctx, 'ServiceAccount', namespace, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: DEFAULT_SA, namespace } });
    },
  };
}

export function rootCACertPublisher(caCert: string): ControllerSpec {
  return {
    name: 'root-ca-cert-publisher',
    watches: ['Namespace', 'ConfigMap'],
    initialKeys: (ctx) => ctx.api.store.list('Namespace').map((n) => n.metadata.name!),
    keysFor: (e) => (e.kind === 'Namespace' ? (e.type === 'DELETED' ? [] : [e.object.metadata.name!])
      : namespaceKeys(e.object.metadata.namespace, e.object.metadata.name, ROOT_CA_CONFIGMAP)),
    reconcile(namespace, ctx) {
      if (!activeNamespace(ctx, namespace)) return;
      const data = { 'ca.crt': caCert };
      const cm = ctx.api.tryGet('ConfigMap', namespace, ROOT_CA_CONFIGMAP);
      if (!cm) {
        createIgnoringRaces(ctx, 'ConfigMap', namespace, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: ROOT_CA_CONFIGMAP, namespace, annotations: { [DESCRIPTION]: ROOT_CA_DESCRIPTION } }, data });
        return;
      }
      ctx.api.mutate('ConfigMap', namespace, ROOT_CA_CONFIGMAP, (o) => {
        o.data = data;
        o.metadata.annotations = { ...o.metadata.annotations, [DESCRIPTION]: o.metadata.annotations?.[DESCRIPTION] || ROOT_CA_DESCRIPTION };
      });
    },
  };
}
