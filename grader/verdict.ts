import { SEVERITY } from './classify.ts';
import type { CheckResult, Matrix } from './types.ts';

// The comparison side of grading: from per-check results to score, verdict and the matrix.
// Pure; no probing here (run.ts does that).

export function score(results: readonly CheckResult[]): { earned: number; possible: number } {
  let earned = 0;
  let possible = 0;
  for (const r of results) {
    possible += r.weight;
    if (r.pass) earned += r.weight;
  }
  return { earned, possible };
}

/** Pass iff every check passes. No checks at all proves nothing, so it is a fail. */
export function verdict(results: readonly CheckResult[]): 'pass' | 'fail' {
  return results.length > 0 && results.every((r) => r.pass) ? 'pass' : 'fail';
}

/**
 * Sources × targets, the worst state among the checks between each pair (a pass only when every
 * check of the pair passes). State guards are not about reachability and stay out.
 */
export function reachabilityMatrix(results: readonly CheckResult[]): Matrix {
  const sources: string[] = [];
  const targets: string[] = [];
  const cells: Matrix['cells'] = {};
  for (const r of results) {
    if (r.kind === 'state' || !r.to) continue;
    if (!sources.includes(r.from)) sources.push(r.from);
    if (!targets.includes(r.to)) targets.push(r.to);
    const row = (cells[r.from] ??= {});
    const cur = row[r.to];
    if (!cur || worse(r, cur)) row[r.to] = { state: r.state, pass: r.pass && (cur?.pass ?? true), check: r.id };
    else if (!r.pass) cur.pass = false;
  }
  return { sources, targets, cells };
}

function worse(r: CheckResult, cur: { state: CheckResult['state']; pass: boolean }): boolean {
  if (r.pass !== cur.pass) return !r.pass;
  return SEVERITY[r.state] > SEVERITY[cur.state];
}
