import { describe, expect, it } from 'vitest';
import type { CatalogEntry } from '../manager/backend.ts';
import { TRACKS } from '../scenario/tracks.ts';
import { catalogHref, filterCatalog, filterGroup, lenientCatalogQuery } from './catalog-query.ts';
import { competencyView, inTrackOrder, nextScenario, nextView, trackSections } from './tracks-view.ts';

// The catalog as tracks (grouping, order, where a learner starts; tracks-view.ts) and its filters
// (catalog-query.ts), on a made-up catalog.

const entry = (id: string, track: CatalogEntry['track'], difficulty: CatalogEntry['difficulty'], minutes: number, more: Partial<CatalogEntry> = {}): CatalogEntry => ({
  id, title: id, summary: `${id} summary`, difficulty, minutes, tags: [track], concepts: ['c'], track,
  competencies: ['troubleshoot-networking'], learned: `${id} learned`, providers: ['netns'], unproven: [], ...more,
});

// Deliberately out of order: tracks mixed, harder before easier, a tie on difficulty and minutes.
const CATALOG = [
  entry('dns-hard', 'dns', 'advanced', 10),
  entry('svc-b', 'services', 'beginner', 15, { title: 'B service' }),
  entry('linux-mid', 'linux', 'intermediate', 20),
  entry('dns-easy', 'dns', 'beginner', 30),
  entry('svc-a', 'services', 'beginner', 15, { title: 'A service' }),
  entry('linux-easy-long', 'linux', 'beginner', 25),
  entry('linux-easy-short', 'linux', 'beginner', 5),
];
const ids = (xs: readonly { id: string }[]) => xs.map((x) => x.id);
const none = () => false;
const all = () => true;

describe('catalog order', () => {
  it('takes the tracks in TRACKS order and, within one, easier, then shorter, then by title', () => {
    expect(ids(inTrackOrder(CATALOG))).toEqual(['linux-easy-short', 'linux-easy-long', 'linux-mid', 'svc-a', 'svc-b', 'dns-easy', 'dns-hard']);
  });

  it('the next scenario is the next of its track, then the next track that has any, then none', () => {
    expect(nextScenario(CATALOG, 'linux-easy-long')?.id).toBe('linux-mid');
    // pod-networking has no scenario: from the last of linux straight to services.
    expect(nextScenario(CATALOG, 'linux-mid')?.id).toBe('svc-a');
    expect(nextScenario(CATALOG, 'dns-hard')).toBeNull();
    expect(nextScenario(CATALOG, 'no-such')).toBeNull();
    expect(nextView(CATALOG, 'svc-a')).toEqual({ id: 'svc-b', title: 'B service', href: '/#svc-b', sameTrack: true, track: { id: 'services', title: 'Services' } });
    expect(nextView(CATALOG, 'svc-b')).toMatchObject({ id: 'dns-easy', sameTrack: false, track: { id: 'dns', title: 'DNS' } });
    expect(nextView(CATALOG, 'dns-hard')).toBeNull();
  });

  it('names competencies in the curriculum wording', () => {
    expect(competencyView(['coredns', 'pod-connectivity'])).toEqual([
      { id: 'coredns', title: 'Understand and use CoreDNS' }, { id: 'pod-connectivity', title: 'Understand connectivity between Pods' }]);
  });
});

describe('track sections', () => {
  it('groups scenarios by track in TRACKS order and leaves out tracks without any', () => {
    const s = trackSections(CATALOG, all, none);
    expect(s.map((t) => t.id)).toEqual(['linux', 'services', 'dns']);
    expect(s.map((t) => t.number)).toEqual([1, 3, 4]);
    expect(s[0]).toMatchObject({ title: TRACKS[0].title, about: TRACKS[0].about, total: 3, solved: 0 });
    expect(s.map((t) => ids(t.scenarios))).toEqual([['linux-easy-short', 'linux-easy-long', 'linux-mid'], ['svc-a', 'svc-b'], ['dns-easy', 'dns-hard']]);
  });

  it('marks the first unsolved scenario of each track: "start" before any is solved, "next" after', () => {
    const solved = new Set(['linux-easy-short', 'svc-a', 'svc-b']);
    const s = trackSections(CATALOG, all, (x) => solved.has(x.id));
    const marks = s.map((t) => t.scenarios.filter((x) => x.mark).map((x) => `${x.id}:${x.mark}`));
    expect(marks).toEqual([['linux-easy-long:next'], [], ['dns-easy:start']]);
    expect(s.map((t) => `${t.solved}/${t.total}`)).toEqual(['1/3', '2/2', '0/2']);
  });

  it('a learner who skipped ahead is sent back to the first unsolved one', () => {
    const s = trackSections(CATALOG, all, (x) => x.id === 'linux-mid');
    expect(s[0].scenarios.find((x) => x.mark)).toMatchObject({ id: 'linux-easy-short', mark: 'next' });
  });

  it('shows only what a filter matches, hides tracks left empty, and keeps counts and marks over the whole track', () => {
    const shown = new Set(ids(filterCatalog(CATALOG, { difficulty: 'intermediate' })));
    const s = trackSections(CATALOG, (x) => shown.has(x.id), none);
    expect(s.map((t) => t.id)).toEqual(['linux']);
    expect(ids(s[0].scenarios)).toEqual(['linux-mid']);
    expect(s[0]).toMatchObject({ total: 3, solved: 0 });
    // The track's first unsolved scenario is filtered out: nothing shown carries the mark.
    expect(s[0].scenarios[0].mark).toBeNull();
  });
});

describe('catalog filters', () => {
  it('filter by track, difficulty and tag together', () => {
    expect(ids(filterCatalog(CATALOG, { track: 'linux' }))).toEqual(['linux-mid', 'linux-easy-long', 'linux-easy-short']);
    expect(ids(filterCatalog(CATALOG, { track: 'linux', difficulty: 'beginner' }))).toEqual(['linux-easy-long', 'linux-easy-short']);
    expect(ids(filterCatalog(CATALOG, { tag: 'dns', difficulty: 'advanced' }))).toEqual(['dns-hard']);
    expect(filterCatalog(CATALOG, { track: 'exam' })).toEqual([]);
  });

  it('the page keeps the valid parameters and drops the rest, as it does for difficulty', () => {
    expect(lenientCatalogQuery({ track: 'dns', difficulty: 'expert', tag: 'mtu' })).toEqual({ track: 'dns', tag: 'mtu' });
    expect(lenientCatalogQuery({ track: 'nope' })).toEqual({});
    expect(lenientCatalogQuery({ track: ['dns', 'linux'], other: 'x' })).toEqual({});
  });

  it('chip links change one filter and keep the others', () => {
    expect(catalogHref({}, {})).toBe('/');
    expect(catalogHref({ tag: 'mtu', difficulty: 'advanced' }, { track: 'dns' })).toBe('/?track=dns&difficulty=advanced&tag=mtu');
    expect(catalogHref({ track: 'dns', tag: 'mtu' }, { track: undefined })).toBe('/?tag=mtu');
    const g = filterGroup({ track: 'dns', difficulty: 'beginner' }, 'track', 'Track', [{ value: 'linux', label: 'Linux' }, { value: 'dns', label: 'DNS' }]);
    expect(g.all).toEqual({ active: false, href: '/?difficulty=beginner' });
    expect(g.chips).toEqual([
      { value: 'linux', label: 'Linux', active: false, href: '/?track=linux&difficulty=beginner' },
      { value: 'dns', label: 'DNS', active: true, href: '/?track=dns&difficulty=beginner' },
    ]);
  });
});
