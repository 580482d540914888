import { describe, expect, it } from 'vitest';
import { quantityInteger, quantityMillis, quantityValue } from './quantity.ts';

describe('resource quantities', () => {
  it('reads binary and decimal suffixes and exponents as Kubernetes does', () => {
    expect(quantityInteger('64Mi')).toBe(64 * 2 ** 20);
    expect(quantityInteger('1Gi')).toBe(2 ** 30);
    expect(quantityInteger('1.5Gi')).toBe(1.5 * 2 ** 30);
    expect(quantityInteger('128M')).toBe(128e6);
    expect(quantityInteger('1e3')).toBe(1000);
    expect(quantityInteger(512)).toBe(512);
    expect(quantityInteger('100m')).toBe(1);
  });
  it('gives cpu in millicores, rounded up', () => {
    expect(quantityMillis('500m')).toBe(500);
    expect(quantityMillis('0.1')).toBe(100);
    expect(quantityMillis('2')).toBe(2000);
    expect(quantityMillis('1.0005')).toBe(1001);
  });
  it('is undefined for what is not a quantity', () => {
    for (const q of ['', 'lots', '1 Gi', '1GiB', '1.2.3', undefined, null, {}]) expect(quantityValue(q), String(q)).toBeUndefined();
  });
});
