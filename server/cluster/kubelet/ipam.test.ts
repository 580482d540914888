import { describe, expect, it } from 'vitest';
import { allocateIP } from './kubelet.ts';

describe('allocateIP (host-local)', () => {
  it('starts after the gateway and goes on from the address it reserved last', () => {
    expect(allocateIP('10.244.1.0/24', new Set())).toBe('10.244.1.2');
    expect(allocateIP('10.244.1.0/24', new Set(['10.244.1.2']), '10.244.1.2')).toBe('10.244.1.3');
  });

  it('does not hand a released address out again before the range comes round', () => {
    // .2 and .3 were reserved, .3 last; the pod at .2 is gone: the next pod gets .4, not .2.
    expect(allocateIP('10.244.1.0/24', new Set(['10.244.1.3']), '10.244.1.3')).toBe('10.244.1.4');
  });

  it('wraps round after the broadcast address and skips addresses in use', () => {
    expect(allocateIP('10.244.1.0/29', new Set(['10.244.1.2']), '10.244.1.6')).toBe('10.244.1.3');
    expect(() => allocateIP('10.244.1.0/30', new Set(['10.244.1.2']), '10.244.1.2')).toThrow('no free address in 10.244.1.0/30');
  });
});
