import { describe, expect, it } from 'vitest';
import { KINDS, KIND_NAMES } from './kinds.ts';
import { byVersionPriority, customKindOf, KindRegistry } from './registry.ts';
import { ObjectStore } from './store.ts';
import { customResourceDefinition } from './crd/definition.ts';
import { established, widgetDefinition } from './testing/crd.ts';

const parse = (o: unknown) => customResourceDefinition.parse(o);

describe('the kind registry', () => {
  it('serves every built-in kind, each at its one version', () => {
    const kinds = new KindRegistry();
    expect(kinds.kinds()).toEqual(KIND_NAMES);
    expect(kinds.byPlural('apps', 'v1', 'deployments')).toEqual({ kind: 'Deployment', info: KINDS.Deployment });
    expect(kinds.byApiVersion('apiextensions.k8s.io/v1', 'CustomResourceDefinition')?.kind).toBe('CustomResourceDefinition');
    expect(kinds.byPlural('apps', 'v2', 'deployments')).toBeUndefined();
    expect(kinds.groupVersions()[0]).toEqual({ group: '', version: 'v1' });
  });

  it('serves an established definition at every served version, under its accepted names', () => {
    const kinds = new KindRegistry();
    const store = new ObjectStore(kinds);
    const stop = kinds.follow(store);
    store.put('CustomResourceDefinition', established(widgetDefinition()));
    expect(kinds.kinds()).toContain('widgets.example.com');
    expect(kinds.namespaced('widgets.example.com')).toBe(true);
    expect(kinds.info('widgets.example.com')).toMatchObject({ group: 'example.com', version: 'v1', kind: 'Widget', plural: 'widgets', shortNames: ['wd'], categories: ['all'] });
    const beta = kinds.byPlural('example.com', 'v1beta1', 'widgets');
    expect(beta?.kind).toBe('widgets.example.com');
    expect(beta?.info.version).toBe('v1beta1');
    expect(beta?.info.subresources.map((s) => s.name)).toEqual(['status']);
    expect(beta?.custom?.columns.map((c) => c.name)).toEqual(['Size', 'Colour', 'Ready', 'Age']);
    // v1 is preferred over v1beta1 though the definition lists v1beta1 first.
    expect(kinds.groupVersions().filter((gv) => gv.group === 'example.com').map((gv) => gv.version)).toEqual(['v1', 'v1beta1']);
    store.remove('CustomResourceDefinition', undefined, 'widgets.example.com');
    expect(kinds.byPlural('example.com', 'v1', 'widgets')).toBeUndefined();
    expect(() => kinds.info('widgets.example.com')).toThrow('the server could not find the requested resource');
    stop();
  });

  it('serves nothing for a definition that is not established, and stops on a change that un-serves a version', () => {
    const kinds = new KindRegistry();
    const store = new ObjectStore(kinds);
    kinds.follow(store);
    store.put('CustomResourceDefinition', widgetDefinition());
    expect(kinds.kinds()).not.toContain('widgets.example.com');
    store.put('CustomResourceDefinition', established(widgetDefinition((c) => { c.spec.versions[0].served = false; })));
    expect(kinds.byPlural('example.com', 'v1beta1', 'widgets')).toBeUndefined();
    expect(kinds.byPlural('example.com', 'v1', 'widgets')).toBeDefined();
  });

  it('picks up the definitions already stored (a restored lab)', () => {
    const kinds = new KindRegistry();
    const store = new ObjectStore(kinds);
    store.load([{ kind: 'CustomResourceDefinition', object: established(widgetDefinition()) }], 5);
    let changes = 0;
    kinds.onChange(() => { changes++; });
    kinds.follow(store);
    expect(changes).toBe(1);
    expect(kinds.byApiVersion('example.com/v1', 'Widget')?.kind).toBe('widgets.example.com');
  });

  it('warns of a deprecated version, pointing at the newest served one', () => {
    const crd = parse(established(widgetDefinition((c) => { Object.assign(c.spec.versions[0], { deprecated: true }); })));
    expect(customKindOf(crd)?.versions.map((v) => v.deprecationWarning)).toEqual(['example.com/v1beta1 Widget is deprecated; use example.com/v1 Widget', undefined]);
  });

  it('marks the kind of a definition being deleted as terminating', () => {
    const crd = parse({ ...established(widgetDefinition()), metadata: { name: 'widgets.example.com', deletionTimestamp: '2025-06-01T12:00:00Z' } });
    expect(customKindOf(crd)?.terminating).toBe(true);
    expect(customKindOf(parse(established(widgetDefinition())))?.terminating).toBe(false);
  });
});

describe('version priority', () => {
  it('orders as Kubernetes does: GA, then beta, then alpha, newest first, other forms last', () => {
    expect(['v1alpha1', 'foo', 'v1beta1', 'v1', 'v2beta2', 'v2', 'v1beta2', 'v11alpha2'].sort(byVersionPriority))
      .toEqual(['v2', 'v1', 'v2beta2', 'v1beta2', 'v1beta1', 'v11alpha2', 'v1alpha1', 'foo']);
  });
});
