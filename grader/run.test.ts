import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ExecOptions, ExecResult, Lab } from '../server/lab/types.ts';
import type { ProbeOutput } from './classify.ts';
import { GENERIC_HINTS } from './hints.ts';
import { expectBroken, gradeLab, trim, type GradeProgress, type RetryPolicy } from './run.ts';
import type { Check } from './types.ts';

// gradeLab against fake labs that answer each probe command with a REAL recorded output
// (test/fixtures/grader/probe-outputs.json), so batching, retries and failure handling are tested
// with the same bytes a pod produces.

interface Fixture { name: string; from: string; check: Record<string, unknown>; commands: { script: string }[]; outputs: ProbeOutput[] }
const fixtures: Fixture[] = JSON.parse(readFileSync(new URL('../test/fixtures/grader/probe-outputs.json', import.meta.url), 'utf8')).cases;
const fx = (name: string) => fixtures.find((f) => f.name === name)!;

/** The timeouts the fixtures were captured with, and retries fast enough for tests. */
const POLICY: Partial<RetryPolicy> = { netTimeoutS: 2, transferTimeoutS: 3, stateTimeoutS: 5, intervalMs: 10, windowMs: 5000 };

let seq = 0;
function check(fixture: string, over: Partial<Check> & Record<string, unknown> = {}): Check {
  const f = fx(fixture);
  return { id: `${fixture}-${seq++}`, title: fixture, weight: 1, hints: {}, from: 'default/client', ...f.check, ...over } as unknown as Check;
}

/** The probe commands of a batch script, unquoted, in order. */
function batchCommands(script: string): { nonce: string; scripts: string[] } {
  const nonce = /^N=(\w+)$/m.exec(script)![1];
  const scripts = [...script.matchAll(/^p (\d+) (\d+) ('(?:[^']|'\\'')*') &$/gm)].map((m) => m[3].slice(1, -1).replaceAll(`'\\''`, `'`));
  return { nonce, scripts };
}

type Responder = (script: string, nth: number) => ProbeOutput;

/** Answers each probe from a responder (default: the fixture whose command it is). */
class ReplayLab implements Lab {
  readonly facts = { id: 'fake', scenario: 'fake-scenario', provider: 'netns' as const, seed: 0, nodes: [], pods: [], services: [], dns: { clusterIP: '10.96.0.10', domain: 'cluster.local' } };
  readonly calls: { target: string; scripts: string[] }[] = [];
  private readonly seen = new Map<string, number>();
  constructor(
    private readonly respond: Responder = (s) => byScript(s),
    private readonly shape: (stdout: string, nonce: string) => Partial<ExecResult> = () => ({}),
  ) {}
  async exec(target: string, argv: string[], _opts?: ExecOptions): Promise<ExecResult> {
    const { nonce, scripts } = batchCommands(argv[2]);
    this.calls.push({ target, scripts });
    const lines = scripts.map((s, i) => {
      const n = (this.seen.get(s) ?? 0) + 1;
      this.seen.set(s, n);
      const o = this.respond(s, n);
      return `@${nonce} ${JSON.stringify({ id: i, rc: o.rc, ms: o.ms, out: b64(o.out), err: b64(o.err) })}`;
    });
    const stdout = `${lines.join('\n')}\n@${nonce} {"sentinel":${scripts.length}}\n`;
    return { code: 0, stdout, stderr: '', timedOut: false, ms: 1, ...this.shape(stdout, nonce) };
  }
  shell() { return { file: 'true', args: [], env: {}, title: 'fake' }; }
  targets() { return ['default/client', 'default/client-worker']; }
  async destroy() {}
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
function byScript(script: string): ProbeOutput {
  for (const f of fixtures) {
    const i = f.commands.findIndex((c) => c.script === script);
    if (i >= 0) return f.outputs[i];
  }
  return { rc: 127, ms: 0, out: '', err: `no fixture for ${script}` };
}

describe('gradeLab', () => {
  it('runs one exec per source pod with all its probes, and reports pass', async () => {
    const lab = new ReplayLab();
    const checks = [
      check('dig-udp-pass'), check('tcp-pass'), check('http-pass'),
      check('ping-pass', { from: 'default/client-worker' }), check('negative-blocked-refused', { from: 'default/client-worker' }),
      check('state-pass', { weight: 3 }),
    ];
    const report = await gradeLab(lab, checks, { policy: POLICY, scenario: 'demo' });
    expect(lab.calls.map((c) => c.target).sort()).toEqual(['default/client', 'default/client-worker']);
    expect(lab.calls.find((c) => c.target === 'default/client')!.scripts).toHaveLength(4);
    expect(report).toMatchObject({ lab: 'fake', scenario: 'demo', verdict: 'pass', score: { earned: 8, possible: 8 } });
    expect(report.checks.map((c) => [c.state, c.attempts])).toEqual(checks.map(() => ['PASS', 1]));
    expect(report.checks.every((c) => c.hint === undefined)).toBe(true);
    expect(report.matrix.sources).toEqual(['default/client', 'default/client-worker']);
  });

  it('re-probes only what does not match yet, and stops as soon as it does', async () => {
    const dig = fx('dig-udp-pass').commands[0].script;
    // DNS comes back on the third attempt (a restarted server); everything else passes at once.
    const lab = new ReplayLab((s, n) => (s === dig && n < 3 ? fx('dig-udp-noreply').outputs[0] : byScript(s)));
    const report = await gradeLab(lab, [check('dig-udp-pass'), check('tcp-pass')], { policy: POLICY });
    expect(lab.calls.map((c) => c.scripts.length)).toEqual([2, 1, 1]);
    expect(lab.calls[1].scripts).toEqual([dig]);
    expect(report.checks.map((c) => [c.state, c.attempts])).toEqual([['PASS', 3], ['PASS', 1]]);
    expect(report.verdict).toBe('pass');
  });

  it('gives up after the retry window with the last failure, its evidence and hint', async () => {
    const lab = new ReplayLab();
    const own = check('tcp-timeout', { hints: { TIMEOUT: 'look at the FORWARD chain' } });
    const fallback = check('dig-nxdomain', { hints: { default: 'check the Service name' } });
    const generic = check('ping-timeout');
    const report = await gradeLab(lab, [own, fallback, generic], { policy: { ...POLICY, windowMs: 100, intervalMs: 20 } });
    const [a, b, c] = report.checks;
    expect(report.verdict).toBe('fail');
    expect(report.score).toEqual({ earned: 0, possible: 3 });
    expect(a).toMatchObject({ state: 'TIMEOUT', pass: false, hint: 'look at the FORWARD chain', expected: 'connected' });
    expect(b).toMatchObject({ state: 'DNS_NXDOMAIN', hint: 'check the Service name' });
    expect(c).toMatchObject({ state: 'TIMEOUT', hint: GENERIC_HINTS.TIMEOUT });
    expect(a.attempts).toBeGreaterThan(1);
    expect(a.evidence.command).toContain('/dev/tcp/');
    expect(a.evidence.output).toContain('[exit 124');
  });

  it('on a lab that says it has settled, a failure is final on its first attempt, unless the learner just typed', async () => {
    const settledLab = () => Object.assign(new ReplayLab(), { settled: async () => ({ quietMs: 60_000, unsettled: [] }) });
    const policy = { ...POLICY, windowMs: 200, intervalMs: 20 };
    const first = await gradeLab(settledLab(), [check('tcp-timeout'), check('tcp-refused')], { policy });
    expect(first.settled).toBe(true);
    expect(first.checks.map((c) => [c.state, c.attempts])).toEqual([['TIMEOUT', 1], ['REFUSED', 1]]);
    // Typed just now: what the learner typed may still be taking effect.
    const typed = await gradeLab(settledLab(), [check('tcp-timeout')], { policy, typedAt: Date.now() });
    expect(typed.settled).toBe(false);
    expect(typed.checks[0].attempts).toBeGreaterThan(1);
    // Something still in motion, or a lab that cannot tell (or fails to): the whole window.
    const moving = Object.assign(new ReplayLab(), { settled: async () => ({ quietMs: 60_000, unsettled: ['pod default/web-0: not Ready'] }) });
    const failing = Object.assign(new ReplayLab(), { settled: () => Promise.reject(new Error('cluster host restarting')) });
    for (const lab of [moving, failing, new ReplayLab()]) {
      const r = await gradeLab(lab, [check('tcp-timeout')], { policy });
      expect([r.settled, r.checks[0].attempts > 1]).toEqual([false, true]);
    }
  });

  it('a definite failure is final once confirmed, in batches of its own, before the converging ones', async () => {
    const lab = new ReplayLab();
    const refused = check('tcp-refused');
    const timeout = check('tcp-timeout');
    const finals: string[] = [];
    const report = await gradeLab(lab, [refused, timeout], {
      policy: { ...POLICY, windowMs: 1000, intervalMs: 250, confirmMs: 30, confirmIntervalMs: 10 },
      onProgress: (e) => { if (e.type === 'check') finals.push(e.result.id); },
    });
    expect(finals).toEqual([refused.id, timeout.id]);
    const [r, t] = report.checks;
    expect(r).toMatchObject({ state: 'REFUSED', pass: false });
    expect(r.attempts).toBeGreaterThan(1);
    expect(t).toMatchObject({ state: 'TIMEOUT', pass: false });
    expect(t.attempts).toBeGreaterThan(1);
    // After the first batch, the two cadences run apart: no batch holds both checks again.
    const [tcpRefused, tcpTimeout] = [fx('tcp-refused'), fx('tcp-timeout')].map((f) => f.commands[0].script);
    expect(lab.calls[0].scripts.sort()).toEqual([tcpRefused, tcpTimeout].sort());
    expect(lab.calls.slice(1).every((c) => c.scripts.length === 1)).toBe(true);
  });

  it('a definite failure that turns into a pass while it is being confirmed passes (a fix converging)', async () => {
    const tcp = fx('tcp-pass').commands[0].script;
    const lab = new ReplayLab((s, n) => (s === tcp && n === 1 ? fx('tcp-refused').outputs[0] : byScript(s)));
    const report = await gradeLab(lab, [check('tcp-pass')], { policy: { ...POLICY, confirmMs: 1000, confirmIntervalMs: 10 } });
    expect(report.checks[0]).toMatchObject({ state: 'PASS', attempts: 2 });
  });

  it('with expectBroken, a target check failing as intended is not retried', async () => {
    const lab = new ReplayLab();
    const report = await gradeLab(lab, [check('dig-udp-noreply', { broken: 'DNS_NOREPLY' })], { policy: POLICY, expect: expectBroken });
    expect(report.checks[0]).toMatchObject({ state: 'DNS_NOREPLY', attempts: 1, pass: false });
    expect(lab.calls).toHaveLength(1);
  });

  it('a run without its sentinel is ERROR for every probe, even if each probe looked fine', async () => {
    const lab = new ReplayLab(undefined, (stdout) => ({ stdout: stdout.split('\n').filter((l) => !l.includes('sentinel')).join('\n') }));
    const report = await gradeLab(lab, [check('tcp-pass'), check('http-pass')], { policy: { ...POLICY, windowMs: 0 } });
    expect(report.checks.map((c) => c.state)).toEqual(['ERROR', 'ERROR']);
    expect(report.checks[0].observed).toMatch(/sentinel/);
    expect(report.verdict).toBe('fail');
  });

  it('an exec that timed out is ERROR, never PASS', async () => {
    const lab = new ReplayLab(undefined, () => ({ timedOut: true, code: null }));
    const report = await gradeLab(lab, [check('tcp-pass')], { policy: { ...POLICY, windowMs: 0 } });
    expect(report.checks[0]).toMatchObject({ state: 'ERROR', pass: false });
    expect(report.checks[0].observed).toMatch(/did not finish/);
  });

  it('an exec that throws is ERROR for its checks; other sources still grade', async () => {
    const lab = new ReplayLab();
    const exec = lab.exec.bind(lab);
    lab.exec = (target, argv, opts) => (target === 'default/client-worker' ? Promise.reject(new Error('pod not found')) : exec(target, argv, opts));
    const report = await gradeLab(lab, [check('tcp-pass'), check('tcp-pass', { from: 'default/client-worker' })], { policy: { ...POLICY, windowMs: 0 } });
    expect(report.checks.map((c) => c.state)).toEqual(['PASS', 'ERROR']);
    expect(report.checks[1].observed).toContain('pod not found');
    expect(report.verdict).toBe('fail');
  });

  it('an exec that never returns is ERROR once the deadline passes', async () => {
    const lab = new ReplayLab();
    lab.exec = () => new Promise(() => {});
    const report = await gradeLab(lab, [check('state-pass')], { policy: { ...POLICY, stateTimeoutS: 0.1, execMarginMs: 0, windowMs: 0 } });
    expect(report.checks[0]).toMatchObject({ state: 'ERROR', pass: false, attempts: 1 });
    expect(report.checks[0].observed).toMatch(/no answer from the lab/);
  });

  it('a check that cannot be planned is ERROR and does not stop the others', async () => {
    const bogus = { id: 'bogus', title: 'bogus', weight: 1, hints: {}, from: 'default/client', kind: 'teleport' } as unknown as Check;
    const report = await gradeLab(new ReplayLab(), [bogus, check('tcp-pass')], { policy: POLICY });
    expect(report.checks.map((c) => c.state)).toEqual(['ERROR', 'PASS']);
  });

  it('a probe line missing from an otherwise complete run is ERROR for its check only', async () => {
    const tcp = fx('tcp-pass').commands[0].script;
    const lab = new ReplayLab(undefined, (stdout, nonce) => ({
      stdout: stdout.split('\n').filter((l) => !l.startsWith(`@${nonce} {"id":0,`)).join('\n'),
    }));
    const report = await gradeLab(lab, [check('tcp-pass'), check('http-pass')], { policy: { ...POLICY, windowMs: 0 } });
    expect(lab.calls[0].scripts[0]).toBe(tcp);
    expect(report.checks.map((c) => c.state)).toEqual(['ERROR', 'PASS']);
  });

  it('runs sources in parallel', { timeout: 15_000 }, async () => {
    // The first source's exec only returns once the second source's exec has started.
    let started!: () => void;
    const second = new Promise<void>((res) => { started = res; });
    const lab = new ReplayLab();
    const exec = lab.exec.bind(lab);
    lab.exec = async (target, argv, opts) => {
      if (target === 'default/client-worker') started();
      else await second;
      return exec(target, argv, opts);
    };
    const report = await gradeLab(lab, [check('tcp-pass'), check('tcp-pass', { from: 'default/client-worker' })], { policy: POLICY });
    expect(report.verdict).toBe('pass');
  });

  it('reports progress: attempts, and each check once when final', async () => {
    const events: GradeProgress[] = [];
    const checks = [check('tcp-pass'), check('tcp-refused')];
    await gradeLab(new ReplayLab(), checks, { policy: { ...POLICY, windowMs: 50, intervalMs: 10 }, onProgress: (e) => { events.push(e); throw new Error('listener bug'); } });
    const finals = events.filter((e) => e.type === 'check').map((e) => (e.type === 'check' ? e.result.id : ''));
    expect(finals.sort()).toEqual(checks.map((c) => c.id).sort());
    expect(events[0]).toMatchObject({ type: 'attempt', attempt: 1, checks: checks.map((c) => c.id) });
  });
});

describe('evidence trimming', () => {
  it('keeps the start and the end of long output, within the limit', () => {
    const long = `BEGIN${'x'.repeat(5000)}END`;
    const t = trim(long, 300);
    expect(t.startsWith('BEGIN')).toBe(true);
    expect(t.endsWith('END')).toBe(true);
    expect(t.length).toBeLessThanOrEqual(340);
    expect(trim('short', 300)).toBe('short');
  });
});
