import { setTimeout as delay } from 'node:timers/promises';
import type { Lab } from '../server/lab/types.ts';
import type { Classification, ProbeOutput } from './classify.ts';
import { hintFor } from './hints.ts';
import { confirming, hasSettled, isFinal, type Seen } from './settle.ts';
import { buildBatch, describeCheck, displayCommand, parseBatch, planCheck, type ProbePlan, type ProbeTimeouts } from './probes.ts';
import type { Check, CheckResult, GradeReport, State } from './types.ts';
import { reachabilityMatrix, score, verdict } from './verdict.ts';

// Executes checks against a lab: one batch exec per source pod per attempt, sources in parallel,
// and expectation-aware retries (the upstream netpol e2e pattern): only checks whose observed
// state is not yet the expected one are probed again, until windowMs has passed. A network that is
// still converging (conntrack, a restarted DNS server) gets time to settle, a check that already
// matches is never re-run, and nothing here can turn an error into a pass. A definite failure (a
// refusal, NXDOMAIN, an ICMP error at once: grader/settle.ts) is probed again every
// confirmIntervalMs and is final once it has held for confirmMs, in a batch of its own beside the
// converging checks' batch, so it is not held for the whole window. On a lab that has settled
// (settle.ts), a failure is final on its first attempt unless it is inconclusive.

export interface RetryPolicy {
  /** No new attempt starts after this long (from a source's first attempt). 0: one attempt only. */
  windowMs: number;
  /** Attempts of checks that may be converging start at most this often. */
  intervalMs: number;
  /** A definite failure (settle.ts) is final once it has shown on every attempt for this long. */
  confirmMs: number;
  /** Attempts of checks whose failure is definite start at most this often. */
  confirmIntervalMs: number;
  /** Per-attempt network timeout of a probe: connect, DNS query, ping wait (seconds). */
  netTimeoutS: number;
  /** Whole-transfer timeout of the mtu probes (seconds). */
  transferTimeoutS: number;
  /** State guard scripts (seconds). */
  stateTimeoutS: number;
  /**
   * A connection that must stay blocked is blocked once its SYN has gone unanswered this long (ms),
   * as the kernel's socket state shows it (probes.ts): a pod network answers in well under 1 ms.
   */
  unansweredMs: number;
  /** Added to the longest probe timeout to bound one batch exec (exec overhead, kubectl, slow forks). */
  execMarginMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  windowMs: 8000,
  intervalMs: 1000,
  // Longer than the data plane takes to follow a change in a lab (bench/RESULTS.md, section 5:
  // CoreDNS scaled up → first answer about 1 s; NetworkPolicy → enforced in under 400 ms).
  confirmMs: 1500,
  confirmIntervalMs: 500,
  netTimeoutS: 2,
  transferTimeoutS: 5,
  stateTimeoutS: 10,
  unansweredMs: 300,
  execMarginMs: 5000,
});

export type GradeProgress =
  /** A batch is about to run on a source. */
  | { type: 'attempt'; source: string; attempt: number; checks: string[] }
  /** A check is final (matched its expectation, a definite failure confirmed, or the retry window is over). */
  | { type: 'check'; result: CheckResult };

export interface GradeOptions {
  policy?: Partial<RetryPolicy>;
  /** The scenario id written into the report. */
  scenario?: string;
  onProgress?: (event: GradeProgress) => void;
  /**
   * The states each check is expected to reach; retries stop once it is there. Default: PASS.
   * `netdojo verify` grades a freshly broken lab with `expectBroken`, so target checks are not
   * retried while they fail as intended (and cannot flake into a pass).
   */
  expect?: (check: Check) => readonly State[];
  /**
   * Whether the lab has stopped moving, so that its first answers are final (settle.ts). Default:
   * what the lab says (`lab.settled()`), judged against the retry window.
   */
  settled?: boolean;
  /**
   * When a learner last typed into the lab's terminals (epoch ms). Within a retry window of it the
   * lab has not settled, whatever its cluster says: what they typed may not have reached it yet (a
   * command still on its way to the API, a process still starting).
   */
  typedAt?: number;
}

export const expectPass = (): readonly State[] => ['PASS'];

/** Whole seconds, at least 1: `timeout 0` would mean no limit at all, and dig takes integers. */
export function probeTimeouts(p: RetryPolicy): ProbeTimeouts {
  const s = (x: number) => Math.max(1, Math.ceil(x));
  return { netTimeoutS: s(p.netTimeoutS), transferTimeoutS: s(p.transferTimeoutS), stateTimeoutS: s(p.stateTimeoutS), unansweredMs: p.unansweredMs };
}

/** After the break: a target check is expected in its `broken` state(s); the others still pass. */
export function expectBroken(check: Check): readonly State[] {
  if (!check.broken) return ['PASS'];
  return Array.isArray(check.broken) ? check.broken : [check.broken];
}

/** What one attempt found for one check. */
export interface Outcome extends Classification {
  evidence: { command: string; output: string };
}

interface Slot {
  check: Check;
  plan?: ProbePlan;
  outcome: Outcome;
  /** Every attempt's observation, `at` from the source's first attempt. */
  seen: Seen[];
  attempts: number;
  ms: number;
}

export async function gradeLab(lab: Lab, checks: readonly Check[], opts: GradeOptions = {}): Promise<GradeReport> {
  const t0 = performance.now();
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...opts.policy };
  const expect = opts.expect ?? expectPass;
  const emit = (e: GradeProgress) => {
    try {
      opts.onProgress?.(e);
    } catch {
      // A failing progress listener must not change a grade.
    }
  };

  const slots: Slot[] = checks.map((check) => {
    try {
      return { check, plan: planCheck(check, probeTimeouts(policy)), outcome: notRun(), seen: [], attempts: 0, ms: 0 };
    } catch (e) {
      return { check, outcome: errorOutcome(`the check could not be turned into probes: ${message(e)}`), seen: [], attempts: 0, ms: 0 };
    }
  });

  const bySource = new Map<string, Slot[]>();
  for (const s of slots) {
    if (!s.plan) continue;
    const list = bySource.get(s.check.from) ?? [];
    list.push(s);
    bySource.set(s.check.from, list);
  }
  for (const s of slots) if (!s.plan) emit({ type: 'check', result: toResult(s) });

  // Asked while the first probes run (probes write nothing the answer depends on), so a slow
  // answer from the lab never delays them; it is awaited only where a failure's finality needs it.
  const typing = opts.typedAt !== undefined && Date.now() - opts.typedAt < policy.windowMs;
  const settledNow: Promise<boolean> = opts.settled !== undefined ? Promise.resolve(opts.settled)
    : typing || !lab.settled ? Promise.resolve(false)
      : lab.settled().then((x) => hasSettled(x, policy.windowMs), () => false);
  await Promise.all([...bySource].map(([source, list]) => gradeSource(lab, source, list, policy, expect, emit, settledNow)));
  const settled = await settledNow;

  const results = slots.map(toResult);
  return {
    lab: lab.facts.id,
    scenario: opts.scenario ?? lab.facts.scenario,
    verdict: verdict(results),
    score: score(results),
    checks: results,
    matrix: reachabilityMatrix(results),
    settled,
    ms: Math.round(performance.now() - t0),
  };
}

async function gradeSource(
  lab: Lab, source: string, slots: Slot[], policy: RetryPolicy,
  expect: (c: Check) => readonly State[], emit: (e: GradeProgress) => void, settledNow: Promise<boolean>,
): Promise<void> {
  const start = performance.now();
  let batches = 0;
  let settled = false;
  const interval = (s: Slot) => (confirming(s.outcome.cause, settled) ? policy.confirmIntervalMs : policy.intervalMs);

  // One lane: a batch for `pending`, then a lane per retry cadence for what is not final yet.
  const lane = async (pending: Slot[]): Promise<void> => {
    const attemptStart = performance.now();
    emit({ type: 'attempt', source, attempt: ++batches, checks: pending.map((s) => s.check.id) });
    const outcomes = await runBatch(lab, source, pending.map((s) => s.plan!), policy);
    settled = await settledNow;
    const now = performance.now();
    const open: Slot[] = [];
    pending.forEach((s, i) => {
      s.outcome = outcomes[i];
      s.seen.push({ state: s.outcome.state, cause: s.outcome.cause, at: attemptStart - start });
      s.attempts++;
      s.ms = Math.round(now - start);
      if (isFinal(s.seen, expectedStates(expect, s.check), policy.confirmMs, settled)) emit({ type: 'check', result: toResult(s) });
      else open.push(s);
    });
    const cadences = [...new Set(open.map(interval))];
    await Promise.all(cadences.map(async (ms) => {
      const next = open.filter((s) => interval(s) === ms);
      // The next attempt starts one interval after this one started, or now if this one took longer.
      const at = Math.max(attemptStart + ms, performance.now());
      if (at - start >= policy.windowMs) {
        for (const s of next) emit({ type: 'check', result: toResult(s) });
        return;
      }
      const wait = at - performance.now();
      if (wait > 0) await delay(wait);
      await lane(next);
    }));
  };
  await lane(slots);
}

function expectedStates(expect: (c: Check) => readonly State[], check: Check): readonly State[] {
  try {
    return expect(check);
  } catch {
    return ['PASS'];
  }
}

/**
 * Runs the probes of several checks on one source in a single exec; one outcome per plan, in
 * order. Never throws: whatever goes wrong with the exec is an ERROR outcome for every plan in it.
 */
export async function runBatch(lab: Lab, source: string, plans: readonly ProbePlan[], policy: RetryPolicy): Promise<Outcome[]> {
  const commands = plans.flatMap((p) => p.commands);
  const batch = buildBatch(commands);
  // Probes run in parallel, so the batch takes about its longest probe (+1 s for timeout -k).
  const timeoutMs = (batch.maxTimeoutS + 1) * 1000 + policy.execMarginMs;
  const failAll = (why: string, output = '') =>
    plans.map((p) => errorOutcome(why, { command: p.commands.map(displayCommand).join('\n'), output: trim(output || why, 2000) }));

  let r;
  try {
    // The provider enforces timeoutMs; the extra deadline covers a provider that does not return.
    r = await withDeadline(lab.exec(source, ['bash', '-c', batch.script], { timeoutMs }), timeoutMs + Math.max(1000, policy.execMarginMs));
  } catch (e) {
    return failAll(`could not run the probes on ${source}: ${message(e)}`);
  }
  if (r.timedOut) return failAll(`the probe run on ${source} did not finish within ${timeoutMs} ms and was killed`, r.stderr);
  const parsed = parseBatch(r.stdout, batch);
  if (!parsed.ok) {
    return failAll(`probe run on ${source} (exit ${r.code ?? 'killed'}): ${parsed.reason}`, `${r.stderr}\n${r.stdout}`.trim());
  }

  let at = 0;
  return plans.map((plan) => {
    const outputs = parsed.outputs.slice(at, at + plan.commands.length);
    at += plan.commands.length;
    const evidence = formatEvidence(plan, outputs);
    if (outputs.some((o) => o === undefined)) return errorOutcome('a probe of this check reported no result', evidence);
    try {
      const c = plan.classify(outputs as ProbeOutput[]);
      return { state: c.state, observed: c.observed, cause: c.cause, evidence };
    } catch (e) {
      return errorOutcome(`could not classify the probe output: ${message(e)}`, evidence);
    }
  });
}

async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  const ac = new AbortController();
  try {
    return await Promise.race([
      p,
      delay(ms, undefined, { signal: ac.signal }).then(() => { throw new Error(`no answer from the lab within ${ms} ms`); }),
    ]);
  } finally {
    ac.abort();
  }
}

function formatEvidence(plan: ProbePlan, outputs: (ProbeOutput | undefined)[]): Outcome['evidence'] {
  const command = plan.commands.map(displayCommand).join('\n');
  const per = Math.max(400, Math.floor(4000 / plan.commands.length));
  const parts = plan.commands.map((c, i) => {
    const o = outputs[i];
    const body = o ? [o.out, o.err].map((s) => s.trimEnd()).filter(Boolean).join('\n') : '(no result)';
    const head = o ? `[exit ${o.rc}, ${o.ms} ms]` : '';
    const text = trim(`${head}\n${body}`.trim(), per);
    return plan.commands.length > 1 ? `$ ${displayCommand(c)}\n${text}` : text;
  });
  return { command, output: parts.join('\n') };
}

/** Keeps the start and the end of long output (the end holds curl's and dig's verdicts). */
export function trim(s: string, max: number): string {
  if (s.length <= max) return s;
  const tail = Math.floor(max / 3);
  const head = max - tail - 40;
  return `${s.slice(0, head)}\n... (${s.length - head - tail} characters cut) ...\n${s.slice(s.length - tail)}`;
}

function toResult(s: Slot): CheckResult {
  const { check, outcome } = s;
  const d = s.plan ? { to: s.plan.to, expected: s.plan.expected } : describeCheck(check);
  return {
    id: check.id,
    title: check.title,
    kind: check.kind,
    from: check.from,
    to: d.to,
    expected: d.expected,
    observed: outcome.observed,
    state: outcome.state,
    pass: outcome.state === 'PASS',
    weight: check.weight ?? 1,
    target: check.broken !== undefined,
    attempts: s.attempts,
    ms: s.ms,
    evidence: outcome.evidence,
    hint: hintFor(check, outcome.state),
  };
}

function errorOutcome(why: string, evidence: Outcome['evidence'] = { command: '', output: why }): Outcome {
  return { state: 'ERROR', observed: why, cause: 'grader-error', evidence };
}

const notRun = () => errorOutcome('not probed');

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
