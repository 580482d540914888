// Cell formatting shared by the printers, matching kube-apiserver's helpers: durations as
// k8s.io/apimachinery/pkg/util/duration.HumanDuration, label maps as labels.FormatLabels, and the
// "a,b,c + N more..." lists.

type Timestamp = Date | string | null | undefined;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * duration.HumanDuration: about two significant figures ("45s", "3m2s", "10m", "5h2m", "3d4h",
 * "2y"). Up to a second in the future reads "0s" (clock skew); further in the future "<invalid>".
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / SECOND);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 2 * 60) return `${seconds}s`;
  const minutes = Math.trunc(ms / MINUTE);
  if (minutes < 10) return withRemainder(minutes, 'm', seconds % 60, 's');
  if (minutes < 3 * 60) return `${minutes}m`;
  const hours = Math.trunc(ms / HOUR);
  if (hours < 8) return withRemainder(hours, 'h', minutes % 60, 'm');
  if (hours < 48) return `${hours}h`;
  const days = Math.trunc(hours / 24);
  if (hours < 24 * 8) return withRemainder(days, 'd', hours % 24, 'h');
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.trunc(days / 365);
  if (hours < 24 * 365 * 8) return withRemainder(years, 'y', days % 365, 'd');
  return `${years}y`;
}

const withRemainder = (whole: number, unit: string, rest: number, restUnit: string) =>
  (rest === 0 ? `${whole}${unit}` : `${whole}${unit}${rest}${restUnit}`);

// Go's zero time.Time, which a metav1.Time that was never set serializes as if it is not null.
const GO_ZERO_TIME = Date.parse('0001-01-01T00:00:00Z');

/** A stored timestamp in epoch milliseconds, or undefined where Go would see the zero time. */
export function instant(value: Timestamp): number | undefined {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : NaN;
  return Number.isNaN(ms) || ms === GO_ZERO_TIME ? undefined : ms;
}

/** translateTimestampSince: the time since a timestamp, "<unknown>" when it is unset. */
export function since(now: Date, value: Timestamp | number): string {
  const ms = typeof value === 'number' ? value : instant(value);
  return ms === undefined ? '<unknown>' : humanDuration(now.getTime() - ms);
}

/** The later of two optional instants (an unset one never wins). */
export const later = (a: number | undefined, b: number | undefined) =>
  (a === undefined ? b : b === undefined ? a : Math.max(a, b));

/** labels.FormatLabels: "k=v" pairs sorted as strings, joined by commas; "<none>" when empty. */
export function formatLabels(labels: Record<string, string> | null | undefined): string {
  const pairs = Object.entries(labels ?? {}).map(([key, value]) => `${key}=${value}`).sort();
  return pairs.length ? pairs.join(',') : '<none>';
}

/** At most `max` items, then " + N more..." counting every item, as endpoints and slices print. */
export function listWithMore(items: readonly string[], max: number): string {
  const shown = items.slice(0, max).join(',');
  return items.length > max ? `${shown} + ${items.length - max} more...` : shown;
}

/** net.JoinHostPort: IPv6 addresses are bracketed. */
export const joinHostPort = (host: string, port: number | string) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** layoutContainerCells: a template's container names and images, each comma-joined. */
export function containerCells(containers: readonly { name?: string; image?: string }[] | null | undefined): [string, string] {
  const list = containers ?? [];
  return [list.map((c) => c.name ?? '').join(','), list.map((c) => c.image ?? '').join(',')];
}

/** sets.NewString(...).List(): distinct, sorted. */
export const sortedSet = (values: Iterable<string>) => [...new Set(values)].sort();
