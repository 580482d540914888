// Truth tables of reachability: for every (from, to) pair, whether traffic gets through. This is
// how Kubernetes' NetworkPolicy e2e suite judges a dataplane: a table expected from the policies, a
// table observed by probing every pair, compared cell by cell. Tables print the way upstream prints
// them: "." allowed, "X" blocked, "?" not observed; rows are sources, columns destinations, the
// corner is "-". In a comparison "." is a pair where both agree and "X" one where they do not.

export interface TruthTable {
  rows: string[];
  cols: string[];
  /** cells[row][col]; a missing cell is a pair not observed (yet). */
  cells: Record<string, Record<string, boolean>>;
}

/** A table over rows × cols, every cell `fill` (or none set). */
export function truthTable(rows: string[], cols: string[], fill?: boolean): TruthTable {
  const cells: TruthTable['cells'] = {};
  for (const r of rows) {
    cells[r] = {};
    if (fill !== undefined) for (const c of cols) cells[r][c] = fill;
  }
  return { rows: [...rows], cols: [...cols], cells };
}

export function setCell(t: TruthTable, row: string, col: string, value: boolean): void {
  if (!t.rows.includes(row)) throw new Error(`truth table: no row ${row}`);
  if (!t.cols.includes(col)) throw new Error(`truth table: no column ${col}`);
  t.cells[row][col] = value;
}

export function getCell(t: TruthTable, row: string, col: string): boolean | undefined {
  return t.cells[row]?.[col];
}

/** Pairs a comparison leaves out. */
export type Ignore = (row: string, col: string) => boolean;

/** Upstream leaves out a pod's traffic to itself: what policies do to loopback is not defined
 *  (kubernetes/kubernetes#95879), and plugins differ. */
export const ignoreLoopback: Ignore = (row, col) => row === col;

export interface Mismatch { row: string; col: string; expected: boolean; observed: boolean | undefined }

export interface Comparison {
  correct: number;
  /** Pairs whose observation differs from the expectation or is missing, row by row. */
  wrong: Mismatch[];
  ignored: number;
}

/** Compares two tables over the same rows and columns; an expected table must be complete. */
export function compareTables(expected: TruthTable, observed: TruthTable, ignore?: Ignore): Comparison {
  if (expected.rows.join('\n') !== observed.rows.join('\n') || expected.cols.join('\n') !== observed.cols.join('\n')) {
    throw new Error('truth table: cannot compare tables with different rows or columns');
  }
  const out: Comparison = { correct: 0, wrong: [], ignored: 0 };
  for (const row of expected.rows) {
    for (const col of expected.cols) {
      const want = getCell(expected, row, col);
      if (want === undefined) throw new Error(`truth table: expected table has no value for ${row} → ${col}`);
      const got = getCell(observed, row, col);
      if (ignore?.(row, col)) out.ignored++;
      else if (got === want) out.correct++;
      else out.wrong.push({ row, col, expected: want, observed: got });
    }
  }
  return out;
}

const mark = (v: boolean | undefined) => (v === undefined ? '?' : v ? '.' : 'X');

/** A grid of one character per cell, under column headers. */
function grid(rows: string[], cols: string[], cell: (row: string, col: string) => string): string[] {
  const first = Math.max(1, ...rows.map((r) => r.length));
  const widths = cols.map((c) => Math.max(1, c.length));
  const line = (head: string, cells: string[]) => [head.padEnd(first), ...cells.map((s, i) => s.padEnd(widths[i]))].join(' ').trimEnd();
  return [line('-', cols), ...rows.map((r) => line(r, cols.map((c) => cell(r, c))))];
}

/** The table as upstream's PrettyPrint shows it (with spaces instead of tabs). */
export function formatTruthTable(t: TruthTable): string {
  return grid(t.rows, t.cols, (r, c) => mark(getCell(t, r, c))).join('\n');
}

/**
 * Expected, observed and their comparison side by side, then a count and every wrong pair spelled
 * out. Ignored pairs show as "-" in the comparison.
 */
export function formatComparison(expected: TruthTable, observed: TruthTable, ignore?: Ignore): string {
  const result = compareTables(expected, observed, ignore);
  const wrong = new Set(result.wrong.map((m) => `${m.row}\n${m.col}`));
  const blocks: [string, string[]][] = [
    ['expected', grid(expected.rows, expected.cols, (r, c) => mark(getCell(expected, r, c)))],
    ['observed', grid(observed.rows, observed.cols, (r, c) => mark(getCell(observed, r, c)))],
    ['comparison', grid(expected.rows, expected.cols, (r, c) => (ignore?.(r, c) ? '-' : wrong.has(`${r}\n${c}`) ? 'X' : '.'))],
  ];
  const width = Math.max(...blocks.flatMap(([title, lines]) => [title, ...lines].map((l) => l.length)));
  const side = (lines: string[]) => lines.map((l) => l.padEnd(width)).join('    ').trimEnd();
  const out = [
    `reachability: correct ${result.correct}, wrong ${result.wrong.length}, ignored ${result.ignored}`,
    '',
    side(blocks.map(([title]) => title)),
    ...blocks[0][1].map((_, i) => side(blocks.map(([, lines]) => lines[i]))),
  ];
  if (result.wrong.length) {
    const word = (v: boolean | undefined) => (v === undefined ? 'not observed' : v ? 'allowed' : 'blocked');
    out.push('', ...result.wrong.map((m) => `  ${m.row} → ${m.col}: expected ${word(m.expected)}, observed ${word(m.observed)}`));
  }
  return out.join('\n');
}
