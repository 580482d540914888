import { afterEach, describe, expect, it } from 'vitest';
import { admit } from '../admit.ts';
import { ApiError, type KubeObject } from '../object.ts';
import { applyPatch } from '../patch.ts';
import { widgetDefinition } from '../testing/crd.ts';
import { customResourceDefinitions } from './crd.ts';
import { garbageCollector } from './garbagecollector.ts';
import { namespaceController } from './namespace.ts';
import { testCluster, type TestCluster } from './testkit.ts';

// The apiextensions controllers against the real admission chain: a definition is named and
// established, then its kind is served; deleting it takes its objects with it.

let c: TestCluster;
afterEach(() => c?.stop());

function start() {
  c = testCluster((now) => ({ admit, patch: applyPatch, now }));
  c.run(customResourceDefinitions(), namespaceController(), garbageCollector());
}

interface Definition extends KubeObject { status?: { acceptedNames?: { kind?: string; plural?: string }; conditions?: { type: string; status: string; reason?: string; message?: string }[]; storedVersions?: string[] } }

const conditions = (name: string) => Object.fromEntries((c.get<Definition>('CustomResourceDefinition', undefined, name).status?.conditions ?? []).map((x) => [x.type, `${x.status} ${x.reason}: ${x.message}`]));

const widget = (name: string, spec: object = { size: 3 }): KubeObject => ({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name, namespace: 'default' }, spec });

describe('the apiextensions controllers', () => {
  it('accept a definition\'s names, establish it, and from then on serve its kind', async () => {
    start();
    const created = c.create('CustomResourceDefinition', widgetDefinition()) as Definition;
    expect(created.status).toEqual({ acceptedNames: { kind: '', plural: '' }, storedVersions: ['v1'] });
    expect(c.api.kinds.customKind('widgets.example.com')).toBeUndefined();
    await c.settle();
    expect(conditions('widgets.example.com')).toEqual({
      NamesAccepted: 'True NoConflicts: no conflicts found',
      Established: 'True InitialNamesAccepted: the initial names have been accepted',
    });
    expect(c.get<Definition>('CustomResourceDefinition', undefined, 'widgets.example.com').status?.acceptedNames).toMatchObject({ kind: 'Widget', plural: 'widgets' });
    const w = c.api.create('widgets.example.com', 'default', widget('one'));
    expect(w).toMatchObject({ apiVersion: 'example.com/v1', spec: { size: 3, colour: 'red' }, metadata: { generation: 1 } });
  });

  it('refuse names another definition of the group already has', async () => {
    start();
    c.create('CustomResourceDefinition', widgetDefinition());
    await c.settle();
    c.create('CustomResourceDefinition', widgetDefinition((d) => { d.metadata.name = 'gizmos.example.com'; d.spec.names = { plural: 'gizmos', kind: 'Gizmo', shortNames: ['wd'] }; }));
    await c.settle();
    expect(conditions('gizmos.example.com')).toEqual({
      NamesAccepted: 'False ShortNamesConflict: "wd" is already in use',
      Established: 'False NotAccepted: not all names are accepted',
    });
    expect(c.api.kinds.kinds()).not.toContain('gizmos.example.com');
    // The names free up when the other definition goes.
    c.api.delete('CustomResourceDefinition', undefined, 'widgets.example.com');
    await c.settle();
    expect(conditions('gizmos.example.com')).toMatchObject({ NamesAccepted: 'True NoConflicts: no conflicts found', Established: 'True InitialNamesAccepted: the initial names have been accepted' });
  });

  it('report the API approval of a definition in a group the Kubernetes project owns', async () => {
    start();
    c.create('CustomResourceDefinition', widgetDefinition((d) => {
      d.metadata.name = 'widgets.gateway.networking.k8s.io';
      d.metadata.annotations = { 'api-approved.kubernetes.io': 'unapproved, experimental-only' };
      d.spec.group = 'gateway.networking.k8s.io';
    }));
    await c.settle();
    expect(conditions('widgets.gateway.networking.k8s.io').KubernetesAPIApprovalPolicyConformant).toBe('False UnapprovedAnnotation: not approved: "unapproved, experimental-only"');
  });

  it('delete a definition\'s objects before the definition, refusing new ones meanwhile', async () => {
    start();
    c.create('CustomResourceDefinition', widgetDefinition());
    await c.settle();
    c.api.create('widgets.example.com', 'default', widget('one'));
    c.api.create('widgets.example.com', 'default', { ...widget('held'), metadata: { name: 'held', namespace: 'default', finalizers: ['example.com/hold'] } });
    const { gone } = c.api.delete('CustomResourceDefinition', undefined, 'widgets.example.com');
    expect(gone).toBe(false);
    await c.settle();
    expect(c.store.list('widgets.example.com').map((o) => o.metadata.name)).toEqual(['held']);
    expect(conditions('widgets.example.com').Terminating).toBe('True InstanceDeletionInProgress: CustomResource deletion is in progress');
    let refused: unknown;
    try { c.api.create('widgets.example.com', 'default', widget('late')); } catch (e) { refused = e; }
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).message).toBe('create not allowed while custom resource definition is terminating');
    // The last object's own finalizer goes: so do the object and then the definition.
    c.api.mutate('widgets.example.com', 'default', 'held', (o) => { o.metadata.finalizers = []; });
    await c.settle();
    expect(c.api.tryGet('CustomResourceDefinition', undefined, 'widgets.example.com')).toBeUndefined();
    expect(c.api.kinds.kinds()).not.toContain('widgets.example.com');
  });

  it('leave nothing of a namespace\'s custom resources when the namespace goes', async () => {
    start();
    c.create('CustomResourceDefinition', widgetDefinition());
    c.create('Namespace', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } });
    await c.settle();
    c.api.create('widgets.example.com', 'team', { ...widget('one'), metadata: { name: 'one', namespace: 'team' } });
    c.api.delete('Namespace', undefined, 'team');
    await c.settle();
    expect(c.store.list('widgets.example.com')).toEqual([]);
    expect(c.api.tryGet('Namespace', undefined, 'team')).toBeUndefined();
  });

  it('collect a custom resource whose owner is gone', async () => {
    start();
    c.create('CustomResourceDefinition', widgetDefinition());
    await c.settle();
    const owner = c.create('ConfigMap', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner', namespace: 'default' } });
    c.api.create('widgets.example.com', 'default', { ...widget('owned'), metadata: { name: 'owned', namespace: 'default', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid! }] } });
    c.api.delete('ConfigMap', 'default', 'owner');
    await c.settle();
    expect(c.store.list('widgets.example.com')).toEqual([]);
  });
});
