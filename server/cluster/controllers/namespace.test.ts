import { afterEach, describe, expect, it } from 'vitest';
import { deploymentController } from './deployment.ts';
import { garbageCollector } from './garbagecollector.ts';
import { namespaceController } from './namespace.ts';
import { replicaSetController } from './replicaset.ts';
import { scheduler } from './scheduler.ts';
import { rootCACertPublisher, serviceAccountController } from './serviceaccount.ts';
import { template, testCluster, type TestCluster } from './testkit.ts';
import type { Condition } from './types.ts';

let c: TestCluster;
afterEach(() => c?.stop());

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function start() {
  c = testCluster();
  c.run(deploymentController(), replicaSetController(), scheduler(), garbageCollector(), namespaceController(), serviceAccountController(), rootCACertPublisher(CA));
}

describe('namespace, service account and root CA controllers', () => {
  it('give every namespace its default ServiceAccount and kube-root-ca.crt, and restore them', async () => {
    start();
    c.create('Namespace', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } });
    await c.settle();
    for (const ns of ['default', 'kube-system', 'team']) {
      expect(c.get('ServiceAccount', ns, 'default').metadata.name).toBe('default');
      expect(c.get('ConfigMap', ns, 'kube-root-ca.crt').data).toEqual({ 'ca.crt': CA });
    }
    c.api.delete('ServiceAccount', 'team', 'default');
    c.api.mutate('ConfigMap', 'team', 'kube-root-ca.crt', (o) => { o.data = { 'ca.crt': 'tampered' }; });
    await c.settle();
    expect(c.api.tryGet('ServiceAccount', 'team', 'default')).toBeDefined();
    expect(c.get('ConfigMap', 'team', 'kube-root-ca.crt').data).toEqual({ 'ca.crt': CA });
    expect(c.get('ConfigMap', 'team', 'kube-root-ca.crt').metadata.annotations?.['kubernetes.io/description']).toMatch(/^Contains a CA bundle/);
  });

  it('deletes everything in a terminating namespace, then the namespace', async () => {
    start();
    c.create('Namespace', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } });
    c.create('Deployment', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'team' }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: template({ app: 'web' }) } });
    c.create('ConfigMap', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'held', namespace: 'team', finalizers: ['example.com/hold'] } });
    await c.settle();
    expect(c.list('Pod', 'team')).toHaveLength(2);
    c.api.delete('Namespace', undefined, 'team');
    await c.settle();
    const ns = c.get('Namespace', undefined, 'team');
    const conditions = (ns.status as { phase: string; conditions: Condition[] });
    expect(conditions.phase).toBe('Terminating');
    expect(conditions.conditions.map((x) => [x.type, x.status, x.reason, x.message])).toEqual([
      ['NamespaceDeletionDiscoveryFailure', 'False', 'ResourcesDiscovered', 'All resources successfully discovered'],
      ['NamespaceDeletionGroupVersionParsingFailure', 'False', 'ParsedGroupVersions', 'All legacy kube types successfully parsed'],
      ['NamespaceDeletionContentFailure', 'False', 'ContentDeleted', 'All content successfully deleted, may be waiting on finalization'],
      ['NamespaceContentRemaining', 'True', 'SomeResourcesRemain', 'Some resources are remaining: configmaps. has 1 resource instances'],
      ['NamespaceFinalizersRemaining', 'True', 'SomeFinalizerRemain', 'Some finalizers are remaining: example.com/hold in 1 resource instances'],
    ]);
    for (const kind of ['Pod', 'ReplicaSet', 'Deployment', 'ServiceAccount'] as const) expect(c.list(kind, 'team')).toEqual([]);
    c.api.mutate('ConfigMap', 'team', 'held', (o) => { delete o.metadata.finalizers; });
    await c.settle();
    expect(c.api.tryGet('Namespace', undefined, 'team')).toBeUndefined();
    expect(c.logs).toEqual([]);
  });
});
