import { describe, expect, it } from 'vitest';
import { canonicalJson, safeEncode, templateHash } from './hash.ts';

describe('template hash', () => {
  it('maps decimal digits through the safe alphabet as SafeEncodeString does', () => {
    expect(safeEncode('0123456789')).toBe('456789bcdf');
  });

  it('is stable under key order, and changes with the template and the collision count', () => {
    const a = { metadata: { labels: { app: 'web', tier: 'x' } }, spec: { containers: [{ name: 'a', image: 'nginx' }] } };
    const b = { spec: { containers: [{ image: 'nginx', name: 'a' }] }, metadata: { labels: { tier: 'x', app: 'web' } } };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(templateHash(a)).toBe(templateHash(b));
    expect(templateHash(a)).toMatch(/^[456789bcdf]{1,10}$/);
    expect(templateHash({ ...a, spec: { containers: [{ name: 'a', image: 'nginx:2' }] } })).not.toBe(templateHash(a));
    expect(templateHash(a, 1)).not.toBe(templateHash(a));
  });
});
