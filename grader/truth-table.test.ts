import { describe, expect, it } from 'vitest';
import { compareTables, formatComparison, formatTruthTable, getCell, ignoreLoopback, setCell, truthTable } from './truth-table.ts';

const pods = ['x/a', 'x/b', 'y/a'];

describe('truth tables', () => {
  it('start filled or empty, and refuse keys they do not have', () => {
    const t = truthTable(pods, pods, true);
    expect(getCell(t, 'x/a', 'y/a')).toBe(true);
    expect(getCell(truthTable(pods, pods), 'x/a', 'y/a')).toBeUndefined();
    setCell(t, 'x/a', 'y/a', false);
    expect(getCell(t, 'x/a', 'y/a')).toBe(false);
    expect(() => setCell(t, 'z/a', 'x/a', true)).toThrow('no row z/a');
    expect(() => setCell(t, 'x/a', 'z/a', true)).toThrow('no column z/a');
  });

  it('print as upstream does: "." allowed, "X" blocked, "?" not observed', () => {
    const t = truthTable(pods, pods, true);
    setCell(t, 'y/a', 'x/a', false);
    delete t.cells['x/b']['y/a'];
    expect(formatTruthTable(t)).toBe([
      '-   x/a x/b y/a',
      'x/a .   .   .',
      'x/b .   .   ?',
      'y/a X   .   .',
    ].join('\n'));
  });

  it('compare cell by cell, counting ignored and missing pairs', () => {
    const expected = truthTable(pods, pods, true);
    setCell(expected, 'y/a', 'x/a', false);
    const observed = truthTable(pods, pods, true);
    setCell(observed, 'x/a', 'x/a', false);
    delete observed.cells['x/b']['y/a'];
    const r = compareTables(expected, observed, ignoreLoopback);
    expect(r.ignored).toBe(3);
    expect(r.correct).toBe(4);
    expect(r.wrong).toEqual([
      { row: 'x/b', col: 'y/a', expected: true, observed: undefined },
      { row: 'y/a', col: 'x/a', expected: false, observed: true },
    ]);
    expect(compareTables(expected, expected).wrong).toEqual([]);
  });

  it('will not compare tables over different pods, nor with holes in the expectation', () => {
    expect(() => compareTables(truthTable(pods, pods, true), truthTable(['x/a'], pods, true))).toThrow('different rows');
    expect(() => compareTables(truthTable(pods, pods), truthTable(pods, pods, true))).toThrow('no value for x/a → x/a');
  });

  it('print expected, observed and comparison side by side, then the wrong pairs', () => {
    const expected = truthTable(pods, pods, true);
    setCell(expected, 'y/a', 'x/a', false);
    const observed = truthTable(pods, pods, true);
    setCell(observed, 'x/a', 'x/a', false);
    expect(formatComparison(expected, observed, ignoreLoopback)).toBe([
      'reachability: correct 5, wrong 1, ignored 3',
      '',
      'expected           observed           comparison',
      '-   x/a x/b y/a    -   x/a x/b y/a    -   x/a x/b y/a',
      'x/a .   .   .      x/a X   .   .      x/a -   .   .',
      'x/b .   .   .      x/b .   .   .      x/b .   -   .',
      'y/a X   .   .      y/a .   .   .      y/a X   .   -',
      '',
      '  y/a → x/a: expected blocked, observed allowed',
    ].join('\n'));
  });
});
