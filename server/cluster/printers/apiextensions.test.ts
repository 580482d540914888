import { describe, expect, it } from 'vitest';
import { evaluate, parseJsonPath, type JsonPath } from '../jsonpath.ts';
import type { KubeObject } from '../object.ts';
import { customResourceDefinitionPrinter, customResourcePrinter } from './apiextensions.ts';

const path = (text: string) => parseJsonPath(text) as JsonPath;

const gateway: KubeObject = {
  apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway',
  metadata: { name: 'web', namespace: 'default', creationTimestamp: '2025-06-01T12:00:00Z' },
  spec: { gatewayClassName: 'netdojo', listeners: [{ name: 'http', port: 80 }, { name: 'alt', port: 8080 }], hostnames: ['a.example.com', 'b.example.com'] },
  status: {
    addresses: [{ type: 'IPAddress', value: '172.18.0.200' }, { type: 'IPAddress', value: '172.18.0.201' }],
    conditions: [{ type: 'Accepted', status: 'True' }, { type: 'Programmed', status: 'False' }],
  },
};

describe('simple JSON paths', () => {
  it('walk fields, indexes, wildcards and filters', () => {
    expect(evaluate(path('.spec.gatewayClassName'), gateway)).toEqual(['netdojo']);
    expect(evaluate(path('.spec.listeners[1].port'), gateway)).toEqual([8080]);
    expect(evaluate(path('.spec.listeners[-1].name'), gateway)).toEqual(['alt']);
    expect(evaluate(path('.status.addresses[*].value'), gateway)).toEqual(['172.18.0.200', '172.18.0.201']);
    expect(evaluate(path('.status.conditions[?(@.type=="Programmed")].status'), gateway)).toEqual(['False']);
    expect(evaluate(path(".status.conditions[?(@.type!='Programmed')].status"), gateway)).toEqual(['True']);
    expect(evaluate(path(".metadata['name']"), gateway)).toEqual(['web']);
    expect(evaluate(path('.spec.missing.deeper'), gateway)).toEqual([]);
  });

  it('say what is wrong with a path they cannot parse', () => {
    expect(parseJsonPath('spec.x')).toEqual({ error: 'must be a simple json path starting with .' });
    expect(parseJsonPath('.spec{x}')).toEqual({ error: 'unrecognized character in simple json path: "{"' });
  });
});

describe('custom resource tables', () => {
  const now = new Date('2025-06-01T12:05:00Z');
  const printer = customResourcePrinter([
    { name: 'Class', type: 'string', jsonPath: '.spec.gatewayClassName' },
    { name: 'Address', type: 'string', jsonPath: '.status.addresses[*].value' },
    { name: 'Programmed', type: 'string', jsonPath: '.status.conditions[?(@.type=="Programmed")].status' },
    { name: 'Hostnames', type: 'string', jsonPath: '.spec.hostnames' },
    { name: 'Listeners', type: 'integer', jsonPath: '.spec.listeners[0].port' },
    { name: 'Missing', type: 'string', jsonPath: '.status.nothing' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    { name: 'Wide', type: 'string', jsonPath: '.spec.gatewayClassName', priority: 1 },
  ]);

  it('put NAME first, then the declared columns with their types and priorities', () => {
    expect(printer.columns.map((c) => [c.name, c.type, c.priority])).toEqual([
      ['Name', 'string', 0], ['Class', 'string', 0], ['Address', 'string', 0], ['Programmed', 'string', 0], ['Hostnames', 'string', 0],
      ['Listeners', 'integer', 0], ['Missing', 'string', 0], ['Age', 'date', 0], ['Wide', 'string', 1],
    ]);
  });

  it('take the first result, print lists as JSON, dates as ages and nothing where the path finds nothing', () => {
    expect(printer.cells(gateway, now)).toEqual(['web', 'netdojo', '172.18.0.200', 'False', '["a.example.com","b.example.com"]', 80, null, '5m', 'netdojo']);
  });

  it('default to NAME and AGE when a version declares no columns', () => {
    const plain = customResourcePrinter([]);
    expect(plain.columns.map((c) => c.name)).toEqual(['Name', 'Age']);
    expect(plain.cells(gateway, now)).toEqual(['web', '5m']);
  });

  it('print a definition with its creation time, as the API server\'s default table does', () => {
    const crd: KubeObject = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'gateways.gateway.networking.k8s.io', creationTimestamp: '2025-06-01T12:00:00Z' } };
    expect(customResourceDefinitionPrinter.columns.map((c) => c.name)).toEqual(['Name', 'Created At']);
    expect(customResourceDefinitionPrinter.cells(crd, now)).toEqual(['gateways.gateway.networking.k8s.io', '2025-06-01T12:00:00Z']);
  });
});
