// The grader's public API. Callers: the CLI (`netdojo grade`, `netdojo verify`) and the web server.
//
//   const report = await gradeLab(lab, rendered.checks, { scenario: rendered.id });
//   print(formatReport(report, { color: process.stdout.isTTY }));   // or JSON.stringify(report)
//
// After a break, verify grades with `{ expect: expectBroken }` so target checks are not retried
// while they fail as intended.

export { gradeLab, runBatch, expectBroken, expectPass, probeTimeouts, DEFAULT_RETRY_POLICY } from './run.ts';
export type { GradeOptions, GradeProgress, RetryPolicy, Outcome } from './run.ts';
export { formatReport } from './report.ts';
export type { FormatOptions } from './report.ts';
export { score, verdict, reachabilityMatrix } from './verdict.ts';
export { hintFor, GENERIC_HINTS } from './hints.ts';
export { planCheck, buildBatch, parseBatch, displayCommand } from './probes.ts';
export type { ProbePlan, ProbeCommand, ProbeTimeouts, Batch } from './probes.ts';
export { SEVERITY, worstState } from './classify.ts';
export type { Classification, ProbeOutput } from './classify.ts';
export * from './types.ts';
