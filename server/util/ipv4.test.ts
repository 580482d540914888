import { describe, expect, it } from 'vitest';
import { gatewayOf, intToIp, ipToInt } from './ipv4.ts';

describe('IPv4 helpers', () => {
  it('round-trips addresses through numbers, high bit included', () => {
    for (const ip of ['0.0.0.0', '10.96.0.10', '172.18.0.2', '255.255.255.255']) expect(intToIp(ipToInt(ip))).toBe(ip);
    expect(ipToInt('10.0.0.1')).toBe(167772161);
  });

  it('puts the gateway at the first address of the subnet, whatever its size', () => {
    expect(gatewayOf('10.244.0.0/24')).toBe('10.244.0.1');
    expect(gatewayOf('10.244.1.0/24')).toBe('10.244.1.1');
    expect(gatewayOf('10.244.4.0/22')).toBe('10.244.4.1');
    expect(gatewayOf('10.244.1.7/24')).toBe('10.244.1.1');
  });
});
