// IPv4 addresses as numbers, for the allocators (ClusterIPs, pod IPs) and the node bridges.

export const ipToInt = (ip: string) => ip.split('.').reduce((a, b) => (a << 8) + Number(b), 0) >>> 0;
export const intToIp = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');

/** A subnet's first address: where kind's bridge (cni0) sits as its pods' gateway. */
export function gatewayOf(cidr: string): string {
  const [base, len] = cidr.split('/');
  const mask = Number(len) === 0 ? 0 : (~0 << (32 - Number(len))) >>> 0;
  return intToIp(((ipToInt(base) & mask) >>> 0) + 1);
}
