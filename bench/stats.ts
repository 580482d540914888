// Summary statistics for benchmark samples (milliseconds unless a field says otherwise).
//
// Percentiles use the nearest-rank method: p95 of 20 samples is the 19th smallest, a value that
// was actually observed. With fewer than 20 samples p95 is the maximum, and the report says n.

export interface Summary {
  n: number;
  median: number;
  p95: number;
  min: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile, q in (0, 1]. */
export function percentile(samples: readonly number[], q: number): number {
  if (samples.length === 0) throw new Error('percentile of no samples');
  if (!(q > 0 && q <= 1)) throw new Error(`percentile must be in (0, 1], got ${q}`);
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.ceil(q * sorted.length) - 1];
}

/** The median: the middle sample, or the mean of the two middle ones. */
export function median(samples: readonly number[]): number {
  if (samples.length === 0) throw new Error('median of no samples');
  const s = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new Error('summary of no samples');
  if (samples.some((x) => !Number.isFinite(x))) throw new Error('summary of a non-finite sample');
  return {
    n: samples.length,
    median: median(samples),
    p95: percentile(samples, 0.95),
    min: Math.min(...samples),
    max: Math.max(...samples),
    mean: samples.reduce((a, b) => a + b, 0) / samples.length,
  };
}

/** Least-squares slope of y over x (e.g. bytes of MemAvailable lost per lab added); undefined below 2 distinct x. */
export function slope(points: readonly { x: number; y: number }[]): number | undefined {
  const n = points.length;
  if (n < 2) return undefined;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  const sxx = points.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  if (sxx === 0) return undefined;
  return points.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0) / sxx;
}

/** How many times `slow` takes as long as `fast` (medians); undefined when either is missing or zero. */
export function ratio(fast: number | undefined, slow: number | undefined): number | undefined {
  if (fast === undefined || slow === undefined || !(fast > 0) || !(slow > 0)) return undefined;
  return slow / fast;
}

/** "37×", "2.4×", "1.05×": two significant digits below 10, whole numbers above. */
export function formatTimes(r: number): string {
  if (r >= 10) return `${Math.round(r)}×`;
  if (r >= 1.1) return `${r.toFixed(1)}×`;
  return `${r.toFixed(2)}×`;
}

/** "netns up is 37× faster than docker"; reads the right way round when the first one is slower. */
export function compare(a: { name: string; ms: number | undefined }, b: { name: string; ms: number | undefined }, what = ''): string | undefined {
  if (a.ms === undefined || b.ms === undefined || !(a.ms > 0) || !(b.ms > 0)) return undefined;
  const sub = what ? `${a.name} ${what}` : a.name;
  if (a.ms <= b.ms) return `${sub} is ${formatTimes(b.ms / a.ms)} faster than ${b.name}`;
  return `${sub} is ${formatTimes(a.ms / b.ms)} slower than ${b.name}`;
}

/** Milliseconds for people: "0.84 ms", "12.3 ms", "412 ms", "3.41 s", "2 min 5 s". */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** Bytes for people, binary units: "812 KiB", "34.2 MiB", "1.50 GiB". */
export function formatBytes(b: number): string {
  if (!Number.isFinite(b)) return '-';
  const neg = b < 0 ? '-' : '';
  const x = Math.abs(b);
  if (x < 1024) return `${neg}${Math.round(x)} B`;
  if (x < 1024 ** 2) return `${neg}${Math.round(x / 1024)} KiB`;
  if (x < 1024 ** 3) return `${neg}${(x / 1024 ** 2).toFixed(1)} MiB`;
  return `${neg}${(x / 1024 ** 3).toFixed(2)} GiB`;
}

/** Times an async function in milliseconds (performance.now, monotonic). */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}
