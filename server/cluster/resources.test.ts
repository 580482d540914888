import { describe, expect, it } from 'vitest';
import { containerResources, podQOSClass } from './resources.ts';

describe('container resources', () => {
  it('gives the runtime the memory and cpu limits and the cpu request (the limit when none is given)', () => {
    expect(containerResources({ resources: { limits: { memory: '64Mi', cpu: '500m' } } })).toEqual({ memoryBytes: 64 * 2 ** 20, cpuLimitMillis: 500, cpuRequestMillis: 500 });
    expect(containerResources({ resources: { requests: { cpu: '100m', memory: '70Mi' }, limits: { memory: '170Mi' } } })).toEqual({ memoryBytes: 170 * 2 ** 20, cpuRequestMillis: 100 });
    expect(containerResources({})).toEqual({});
  });

  it('classes pods as Kubernetes does', () => {
    const c = (limits?: Record<string, string>, requests?: Record<string, string>) => ({ resources: { limits, requests } });
    expect(podQOSClass({ containers: [{}] })).toBe('BestEffort');
    expect(podQOSClass({ containers: [c({ cpu: '1', memory: '1Gi' }, { cpu: '1', memory: '1Gi' })] })).toBe('Guaranteed');
    expect(podQOSClass({ containers: [c({ cpu: '1', memory: '1Gi' })] })).toBe('Guaranteed');
    expect(podQOSClass({ containers: [c({ cpu: '1', memory: '1Gi' }, { cpu: '500m', memory: '1Gi' })] })).toBe('Burstable');
    expect(podQOSClass({ containers: [c({ memory: '170Mi' }, { cpu: '100m', memory: '70Mi' })] })).toBe('Burstable');
    expect(podQOSClass({ containers: [c({ cpu: '1', memory: '1Gi' }), {}] })).toBe('Burstable');
  });
});
