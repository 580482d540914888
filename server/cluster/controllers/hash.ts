// The hashes controllers put in names and labels (pod-template-hash, controller-revision-hash).
// Upstream hashes a Go deep printout of the template with FNV-1a (32 bit), mixes in the collision
// count, prints the number in decimal and maps each digit through the "safe encoding" alphabet
// (k8s.io/apimachinery/pkg/util/rand.SafeEncodeString), so a hash is at most 10 characters drawn
// from `bcdfghjklmnpqrstvwxz2456789` (in practice the digits land on "45679bcdf" and "8").
// Go's printout cannot be reproduced here; this hashes a canonical JSON text of the template
// (object keys sorted) instead: stable across restarts and equal for equal templates, though the
// values differ from a real cluster's.

const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** JSON with object keys sorted at every level, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function fnv32a(bytes: Uint8Array, hash = 0x811c9dc5): number {
  let h = hash;
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Each character of `text` mapped onto the safe alphabet by its code, as SafeEncodeString does. */
export function safeEncode(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) out += SAFE_ALPHABET[text.charCodeAt(i) % SAFE_ALPHABET.length];
  return out;
}

/** The hash of a pod template (and collision count), as the label value and name suffix use it. */
export function templateHash(template: unknown, collisionCount?: number): string {
  let h = fnv32a(new TextEncoder().encode(canonicalJson(template)));
  if (collisionCount !== undefined) {
    const le = new Uint8Array(4);
    new DataView(le.buffer).setUint32(0, collisionCount >>> 0, true);
    h = fnv32a(le, h);
  }
  return safeEncode(String(h));
}
