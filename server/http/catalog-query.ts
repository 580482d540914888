import { z } from 'zod';
import type { CatalogEntry } from '../manager/backend.ts';
import { Difficulty } from '../scenario/schema.ts';
import { TRACK_IDS } from '../scenario/tracks.ts';

// The catalog's filters (?track=, ?difficulty=, ?tag=), read the same way by the JSON API and the page.
// The API refuses a value it does not know with a 400 naming the parameter and the values it takes; the
// page ignores it and shows the unfiltered choice, as it always did for difficulty.

const oneOf = <const T extends readonly string[]>(values: T, noun: string) =>
  z.enum(values, {
    error: (issue) => `${typeof issue.input === 'string' ? `unknown ${noun} ${JSON.stringify(issue.input)}` : `one ${noun}, not ${JSON.stringify(issue.input)}`}; one of: ${values.join(', ')}`,
  });

export const CatalogQuery = z.object({
  track: oneOf(TRACK_IDS, 'track').optional(),
  difficulty: oneOf(Difficulty.options, 'difficulty').optional(),
  tag: z.string().max(64).optional(),
});
export type CatalogFilter = z.infer<typeof CatalogQuery>;

/** The page's reading: each parameter that is valid, the others left out. */
export function lenientCatalogQuery(query: Record<string, unknown>): CatalogFilter {
  const out: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(CatalogQuery.shape)) {
    const r = schema.safeParse(query[key]);
    if (r.success && r.data !== undefined) out[key] = r.data;
  }
  return out as CatalogFilter;
}

export function filterCatalog(all: CatalogEntry[], q: CatalogFilter) {
  return all.filter((s) => (!q.tag || s.tags.includes(q.tag) || s.concepts.includes(q.tag))
    && (!q.difficulty || s.difficulty === q.difficulty)
    && (!q.track || s.track === q.track));
}

/** The catalog page's address with `change` applied to the current filters (undefined drops one). */
export function catalogHref(current: CatalogFilter, change: Partial<CatalogFilter>): string {
  const next = { ...current, ...change };
  const params = new URLSearchParams();
  for (const key of Object.keys(CatalogQuery.shape) as (keyof CatalogFilter)[]) {
    const v = next[key];
    if (v) params.set(key, v);
  }
  const qs = params.toString();
  return qs ? `/?${qs}` : '/';
}

export const isFiltered = (q: CatalogFilter) => Object.values(q).some(Boolean);

/** One row of filter chips: "All" and one chip per value, each a link keeping the other filters. */
export function filterGroup(q: CatalogFilter, key: keyof CatalogFilter, label: string, options: { value: string; label: string }[]) {
  return {
    key, label,
    all: { active: !q[key], href: catalogHref(q, { [key]: undefined }) },
    chips: options.map((o) => ({ ...o, active: q[key] === o.value, href: catalogHref(q, { [key]: o.value }) })),
  };
}
