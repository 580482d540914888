import { isIP, isIPv4 } from 'node:net';

// IPv4 addresses as numbers, for the allocators (ClusterIPs, pod IPs), the node bridges and the
// rules that match address ranges (policies' ipBlocks, load balancers' source ranges).

export const ipToInt = (ip: string) => ip.split('.').reduce((a, b) => (a << 8) + Number(b), 0) >>> 0;
export const intToIp = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');

/** A subnet's first address: where kind's bridge (cni0) sits as its pods' gateway. */
export function gatewayOf(cidr: string): string {
  const [base, len] = cidr.split('/');
  const mask = Number(len) === 0 ? 0 : (~0 << (32 - Number(len))) >>> 0;
  return intToIp(((ipToInt(base) & mask) >>> 0) + 1);
}

/** An IPv4 CIDR as (network, mask); an IPv6 one is null (it matches no IPv4 address); not a CIDR, undefined. */
export function parseCIDR(cidr: string): { net: number; mask: number } | null | undefined {
  const [ip, len, extra] = cidr.split('/');
  if (extra !== undefined || len === undefined || !/^\d{1,3}$/.test(len)) return undefined;
  const prefix = Number(len);
  if (isIPv4(ip) && prefix <= 32) {
    const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
    return { net: (ipToInt(ip) & mask) >>> 0, mask };
  }
  return isIP(ip) === 6 && prefix <= 128 ? null : undefined;
}

export function inCIDR(ip: string, cidr: string): boolean {
  const c = parseCIDR(cidr);
  return !!c && isIPv4(ip) && ((ipToInt(ip) & c.mask) >>> 0) === c.net;
}
