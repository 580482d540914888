import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../object.ts';
import { admitIngressClass, IS_DEFAULT_CLASS } from './ingressclass.ts';

const ingressClass = (name: string, created: string, isDefault?: string): KubeObject => ({
  apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass',
  metadata: { name, creationTimestamp: created, ...(isDefault ? { annotations: { [IS_DEFAULT_CLASS]: isDefault } } : {}) },
  spec: { controller: 'k8s.io/ingress-nginx' },
});
const ingress = (spec: object = {}, annotations?: Record<string, string>): KubeObject => ({
  apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'web', namespace: 'default', ...(annotations ? { annotations } : {}) }, spec,
});
const className = (o: KubeObject) => (o.spec as { ingressClassName?: string }).ingressClassName;

describe('the DefaultIngressClass admission plugin', () => {
  const nginx = ingressClass('nginx', '2026-01-01T00:00:00Z', 'true');

  it('gives a class-less Ingress the default class', () => {
    expect(className(admitIngressClass(ingress(), [ingressClass('other', '2026-01-01T00:00:00Z'), nginx]))).toBe('nginx');
  });

  it('leaves Ingresses alone that name a class, by field or by annotation', () => {
    expect(className(admitIngressClass(ingress({ ingressClassName: 'traefik' }), [nginx]))).toBe('traefik');
    expect(className(admitIngressClass(ingress({}, { 'kubernetes.io/ingress.class': 'traefik' }), [nginx]))).toBeUndefined();
  });

  it('sets nothing without a class annotated "true"', () => {
    expect(className(admitIngressClass(ingress(), [ingressClass('nginx', '2026-01-01T00:00:00Z', 'false')]))).toBeUndefined();
  });

  it('takes the newest of several defaults, then the first by name', () => {
    const older = ingressClass('a-old', '2026-01-01T00:00:00Z', 'true');
    const newer = ingressClass('z-new', '2026-02-01T00:00:00Z', 'true');
    const twin = ingressClass('b-new', '2026-02-01T00:00:00Z', 'true');
    expect(className(admitIngressClass(ingress(), [older, newer, twin]))).toBe('b-new');
  });
});
