import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ProbeOutput } from './classify.ts';
import { planCheck, type ProbeTimeouts } from './probes.ts';
import { CAUSES, finalityOf, hasSettled, isFinal, type Finality, type Seen } from './settle.ts';
import type { Check, State } from './types.ts';

// Which failures are the network's final word: judged on the real tools' outputs
// (test/fixtures/grader/probe-outputs.json), each labelled here by hand from what the network did.

interface Fixture { name: string; from: string; want: State; timeouts: ProbeTimeouts; check: Record<string, unknown>; outputs: ProbeOutput[] }
const fixtures: Fixture[] = JSON.parse(readFileSync(new URL('../test/fixtures/grader/probe-outputs.json', import.meta.url), 'utf8')).cases;

/** Every failing fixture: is that failure definite on the first attempt, or maybe a network converging? */
const FINALITY: Record<string, Finality> = {
  'dig-wrong-answer': 'converging', // another address: endpoints may still be updating
  'dig-nodata': 'converging', // no A record yet: a headless Service's pods not ready yet
  'dig-nxdomain': 'definite', // the authoritative server says the name does not exist
  'dig-search-nxdomain': 'definite',
  'dig-servfail': 'converging', // what CoreDNS answers while it cannot serve (restart, upstream)
  'dig-refused-rcode': 'definite',
  'dig-udp-noreply': 'converging',
  'dig-tcp-noreply': 'converging',
  'dig-search-noreply': 'converging',
  'dig-udp-refused': 'definite', // ICMP port unreachable: nothing listens
  'dig-tcp-refused': 'definite', // RST
  'dig-unreachable': 'definite', // the route says no, at once
  'tcp-refused': 'definite',
  'tcp-timeout': 'converging',
  'tcp-icmp-host-unreachable': 'definite', // REJECT: after TCP's first SYN retransmission (~1 s)
  'tcp-unreachable-route': 'definite',
  'tcp-no-route': 'definite',
  'tcp-name-fails': 'converging', // getaddrinfo cannot say whether anyone answered
  'negative-allowed': 'definite', // the handshake completed
  'http-wrong-identity': 'converging', // another pod answered: the endpoint set may be changing
  'http-404': 'definite', // the server's own answer
  'http-partial-backends': 'sampled', // a sample of kube-proxy's random choice: another may see every backend
  'http-refused': 'definite',
  'http-timeout': 'converging',
  'http-icmp-unreachable': 'definite',
  'http-no-route': 'definite',
  'http-resolve-nxdomain': 'converging',
  'http-resolve-noreply': 'converging',
  'ping-timeout': 'converging',
  'ping-icmp-net-unreachable': 'definite',
  'ping-unreachable-route': 'definite',
  'ping-no-route': 'definite',
  'ping-no-neighbor': 'converging', // ARP gets no answer: the next hop may be coming up
  'mtu-partial-download': 'converging',
  'mtu-blackhole': 'converging',
  'state-fail': 'definite', // the guard's exit status
  'tool-missing': 'definite', // no retry brings a tool into the image
};

const asCheck = (f: Fixture) => ({ id: f.name, title: f.name, weight: 1, hints: {}, from: f.from, ...f.check }) as unknown as Check;
const failing = fixtures.filter((f) => f.want !== 'PASS');

describe('finality of real failures', () => {
  it.each(failing.map((f) => [f.name, f] as const))('%s', (name, f) => {
    const c = planCheck(asCheck(f), f.timeouts).classify(f.outputs);
    expect(FINALITY[name], `no finality written down for the fixture ${name}`).toBeDefined();
    expect(finalityOf(c.cause), `${name}: ${c.state} (${c.cause}): ${CAUSES[c.cause].why}`).toBe(FINALITY[name]);
  });

  it('every row says why', () => {
    for (const [cause, row] of Object.entries(CAUSES)) expect(row.why.length, cause).toBeGreaterThan(20);
  });

  it('an unreachable that comes back late is the kernel giving up on ARP, not the network\'s answer', () => {
    const f = fixtures.find((x) => x.name === 'ping-icmp-net-unreachable')!;
    const late = planCheck(asCheck(f), f.timeouts).classify([{ ...f.outputs[0], ms: 3050 }]);
    expect(late).toMatchObject({ state: 'UNREACHABLE', cause: 'unreachable-late' });
    expect(finalityOf(late.cause)).toBe('converging');
  });
});

describe('isFinal', () => {
  const refused = (at: number): Seen => ({ state: 'REFUSED', cause: 'refused', at });
  const timeout = (at: number): Seen => ({ state: 'TIMEOUT', cause: 'timeout', at });
  const pass = (at: number): Seen => ({ state: 'PASS', cause: 'ok', at });
  const PASS: State[] = ['PASS'];

  it('an expected state is final at once', () => {
    expect(isFinal([pass(0)], PASS, 1500)).toBe(true);
    expect(isFinal([timeout(0)], ['TIMEOUT'], 1500)).toBe(true);
  });

  it('a definite failure is final once it held for the confirmation time, never on one attempt', () => {
    expect(isFinal([refused(0)], PASS, 0)).toBe(false);
    expect(isFinal([refused(0), refused(500)], PASS, 1500)).toBe(false);
    expect(isFinal([refused(0), refused(500), refused(1000), refused(1500)], PASS, 1500)).toBe(true);
  });

  it('the confirmation starts again when what is seen changes', () => {
    const nx: Seen = { state: 'DNS_NXDOMAIN', cause: 'nxdomain', at: 1000 };
    expect(isFinal([refused(0), refused(500), nx, { ...nx, at: 1500 }], PASS, 1500)).toBe(false);
    expect(isFinal([refused(0), refused(500), nx, { ...nx, at: 2500 }], PASS, 1500)).toBe(true);
  });

  it('a converging failure is never final before the window (the caller\'s) ends', () => {
    expect(isFinal([timeout(0), timeout(2000), timeout(4000), timeout(6000)], PASS, 1500)).toBe(false);
    // A definite failure that turns into silence is converging from then on.
    expect(isFinal([refused(0), refused(500), timeout(1000), timeout(3100)], PASS, 1500)).toBe(false);
  });

  it('a pass where a failure is expected (verify right after a break) waits for the window', () => {
    expect(isFinal([pass(0), pass(500), pass(1000), pass(5000)], ['TIMEOUT'], 1500)).toBe(false);
  });

  it('on a settled lab the first answer is final, definite or converging, but not an inconclusive one', () => {
    expect(isFinal([timeout(0)], PASS, 1500, true)).toBe(true);
    expect(isFinal([refused(0)], PASS, 1500, true)).toBe(true);
    expect(isFinal([pass(0)], ['TIMEOUT'], 1500, true)).toBe(true);
    for (const cause of ['grader-error', 'unrecognized'] as const) {
      expect(isFinal([{ state: 'ERROR', cause, at: 0 }, { state: 'ERROR', cause, at: 5000 }], PASS, 1500, true), cause).toBe(false);
    }
  });

  it('a sample (a backend missed) is final on a settled lab once two attempts in a row drew it, and converging elsewhere', () => {
    const missed = (at: number): Seen => ({ state: 'PARTIAL', cause: 'backend-missing', at });
    expect(isFinal([missed(0)], PASS, 1500, true)).toBe(false);
    expect(isFinal([missed(0), missed(500)], PASS, 1500, true)).toBe(true);
    expect(isFinal([{ state: 'PARTIAL', cause: 'some-failed', at: 0 }, missed(500)], PASS, 1500, true)).toBe(false);
    expect(isFinal([missed(0), missed(500), missed(1000), missed(5000)], PASS, 1500, false)).toBe(false);
  });
});

describe('hasSettled', () => {
  it('takes a whole window of quiet with nothing in motion; a lab that cannot tell has not settled', () => {
    expect(hasSettled({ quietMs: 8000, unsettled: [] }, 8000)).toBe(true);
    expect(hasSettled({ quietMs: 7999, unsettled: [] }, 8000)).toBe(false);
    expect(hasSettled({ quietMs: 60_000, unsettled: ['pod default/web-1: not Ready'] }, 8000)).toBe(false);
    expect(hasSettled(undefined, 8000)).toBe(false);
  });
});
