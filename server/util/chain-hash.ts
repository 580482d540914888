import { createHash } from 'node:crypto';

// How kube-proxy names its per-object chains (KUBE-SVC-…, KUBE-SEP-…): the SHA-256 of a key,
// base32-encoded (RFC 4648 alphabet, no padding), first 16 characters. The lab's NetworkPolicy
// chains are named the same way, so every generated chain name fits iptables' 28-character limit.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(buf: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of buf) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

export const chainHash = (key: string) => base32(createHash('sha256').update(key).digest()).slice(0, 16);
