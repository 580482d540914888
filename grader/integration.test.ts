import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCheck } from './probes.ts';
import { DEFAULT_RETRY_POLICY, expectBroken, gradeLab, probeTimeouts, type RetryPolicy } from './run.ts';
import { NetnsTestLab, netnsUnavailable } from './testlab.ts';
import type { Check } from './types.ts';

// The grader end to end against real kernel namespaces, real dnsmasq, the real web backend and the
// pod's own dig/curl/ping (see testlab.ts for the little network). Needs root and the tools.
const unavailable = netnsUnavailable();
if (unavailable) console.warn(`grader/integration.test.ts skipped: ${unavailable}`);

const POLICY: Partial<RetryPolicy> = { windowMs: 3000, intervalMs: 200, transferTimeoutS: 3 };
const C = 'default/client';

let n = 0;
const check = (c: Record<string, unknown>): Check => ({ id: `c${n++}`, title: String(c.kind), weight: 1, hints: {}, from: C, ...c }) as unknown as Check;

const dnsUdp = check({ kind: 'dns', name: 'web.default.svc.cluster.local', proto: 'udp', server: '10.250.0.2', expect: '10.96.124.51', broken: 'DNS_NOREPLY' });
const dnsTcp = check({ kind: 'dns', name: 'web.default.svc.cluster.local', proto: 'tcp', server: '10.250.0.2', expect: '10.96.124.51', broken: 'DNS_NOREPLY' });
const dnsShort = check({ kind: 'dns', name: 'web', proto: 'udp', expect: '10.96.124.51', broken: 'DNS_NOREPLY' });
const healthy: Check[] = [
  dnsUdp, dnsTcp, dnsShort,
  check({ kind: 'http', url: 'http://10.250.0.2:8080', backends: ['web-0'], requests: 2 }),
  check({ kind: 'tcp', host: '10.250.0.2', port: 8080 }),
  check({ kind: 'icmp', host: '10.250.0.2' }),
  check({ kind: 'mtu', url: 'http://10.250.0.2:8080', bytes: 1048576, direction: 'both', dfPing: { host: '10.250.0.2', size: 1472 } }),
  check({ kind: 'negative', host: '10.250.0.2', port: 9090 }),
  check({ kind: 'state', run: 'ip -o addr show dev eth0 | grep -q 10.250.0.1/24' }),
];
const dropDns = (op: '-I' | '-D') => ['udp', 'tcp'].map((p) => ['iptables', op, 'OUTPUT', '-p', p, '--dport', '53', '-j', 'DROP']);

describe.skipIf(unavailable !== undefined)(`grader against real namespaces${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let lab: NetnsTestLab;
  beforeAll(async () => {
    lab = await NetnsTestLab.create();
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  it('grades a healthy network as pass, one exec per attempt for the source', async () => {
    lab.calls.length = 0;
    const report = await gradeLab(lab, healthy, { policy: POLICY });
    const failed = report.checks.filter((c) => !c.pass).map((c) => `${c.id} ${c.kind} ${c.state}: ${c.observed}\n${c.evidence.output}`);
    expect(failed).toEqual([]);
    expect(report.verdict).toBe('pass');
    expect(report.score).toEqual({ earned: healthy.length, possible: healthy.length });
    // Usually one attempt; a probe that needed a retry adds one exec per attempt, never more.
    expect(lab.calls).toHaveLength(Math.max(...report.checks.map((c) => c.attempts)));
    expect(lab.calls[0].argv.slice(0, 2)).toEqual(['bash', '-c']);
    expect(report.checks.find((c) => c.kind === 'mtu')!.evidence.output).toContain('1472(1500) bytes of data');
    expect(report.matrix.cells[C]['10.250.0.2']).toMatchObject({ state: 'PASS', pass: true });
  });

  it('sees DNS egress dropped in the pod as DNS_NOREPLY, and passes again once fixed', async () => {
    for (const argv of dropDns('-I')) lab.run('client', argv);
    let fixed = false;
    try {
      const broken = await gradeLab(lab, [dnsUdp, dnsTcp, dnsShort], { policy: POLICY, expect: expectBroken });
      expect(broken.checks.map((c) => c.state)).toEqual(['DNS_NOREPLY', 'DNS_NOREPLY', 'DNS_NOREPLY']);
      // Failing as the scenario intends: no retries.
      expect(broken.checks.map((c) => c.attempts)).toEqual([1, 1, 1]);
      expect(broken.verdict).toBe('fail');
      expect(broken.checks[0].hint).toMatch(/port 53/);
      // Expecting PASS, silence may be a network still converging: probed for the whole window,
      // unless the lab has settled, where the first answer is the network's.
      const waited = await gradeLab(lab, [dnsUdp], { policy: POLICY, settled: false });
      expect(waited.checks[0]).toMatchObject({ state: 'DNS_NOREPLY' });
      expect(waited.checks[0].attempts).toBeGreaterThan(1);
      expect(waited.settled).toBe(false);
      const settled = await gradeLab(lab, [dnsUdp], { policy: POLICY, settled: true });
      expect(settled.checks[0]).toMatchObject({ state: 'DNS_NOREPLY', attempts: 1 });
      expect(settled.ms).toBeLessThan(waited.ms);
      expect(settled.settled).toBe(true);
      for (const argv of dropDns('-D')) lab.run('client', argv);
      fixed = true;
      const after = await gradeLab(lab, [dnsUdp, dnsTcp, dnsShort], { policy: POLICY });
      expect(after.checks.map((c) => c.state)).toEqual(['PASS', 'PASS', 'PASS']);
    } finally {
      if (!fixed) for (const argv of dropDns('-D')) lab.run('client', argv);
    }
  });

  it('a resolver that never answers fails short names from that pod only', async () => {
    const bad = { ...dnsShort, id: 'bad-resolver', from: 'default/client-baddns' } as Check;
    const report = await gradeLab(lab, [dnsShort, bad], { policy: { ...POLICY, windowMs: 0 } });
    expect(report.checks.map((c) => c.state)).toEqual(['PASS', 'DNS_NOREPLY']);
    expect(report.matrix.sources).toEqual([C, 'default/client-baddns']);
  });

  it('an MTU mismatch on the path stalls the large transfer; small ones pass', async () => {
    const big = check({ kind: 'mtu', url: 'http://10.250.0.5:8080', bytes: 1048576, direction: 'both', dfPing: { host: '10.250.0.5', size: 1472 } });
    const small = check({ kind: 'mtu', url: 'http://10.250.0.5:8080', bytes: 1000, direction: 'both' });
    const report = await gradeLab(lab, [big, small], { policy: { ...POLICY, windowMs: 0 } });
    expect(['TIMEOUT', 'PARTIAL']).toContain(report.checks[0].state);
    expect(report.checks[1].state).toBe('PASS');
  });

  it('judges a connection that must stay blocked by its unanswered SYN, not its timeout; one that gets through is caught', async () => {
    const dropped = check({ kind: 'negative', host: '10.250.0.2', port: 9099 });
    const open = check({ kind: 'negative', host: '10.250.0.2', port: 8080 });
    const drop = (op: '-I' | '-D') => lab.run('server', ['iptables', op, 'INPUT', '-p', 'tcp', '--dport', '9099', '-j', 'DROP']);
    drop('-I');
    try {
      const report = await gradeLab(lab, [dropped, open], { policy: { ...POLICY, windowMs: 0 } });
      expect(report.checks[0]).toMatchObject({ state: 'PASS', observed: expect.stringMatching(/^blocked \(no answer to SYN in \d+ ms\)$/) });
      // The evidence is the test as a learner would type it.
      expect(report.checks[0].evidence).toMatchObject({ command: "timeout 2 bash -c 'exec 3<>/dev/tcp/10.250.0.2/9099'", output: expect.stringContaining('SYN unanswered for') });
      expect(report.checks[1]).toMatchObject({ state: 'UNEXPECTED_ALLOW', pass: false });
      // A shell that already holds a descriptor 3 (an exec's stream can): the probe follows the
      // connect's own socket, not the inherited one.
      const [probe] = planCheck(dropped, probeTimeouts({ ...DEFAULT_RETRY_POLICY, ...POLICY })).commands;
      const r = await lab.exec(C, ['timeout', '2', 'bash', '-c', `exec 3</dev/null\n${probe.script}`]);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 124, stderr: expect.stringMatching(/^SYN unanswered for \d+ ms\n$/) });
    } finally {
      drop('-D');
    }
  });

  it('leaves no namespace behind', async () => {
    const names = Object.values(lab.ns);
    await lab.destroy();
    const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    expect(names.filter((ns) => list.split('\n').some((l) => l.split(' ')[0] === ns))).toEqual([]);
  });
});
