import { styleText } from 'node:util';
import type { CheckResult, GradeReport, State } from './types.ts';

// The grade report for people at a terminal: one table row per check, the reachability matrix as a
// grid, and the hint of every failing check. The JSON form is the GradeReport object itself.
// Colors only when asked (the caller passes stdout.isTTY), so pipes and logs stay plain text.

export interface FormatOptions {
  color?: boolean;
  /** Wide cells are cut to this many characters (observed, expected); "from → to" gets twice that. */
  maxCell?: number;
}

type Style = Parameters<typeof styleText>[0];

export function formatReport(report: GradeReport, opts: FormatOptions = {}): string {
  // validateStream off: the caller already decided (styleText would otherwise look at stdout itself).
  const paint = (style: Style, s: string) => (opts.color ? styleText(style, s, { validateStream: false }) : s);
  const stateStyle = (s: State): Style => (s === 'PASS' ? 'green' : s === 'ERROR' ? 'magenta' : s === 'PARTIAL' ? 'yellow' : 'red');
  const max = opts.maxCell ?? 44;
  const out: string[] = [];

  const verdict = report.verdict === 'pass' ? paint(['bold', 'green'], 'PASS') : paint(['bold', 'red'], 'FAIL');
  out.push(`${verdict}  ${report.scenario} (lab ${report.lab})  score ${report.score.earned}/${report.score.possible}  ${(report.ms / 1000).toFixed(1)} s`);
  out.push('');

  const head = ['CHECK', 'FROM → TO', 'EXPECTED', 'OBSERVED', 'STATE', 'TRIES', 'MS'];
  const rows = report.checks.map((c) => [
    cut(c.id, max),
    cut(c.to ? `${c.from} → ${c.to}` : c.from, 2 * max),
    cut(oneLine(c.expected), max),
    cut(oneLine(c.observed), max),
    c.state,
    String(c.attempts),
    String(c.ms),
  ]);
  const styles = report.checks.map((c) => (col: number, s: string) => (col === 4 ? paint(stateStyle(c.state), s) : s));
  out.push(...table(head, rows, { header: (s) => paint('bold', s), cell: (r, col, s) => styles[r](col, s), right: [5, 6] }));

  const m = report.matrix;
  if (m.sources.length && m.targets.length) {
    out.push('', paint('bold', 'Reachability (worst state per pair; rows: from, columns: to)'));
    const labels = m.targets.map((_t, i) => `[${i + 1}]`);
    const grid = m.sources.map((src) => [cut(src, max), ...m.targets.map((t) => m.cells[src]?.[t]?.state ?? '·')]);
    out.push(...table(['', ...labels], grid, {
      header: (s) => paint('bold', s),
      cell: (_r, col, s) => (col === 0 || s === '·' ? s : paint(stateStyle(s as State), s)),
    }));
    m.targets.forEach((t, i) => out.push(`  ${labels[i]} ${t}`));
  }

  const failing = report.checks.filter((c) => !c.pass);
  if (failing.length) {
    out.push('', paint('bold', 'What is still wrong'));
    for (const c of failing) out.push(...failingCheck(c, paint, stateStyle));
  }
  return `${out.join('\n')}\n`;
}

function failingCheck(c: CheckResult, paint: (s: Style, t: string) => string, stateStyle: (s: State) => Style): string[] {
  const lines = [`  ${paint(stateStyle(c.state), '✗')} ${c.title} [${c.id}]: ${paint(stateStyle(c.state), c.state)}, ${oneLine(c.observed)}`];
  if (c.hint) lines.push(...wrap(c.hint, 96).map((l) => `      ${l}`));
  if (c.evidence.command) lines.push(paint('dim', `      $ ${oneLine(c.evidence.command.split('\n')[0])}${c.evidence.command.includes('\n') ? ' ...' : ''}`));
  return lines;
}

function table(head: string[], rows: string[][], f: { header: (s: string) => string; cell: (row: number, col: number, s: string) => string; right?: number[] }): string[] {
  const widths = head.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const pad = (s: string, i: number) => (f.right?.includes(i) ? s.padStart(widths[i] + s.length - width(s)) : s.padEnd(widths[i] + s.length - width(s)));
  const lines = [`  ${head.map((h, i) => f.header(pad(h, i))).join('  ')}`.trimEnd()];
  rows.forEach((r, ri) => lines.push(`  ${r.map((c, i) => f.cell(ri, i, pad(c, i))).join('  ')}`.trimEnd()));
  return lines;
}

/** Display width: code points (the arrow and ellipsis are one column each). */
const width = (s: string) => [...s].length;

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();

function cut(s: string, max: number): string {
  const cps = [...s];
  return cps.length <= max ? s : `${cps.slice(0, max - 1).join('')}…`;
}

function wrap(s: string, cols: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of s.split(/\s+/)) {
    if (line && line.length + 1 + word.length > cols) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}
