import { describe, expect, it } from 'vitest';
import { formatReport } from './report.ts';
import type { CheckResult, GradeReport, State } from './types.ts';
import { reachabilityMatrix, score, verdict } from './verdict.ts';

function result(id: string, from: string, to: string, state: State, over: Partial<CheckResult> = {}): CheckResult {
  return {
    id, title: `title of ${id}`, kind: 'tcp', from, to, expected: 'connected', observed: state === 'PASS' ? 'connected' : 'no answer',
    state, pass: state === 'PASS', weight: 1, target: false, attempts: 1, ms: 10,
    evidence: { command: `timeout 2 bash -c 'exec 3<>/dev/tcp/${to}'`, output: '' },
    hint: state === 'PASS' ? undefined : `hint for ${id}`,
    ...over,
  };
}

const C = 'default/client-control-plane';
const W = 'default/client-worker';
const results = [
  result('a', C, '10.244.1.2:8080', 'PASS', { weight: 2 }),
  result('b', C, '10.244.1.2:8080', 'TIMEOUT'),
  result('c', C, '10.244.1.2:8080', 'PARTIAL'),
  result('d', W, 'web.default.svc.cluster.local', 'PASS', { kind: 'dns' }),
  result('e', C, '', 'WRONG_ANSWER', { kind: 'state' }),
];

describe('score and verdict', () => {
  it('weights checks', () => {
    expect(score(results)).toEqual({ earned: 3, possible: 6 });
  });

  it('passes only when every check passes, and not with no checks', () => {
    expect(verdict(results)).toBe('fail');
    expect(verdict(results.filter((r) => r.pass))).toBe('pass');
    expect(verdict([])).toBe('fail');
  });
});

describe('reachability matrix', () => {
  const m = reachabilityMatrix(results);

  it('has sources × targets, without state guards', () => {
    expect(m.sources).toEqual([C, W]);
    expect(m.targets).toEqual(['10.244.1.2:8080', 'web.default.svc.cluster.local']);
    expect(m.cells[W]['10.244.1.2:8080']).toBeUndefined();
  });

  it('shows the worst state per pair', () => {
    expect(m.cells[C]['10.244.1.2:8080']).toEqual({ state: 'TIMEOUT', pass: false, check: 'b' });
    expect(m.cells[W]['web.default.svc.cluster.local']).toEqual({ state: 'PASS', pass: true, check: 'd' });
  });

  it('is not a pass when any check of the pair fails, whatever the order', () => {
    const reversed = reachabilityMatrix([...results].reverse());
    expect(reversed.cells[C]['10.244.1.2:8080'].state).toBe('TIMEOUT');
    expect(reachabilityMatrix([results[2], results[0]]).cells[C]['10.244.1.2:8080']).toMatchObject({ state: 'PARTIAL', pass: false });
  });
});

describe('text report', () => {
  const report: GradeReport = {
    lab: 'labc123', scenario: 'dns-egress-dropped', verdict: verdict(results), score: score(results),
    checks: results, matrix: reachabilityMatrix(results), ms: 8300,
  };

  it('shows each check, the matrix grid and hints of failing checks, plain without color', () => {
    const text = formatReport(report);
    expect(text).not.toMatch(/\x1b\[/);
    expect(text).toMatch(/^FAIL {2}dns-egress-dropped \(lab labc123\) {2}score 3\/6/);
    expect(text).toMatch(/a +default\/client-control-plane → 10\.244\.1\.2:8080 +connected +connected +PASS +1 +10/);
    expect(text).toContain('[1] 10.244.1.2:8080');
    expect(text).toMatch(/default\/client-worker +· +PASS/);
    expect(text).toContain('hint for b');
    expect(text).toContain('hint for e');
    expect(text).not.toContain('hint for a');
  });

  it('colors states when asked', () => {
    const text = formatReport(report, { color: true });
    expect(text).toMatch(/\x1b\[\d+mTIMEOUT/);
  });

  it('says PASS for a passing grade', () => {
    const ok = results.filter((r) => r.pass);
    expect(formatReport({ ...report, checks: ok, verdict: verdict(ok), score: score(ok), matrix: reachabilityMatrix(ok) })).toMatch(/^PASS /);
  });
});
