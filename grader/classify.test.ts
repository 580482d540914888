import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { classifyDig, classifyHttp, classifyNegative, parseCurl, parseDig, worstState, type ProbeOutput } from './classify.ts';
import { planCheck, type ProbeCommand, type ProbeTimeouts } from './probes.ts';
import { STATES, type Check, type State } from './types.ts';

// Real outputs of the probe commands (captured by test/fixtures/grader/capture.ts in throwaway
// namespaces), each labelled with the state the network situation calls for.
interface Fixture {
  name: string;
  why: string;
  from: string;
  want: State;
  timeouts: ProbeTimeouts;
  check: Record<string, unknown>;
  commands: ProbeCommand[];
  outputs: ProbeOutput[];
}
const fixtures: Fixture[] = JSON.parse(readFileSync(new URL('../test/fixtures/grader/probe-outputs.json', import.meta.url), 'utf8')).cases;
const asCheck = (f: Fixture) => ({ id: f.name, title: f.name, weight: 1, hints: {}, from: f.from, ...f.check }) as unknown as Check;
const byName = (name: string) => {
  const f = fixtures.find((x) => x.name === name);
  if (!f) throw new Error(`no fixture ${name}`);
  return f;
};

describe('classification of real probe outputs', () => {
  it.each(fixtures.map((f) => [f.name, f] as const))('%s', (_name, f) => {
    const plan = planCheck(asCheck(f), f.timeouts);
    // The fixture must still be the output of the command the grader builds today.
    expect(plan.commands).toEqual(f.commands);
    const got = plan.classify(f.outputs);
    expect(got.state, `${f.why}; observed: ${got.observed}`).toBe(f.want);
    expect(got.observed.length).toBeGreaterThan(0);
  });

  it('has a fixture for every state', () => {
    const covered = new Set(fixtures.map((f) => f.want));
    expect(STATES.filter((s) => !covered.has(s))).toEqual([]);
  });
});

describe('dig parsing', () => {
  it('reads status and A records of the answer', () => {
    const a = parseDig(byName('dig-udp-pass').outputs[0].out);
    expect(a).toEqual({ status: 'NOERROR', addresses: ['10.96.124.51'], other: [] });
  });

  it('uses the last response when several are printed', () => {
    const nx = byName('dig-nxdomain').outputs[0].out;
    const ok = byName('dig-udp-pass').outputs[0].out;
    expect(parseDig(`${nx}\n${ok}`).status).toBe('NOERROR');
    expect(parseDig(`${ok}\n${nx}`).status).toBe('NXDOMAIN');
  });

  it('requires the exact address set, in any order', () => {
    const p = byName('dig-udp-pass').outputs[0];
    expect(classifyDig(p, '10.96.124.51').state).toBe('PASS');
    expect(classifyDig(p, '10.96.124.51,10.96.0.1').state).toBe('WRONG_ANSWER');
    expect(classifyDig(p, '10.96.124.5').state).toBe('WRONG_ANSWER');
  });

  it('is an ERROR, not a pass, when dig printed no response and no known failure', () => {
    expect(classifyDig({ rc: 10, ms: 1, out: 'dig: internal error\n', err: '' }, '10.96.124.51').state).toBe('ERROR');
    expect(classifyDig({ rc: 0, ms: 1, out: '', err: '' }, '10.96.124.51').state).toBe('ERROR');
  });

  it('a probe killed by its timeout is no reply', () => {
    expect(classifyDig({ rc: 124, ms: 4000, out: '', err: '' }, '10.96.124.51').state).toBe('DNS_NOREPLY');
  });
});

describe('negative checks', () => {
  it('a drop is told by the SYN left unanswered, as the probe saw it in the kernel\'s socket state; a refusal and a connect as before', () => {
    expect(classifyNegative(byName('negative-blocked-timeout').outputs[0])).toMatchObject({ state: 'PASS', observed: expect.stringMatching(/^blocked \(no answer to SYN in \d+ ms\)$/), cause: 'blocked' });
    expect(classifyNegative(byName('negative-blocked-refused').outputs[0])).toMatchObject({ state: 'PASS', observed: 'blocked (connection refused)' });
    expect(classifyNegative(byName('negative-allowed').outputs[0])).toMatchObject({ state: 'UNEXPECTED_ALLOW', cause: 'connected' });
  });

  it('a name that does not resolve proves nothing about the path: not a pass', () => {
    expect(classifyNegative(byName('tcp-name-fails').outputs[0]).state).toBe('DNS_NOREPLY');
  });
});

describe('http aggregation over several requests', () => {
  const pass0 = byName('http-pass').outputs[0];
  const timeout = byName('http-timeout').outputs[0];
  const wrong = byName('http-wrong-identity').outputs[0];

  it('passes when every listed backend answered', () => {
    const web1 = { ...pass0, out: pass0.out.replace('web-0', 'web-1') };
    expect(classifyHttp([pass0, web1, pass0], ['web-0', 'web-1'])).toMatchObject({ state: 'PASS', observed: 'web-0 x2, web-1' });
  });

  it('is PARTIAL when some requests fail', () => {
    expect(classifyHttp([pass0, timeout], ['web-0']).state).toBe('PARTIAL');
  });

  it('takes the failure when every request fails', () => {
    expect(classifyHttp([timeout, timeout], ['web-0']).state).toBe('TIMEOUT');
  });

  it('a wrong identity anywhere is WRONG_ANSWER, even among passes', () => {
    expect(classifyHttp([pass0, wrong], ['web-1']).state).toBe('WRONG_ANSWER');
  });

  it('no request at all is an ERROR', () => {
    expect(classifyHttp([], ['web-0']).state).toBe('ERROR');
  });

  it('reads the body and the -w line apart', () => {
    expect(parseCurl(pass0.out)).toEqual({ body: 'web-0', httpCode: 200, sizes: [] });
    expect(parseCurl(byName('mtu-partial-download').outputs[0].out).sizes[0]).toBeGreaterThan(0);
  });
});

describe('ordering', () => {
  it('worst state wins, and nothing is ERROR (never a vacuous pass)', () => {
    expect(worstState(['PASS', 'PARTIAL', 'TIMEOUT'])).toBe('TIMEOUT');
    expect(worstState(['PASS', 'PASS'])).toBe('PASS');
    expect(worstState([])).toBe('ERROR');
  });
});
