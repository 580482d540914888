import * as models from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { KINDS, groupVersion } from '../kinds.ts';
import { objectSchema, SCHEMAS, type FieldSchema, type MessageSchema } from './schema.ts';

const field = (message: string, json: string): FieldSchema | undefined => SCHEMAS.get(message)?.fields.find((f) => f.json === json);

/** A message's JSON keys, embedded structs' keys lifted in. */
const jsonKeys = (m: MessageSchema): string[] =>
  m.fields.flatMap((f) => (f.json === undefined && f.type.kind === 'message' ? jsonKeys(f.type.message) : [f.json!]));

describe('protobuf schema', () => {
  // kubectl's scheme has no apiextensions types: it sends CustomResourceDefinitions as JSON.
  it('has the message of every served kind kubectl can encode', () => {
    for (const info of Object.values(KINDS).filter((k) => k.group !== 'apiextensions.k8s.io')) expect(objectSchema(groupVersion(info), info.kind)?.name, info.kind).toBeDefined();
  });

  it('has the bodies subresources take', () => {
    expect(objectSchema('autoscaling/v1', 'Scale')?.name).toBe('autoscaling.Scale');
    expect(objectSchema('policy/v1', 'Eviction')?.name).toBe('policy.Eviction');
    expect(objectSchema('authentication.k8s.io/v1', 'TokenRequest')?.name).toBe('authentication.TokenRequest');
    expect(objectSchema('v1', 'Binding')?.name).toBe('core.Binding');
    expect(objectSchema('v1', 'PodSpec')).toBeUndefined();
  });

  it('keeps same-named messages of different groups apart', () => {
    // core/v1 EndpointPort numbers port 2, discovery/v1's port 3.
    expect(field('core.EndpointPort', 'port')?.number).toBe(2);
    expect(field('discovery.EndpointPort', 'port')?.number).toBe(3);
  });

  it('says what upstream says for fields kubectl sends', () => {
    expect(field('core.Container', 'imagePullPolicy')).toMatchObject({ number: 14, shape: 'single', type: { kind: 'scalar', scalar: 'string' }, omitZero: true });
    expect(field('core.ServicePort', 'targetPort')).toMatchObject({ number: 4, type: { kind: 'wellKnown', name: 'IntOrString' } });
    expect(field('core.Secret', 'data')).toMatchObject({ number: 2, shape: 'map', type: { kind: 'scalar', scalar: 'bytes' } });
    expect(field('apps.DeploymentSpec', 'replicas')).toMatchObject({ number: 1, omitZero: false });
    expect(SCHEMAS.get('core.Volume')?.byNumber.get(2)).toMatchObject({ json: undefined, type: { kind: 'message', message: { name: 'core.VolumeSource' } } });
  });

  it('uses the JSON names of @kubernetes/client-node models', () => {
    const prefixes: Record<string, string[]> = { core: ['CoreV1', 'V1'], discovery: ['DiscoveryV1', 'V1'], networking: ['NetworkingV1', 'V1'], authentication: ['AuthenticationV1', 'V1'] };
    let compared = 0;
    for (const [name, message] of SCHEMAS) {
      const [pkg, short] = name.split('.');
      const model = (prefixes[pkg] ?? ['V1']).map((p) => (models as Record<string, unknown>)[`${p}${short}`]).find(Boolean) as
        { attributeTypeMap?: { baseName: string }[] } | undefined;
      // Embedded structs (VolumeSource, ProbeHandler...) have no model of their own.
      if (!model?.attributeTypeMap) continue;
      const theirs = new Set(model.attributeTypeMap.map((a) => a.baseName));
      expect(jsonKeys(message).filter((key) => !theirs.has(key)), name).toEqual([]);
      compared++;
    }
    expect(compared).toBeGreaterThan(SCHEMAS.size - 10);
  });

  it('is acyclic, so decoding recursion is bounded by the tables themselves', () => {
    const depths = new Map<MessageSchema, number>();
    const depth = (m: MessageSchema, path: string[]): number => {
      expect(path, 'a message nested in itself').not.toContain(m.name);
      if (!depths.has(m)) {
        const nested = m.fields.flatMap((f) => (f.type.kind === 'message' ? [depth(f.type.message, [...path, m.name])] : []));
        depths.set(m, 1 + Math.max(0, ...nested));
      }
      return depths.get(m)!;
    };
    const deepest = Math.max(...[...SCHEMAS.values()].map((m) => depth(m, [])));
    expect(deepest).toBeLessThan(20);
  });
});
