// Test-only: a small CustomResourceDefinition (widgets.example.com, namespaced, v1 stored and
// v1beta1 served, a status subresource, printer columns), and the status the API server gives an
// established one.

import type { KubeObject } from '../object.ts';

export function widgetDefinition(change: (crd: WidgetDefinition) => void = () => undefined): WidgetDefinition {
  const schema = {
    type: 'object',
    properties: {
      apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' },
      spec: {
        type: 'object',
        required: ['size'],
        properties: {
          size: { type: 'integer', minimum: 1, maximum: 10, description: 'How big the widget is.' },
          colour: { type: 'string', enum: ['red', 'blue'], default: 'red' },
          tags: { type: 'array', items: { type: 'string' } },
          extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        },
      },
      status: { type: 'object', properties: { ready: { type: 'boolean' } } },
    },
  };
  const columns = [
    { name: 'Size', type: 'integer', jsonPath: '.spec.size' },
    { name: 'Colour', type: 'string', jsonPath: '.spec.colour' },
    { name: 'Ready', type: 'boolean', jsonPath: '.status.ready' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ];
  const crd: WidgetDefinition = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'widgets.example.com' },
    spec: {
      group: 'example.com',
      names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList', shortNames: ['wd'], categories: ['all'] },
      scope: 'Namespaced',
      versions: [
        { name: 'v1beta1', served: true, storage: false, schema: { openAPIV3Schema: schema }, subresources: { status: {} }, additionalPrinterColumns: columns },
        { name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: schema }, subresources: { status: {} }, additionalPrinterColumns: columns },
      ],
    },
  };
  change(crd);
  return crd;
}

export interface WidgetDefinition extends KubeObject {
  spec: {
    group: string;
    names: { plural: string; singular?: string; kind: string; listKind?: string; shortNames?: string[]; categories?: string[] };
    scope: string;
    versions: { name: string; served: boolean; storage: boolean; schema?: { openAPIV3Schema: Record<string, unknown> }; subresources?: { status?: object }; additionalPrinterColumns?: object[] }[];
  };
}

/** The definition as the API server reports it once its names are accepted and it is established. */
export function established<T extends WidgetDefinition>(crd: T): T {
  const condition = (type: string, reason: string) => ({ type, status: 'True', reason, message: '', lastTransitionTime: '2025-06-01T12:00:00Z' });
  return { ...crd, status: { acceptedNames: crd.spec.names, storedVersions: ['v1'], conditions: [condition('NamesAccepted', 'NoConflicts'), condition('Established', 'InitialNamesAccepted')] } };
}
