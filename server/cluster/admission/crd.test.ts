import { describe, expect, it } from 'vitest';
import { established, widgetDefinition, type WidgetDefinition } from '../testing/crd.ts';
import { defaultCustomResourceDefinition, preparedDefinitionStatus } from './crd.ts';
import { validate } from './validate.ts';

const errorsOf = (crd: WidgetDefinition, old?: WidgetDefinition) => validate('CustomResourceDefinition', crd, old).map((e) => `${e.field}: ${e.message}`);

describe('CustomResourceDefinition validation', () => {
  it('accepts a well-formed definition', () => {
    expect(errorsOf(widgetDefinition())).toEqual([]);
  });

  it('reports a missing or mistyped field by its path', () => {
    expect(errorsOf(widgetDefinition((c) => { (c.spec as { group?: string }).group = undefined; }))).toEqual(['spec.group: Required value']);
    expect(errorsOf(widgetDefinition((c) => { c.spec.scope = 'Global'; }))).toEqual(['spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"']);
    expect(errorsOf(widgetDefinition((c) => { (c.spec.versions[1] as { served: unknown }).served = 'yes'; }))).toEqual(['spec.versions[1].served: Invalid value: "yes": must be of type boolean']);
  });

  it('holds the name to <plural>.<group>, the group to a domain, and names to DNS labels', () => {
    expect(errorsOf(widgetDefinition((c) => { c.metadata.name = 'widget.example.com'; }))).toEqual(['metadata.name: Invalid value: "widget.example.com": must be spec.names.plural+"."+spec.group']);
    expect(errorsOf(widgetDefinition((c) => { c.metadata.name = 'widgets.example'; c.spec.group = 'example'; }))).toEqual(['spec.group: Invalid value: "example": should be a domain with at least one dot']);
    const bad = errorsOf(widgetDefinition((c) => { c.spec.names.shortNames = ['W_D']; }));
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatch(/^spec\.names\.shortNames\[0\]: Invalid value: "W_D": a DNS-1035 label must consist of lower case alphanumeric characters/);
    expect(errorsOf(widgetDefinition((c) => { c.spec.names.listKind = 'Widget'; }))).toEqual(['spec.names.listKind: Invalid value: "Widget": kind and listKind may not be the same']);
  });

  it('wants exactly one storage version, unique version names and a structural schema for each', () => {
    expect(errorsOf(widgetDefinition((c) => { c.spec.versions[0].storage = true; }))).toEqual(['spec.versions: Invalid value: [v1beta1 v1]: must have exactly one version marked as storage version']);
    expect(errorsOf(widgetDefinition((c) => { c.spec.versions[0].name = 'v1'; c.spec.versions[0].storage = false; }))).toEqual(['spec.versions[1].name: Duplicate value: "v1"']);
    expect(errorsOf(widgetDefinition((c) => { delete c.spec.versions[0].schema; }))).toEqual(['spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required']);
    expect(errorsOf(widgetDefinition((c) => { c.spec.versions[1].schema = { openAPIV3Schema: { type: 'object', properties: { spec: { properties: {} } } } }; })))
      .toEqual(['spec.versions[1].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields']);
  });

  it('checks printer columns: a known type and a simple JSON path', () => {
    expect(errorsOf(widgetDefinition((c) => { c.spec.versions[1].additionalPrinterColumns = [{ name: 'X', type: 'string', jsonPath: 'spec.x' }]; })))
      .toEqual(['spec.versions[1].additionalPrinterColumns[0].jsonPath: Invalid value: "spec.x": must be a simple json path starting with .']);
    expect(errorsOf(widgetDefinition((c) => { c.spec.versions[1].additionalPrinterColumns = [{ name: 'X', type: 'text', jsonPath: '.spec.x' }]; })))
      .toEqual(['spec.versions[1].additionalPrinterColumns[0].type: Unsupported value: "text": supported values: "integer", "number", "string", "boolean", "date"']);
  });

  it('requires the approval annotation in groups the Kubernetes project owns', () => {
    const crd = widgetDefinition((c) => { c.metadata.name = 'widgets.x-k8s.io'; c.spec.group = 'x-k8s.io'; });
    expect(errorsOf(crd)).toEqual([]);
    const owned = widgetDefinition((c) => { c.metadata.name = 'widgets.networking.k8s.io'; c.spec.group = 'networking.k8s.io'; });
    expect(errorsOf(owned)).toEqual(['metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups must have approval annotation "api-approved.kubernetes.io", see https://github.com/kubernetes/enhancements/pull/1111']);
    owned.metadata.annotations = { 'api-approved.kubernetes.io': 'https://github.com/kubernetes/kubernetes/pull/1' };
    expect(errorsOf(owned)).toEqual([]);
  });

  it('keeps the group and plural, and once established the scope and kind, as they were', () => {
    const old = established(widgetDefinition());
    expect(errorsOf(widgetDefinition((c) => { c.spec.scope = 'Cluster'; c.spec.names.kind = 'Gadget'; }), old)).toEqual([
      'spec.scope: Invalid value: "Cluster": field is immutable',
      'spec.names.kind: Invalid value: "Gadget": field is immutable',
    ]);
    expect(errorsOf(widgetDefinition((c) => { c.spec.scope = 'Cluster'; }), widgetDefinition())).toEqual([]);
  });
});

describe('CustomResourceDefinition defaults', () => {
  it('fills singular and listKind from the kind, and the None conversion strategy', () => {
    const crd = widgetDefinition((c) => { delete c.spec.names.singular; delete c.spec.names.listKind; });
    defaultCustomResourceDefinition(crd);
    expect(crd.spec.names).toMatchObject({ singular: 'widget', listKind: 'WidgetList' });
    expect(crd.spec).toMatchObject({ conversion: { strategy: 'None' } });
  });
});

describe('a definition\'s stored versions', () => {
  it('start with the storage version, and keep every version that has been one', () => {
    const created = { ...widgetDefinition(), status: { conditions: [{ type: 'Established', status: 'True' }] } };
    expect(preparedDefinitionStatus(created, true)).toEqual({ acceptedNames: { kind: '', plural: '' }, storedVersions: ['v1'] });
    const moved = established(widgetDefinition((c) => { c.spec.versions[0].storage = true; c.spec.versions[1].storage = false; }));
    expect(preparedDefinitionStatus(moved, false)).toMatchObject({ storedVersions: ['v1', 'v1beta1'], acceptedNames: { kind: 'Widget' } });
    expect(preparedDefinitionStatus(established(widgetDefinition()), false)).toMatchObject({ storedVersions: ['v1'] });
  });
});
