import type { CatalogEntry } from '../manager/backend.ts';
import { COMPETENCIES, TRACKS, byTrackOrder, type CompetencyId, type TrackId } from '../scenario/tracks.ts';

// The catalog seen as tracks: which scenarios a track holds, in the order a newcomer takes them, where
// this learner starts or goes on, and which scenario follows a solved one.

/** The tracks, as the API lists them. */
export const trackList = () => TRACKS.map(({ id, title, about }) => ({ id, title, about }));

/** Competency ids with their curriculum wording. */
export const competencyView = (ids: readonly CompetencyId[]) => ids.map((id) => ({ id, title: COMPETENCIES[id] }));

export const trackTitle = (id: TrackId) => TRACKS.find((t) => t.id === id)!.title;

/** Catalog order: tracks in TRACKS order, easier scenarios first within each. */
export const inTrackOrder = <T extends CatalogEntry>(all: readonly T[]) => [...all].sort(byTrackOrder);

/** The scenario after `id` in catalog order: the next of its track, or the first of the next track that has any. */
export function nextScenario(all: readonly CatalogEntry[], id: string): CatalogEntry | null {
  const ordered = inTrackOrder(all);
  const i = ordered.findIndex((s) => s.id === id);
  return i < 0 ? null : ordered[i + 1] ?? null;
}

/** Where to go after solving `id`, as the lab page links it; null at the end of the catalog. */
export function nextView(all: readonly CatalogEntry[], id: string) {
  const from = all.find((s) => s.id === id);
  const next = nextScenario(all, id);
  if (!from || !next) return null;
  return { id: next.id, title: next.title, href: `/#${next.id}`, sameTrack: next.track === from.track, track: { id: next.track, title: trackTitle(next.track) } };
}

/** "start": nothing of the track solved yet; "next": the first unsolved one after some solved. */
export type TrackMark = 'start' | 'next' | null;

export interface TrackSection<T> {
  id: TrackId;
  title: string;
  about: string;
  /** 1-based place in the order a newcomer takes the tracks. */
  number: number;
  /** Over the whole track, whatever the filters show. */
  total: number;
  solved: number;
  scenarios: (T & { mark: TrackMark })[];
}

/**
 * The tracks that show at least one scenario, in TRACKS order, each with its shown scenarios in catalog
 * order. Counts and the start/next mark are over the whole track, so a filter never moves them.
 */
export function trackSections<T extends CatalogEntry>(all: readonly T[], shown: (s: T) => boolean, solved: (s: T) => boolean): TrackSection<T>[] {
  const ordered = inTrackOrder(all);
  return TRACKS.flatMap((t, i) => {
    const mine = ordered.filter((s) => s.track === t.id);
    const done = mine.filter(solved).length;
    const first = mine.find((s) => !solved(s));
    const visible = mine.filter(shown);
    if (!visible.length) return [];
    return [{
      id: t.id, title: t.title, about: t.about, number: i + 1, total: mine.length, solved: done,
      scenarios: visible.map((s) => ({ ...s, mark: s === first ? (done ? 'next' : 'start') : null })),
    }];
  });
}
