import { describe, expect, it } from 'vitest';
import { containerProcesses, DEFAULT_LAB_RESOURCES, describeResources, parseLabResources } from './resources.ts';

describe('lab resources', () => {
  it('reads the flags as quantities, keeping the defaults of those not given', () => {
    expect(parseLabResources({})).toEqual(DEFAULT_LAB_RESOURCES);
    expect(parseLabResources({ processes: '300', memory: '512Mi', cpu: '500m' })).toEqual({ processes: 300, memoryBytes: 512 * 2 ** 20, cpuMillis: 500 });
    expect(parseLabResources({ memory: '2G', cpu: '0' })).toEqual({ ...DEFAULT_LAB_RESOURCES, memoryBytes: 2e9, cpuMillis: 0 });
    expect(describeResources(DEFAULT_LAB_RESOURCES)).toBe('1024 tasks, 1 GiB of memory, 1 CPU');
    expect(containerProcesses(DEFAULT_LAB_RESOURCES)).toBe(512);
  });

  it('refuses what no lab could run in, naming the flag', () => {
    expect(() => parseLabResources({ processes: '10' })).toThrow(/--lab-processes must be a whole number ≥ 64/);
    expect(() => parseLabResources({ memory: '1GB' })).toThrow(/--lab-memory must be a quantity/);
    expect(() => parseLabResources({ memory: '100Mi' })).toThrow(/at least 256Mi/);
    expect(() => parseLabResources({ cpu: '10m' })).toThrow(/--lab-cpu/);
  });
});
