// Kubernetes resource quantities (k8s.io/apimachinery's resource.Quantity): a decimal number with
// a binary suffix (Ki, Mi, Gi, Ti, Pi, Ei), a decimal one (m, k, M, G, T, P, E) or an exponent
// (1e3). "128Mi" of memory is 134217728 bytes, "500m" of cpu half a core, "1G" 10^9.

const SUFFIX: Record<string, number> = { '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };

/** The quantity's value as a number (undefined when it is not a quantity). */
export function quantityValue(q: unknown): number | undefined {
  if (typeof q === 'number') return q;
  const m = /^([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))(([eE][+-]?[0-9]+)|[a-zA-Z]*)$/.exec(typeof q === 'string' ? q : '');
  if (!m) return undefined;
  if (m[3]) return Number(m[1] + m[3]);
  const factor = SUFFIX[m[2]];
  return factor === undefined ? undefined : Number(m[1]) * factor;
}

// Rounding up, as Quantity.Value() and MilliValue() do, after dropping what binary floating point
// adds to decimal fractions (0.1 * 1000 is 100.00000000000001).
const ceil = (v: number) => Math.ceil(Number(v.toPrecision(15)));

/** Quantity.Value(): a whole number, rounded up (bytes of memory: "100m" of memory is 1 byte). */
export function quantityInteger(q: unknown): number | undefined {
  const v = quantityValue(q);
  return v === undefined ? undefined : ceil(v);
}

/** Quantity.MilliValue(): thousandths, rounded up (millicores of cpu: "1" is 1000, "250m" 250). */
export function quantityMillis(q: unknown): number | undefined {
  const v = quantityValue(q);
  return v === undefined ? undefined : ceil(v * 1000);
}
