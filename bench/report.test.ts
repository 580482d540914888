import { describe, expect, it } from 'vitest';
import { formatMarkdown, formatText, headlines, markdownTable, notRun, tables } from './report.ts';
import type { Summary } from './stats.ts';
import type { BenchResult } from './types.ts';

const s = (median: number, p95 = median * 1.5, n = 20): Summary => ({ n, median, p95, min: median / 2, max: p95, mean: median });

function doc(over: Partial<BenchResult> = {}): BenchResult {
  return {
    version: 1, quick: false, command: 'netdojo bench', startedAt: '2026-11-22T08:00:00.000Z', totalMs: 312_000,
    machine: {
      cpu: 'AMD EPYC 7B13', cores: 2, memoryBytes: 24 * 1024 ** 3, kernel: '6.1.0', os: 'Debian GNU/Linux 12 (bookworm)',
      node: 'v20.20.2', user: 'root', commit: 'abc123', load: { start: [0.5, 0.25, 0.1], end: [1.5, 1, 0.5] },
      tools: { iproute2: 'ip utility, iproute2-6.1.0', chromium: 'not found' },
    },
    lifecycle: {
      status: 'ok',
      data: {
        runs: 20, up: s(250, 330), down: s(13, 15), coldUpMs: 281, teardownErrors: [],
        scenarios: [{
          scenario: 'coredns-down', runs: 5, checks: 9, create: s(260, 300, 5), break: s(870, 900, 5), gradeHealthy: s(880, 950, 5),
          gradeBroken: s(8820, 9000, 5), gradeBrokenDefault: s(9630, 9700, 2), retriedWhenBroken: ['http-by-name@client-worker'],
          notes: ['seed 3: healthy lab graded fail (dns@client-worker TIMEOUT)'],
        }],
      },
    },
    scale: {
      status: 'ok',
      data: {
        concurrency: 4, planned: [1, 5, 10, 25, 50], teardownMs: 900, teardownErrors: ['destroying lab l2: EBUSY'], pssTargetBytes: 30 * 1024 ** 2,
        stop: { reason: 'time cap: 240 s would be passed', atLabs: 50 },
        levels: [{
          labs: 25, added: 15, wallMs: 7160, createEach: s(1840, 2270, 15), gradeMs: 363, gradeVerdict: 'pass', memAvailable: 20 * 1024 ** 3, slab: 300 * 1024 ** 2,
          perLab: { processes: 7, rss: 51.3 * 1024 ** 2, pss: 19.1 * 1024 ** 2, memAvailableDrop: 24.7 * 1024 ** 2, slabGrowth: 3.7 * 1024 ** 2 },
          clusterHost: { rss: 400 * 1024 ** 2, pss: 380 * 1024 ** 2 },
        }],
      },
    },
    terminal: { status: 'skipped', reason: 'terminal bench: server/http not available yet' },
    containers: {
      status: 'ok',
      data: {
        runs: 10, image: { ref: 'netdojo/probe:bench-1', built: true, buildMs: 7300 },
        daemon: { version: '20.10.24', startedByBench: true, command: 'dockerd --host unix:///var/run/docker.sock' },
        dockerUp: s(1000, 1700, 10), dockerDown: s(400, 520, 10), dockerExec: s(116, 166, 30),
        netnsUp: s(250, 330, 10), netnsDown: s(20, 118, 10), netnsExec: s(29, 52, 30), teardownErrors: [],
      },
    },
    probes: { status: 'failed', error: 'the healthy dns-egress-dropped lab was graded fail: dns TIMEOUT' },
    netpol: {
      status: 'ok',
      data: {
        targets: { enforcedP95Ms: 1000, costRatio: 1.1 }, applied: s(120, 300, 10), deleted: s(110, 250, 10),
        none: s(0.4, 0.6, 400), withPolicies: s(0.42, 0.7, 400), policies: 100, pods: 50,
        client: 'default/client-worker', server: 'default/web-6d94484b4b-d5fnx', attemptS: 0.2, teardownErrors: [],
      },
    },
    outside: {
      status: 'ok',
      data: {
        requests: 200, nodePort: s(1.2, 2, 200), loadBalancer: s(1.1, 1.8, 200), ingress: s(2.4, 4, 200), clusterIPFromPod: s(0.9, 1.4, 200),
        readyBare: s(1000, 1200, 5), readyWithIngress: s(1800, 2000, 5), client: 'default/client-control-plane', teardownErrors: [],
      },
    },
    kube: {
      status: 'ok',
      data: {
        targets: { readyMs: 300, kubectlMs: 150, dataPlaneMs: 500 },
        firstReady: { ms: 4100, startedClusterHost: true, phases: { 'Starting the cluster: API server and controllers': 900 } },
        ready: s(280, 350), readyWarm: { ready: s(40, 60), fromPool: 19, pool: 2 }, readyPhases: { 'Waiting for every pod to be Ready': s(200, 260), 'Building the world outside: the host, a laptop, the internet': s(30, 45) },
        kubectlExec: s(160, 210, 30), kubectlProcess: s(120, 150, 30),
        dataPlaneClient: 'default/client-control-plane',
        dataPlaneDown: { fromCommand: s(300, 420, 10), afterReturn: s(90, 120, 10) },
        dataPlaneUp: { fromCommand: s(1400, 1900, 10), afterReturn: s(1200, 1700, 10) },
        dataPlaneUnselect: { fromCommand: s(250, 400, 10), afterReturn: s(150, 300, 10) },
        dataPlaneReselect: { fromCommand: s(600, 700, 10), afterReturn: s(500, 600, 10) },
        teardownErrors: ["ENOTEMPTY: directory not empty, rmdir '/tmp/x/labs/l1'"],
      },
    },
    limits: {
      status: 'ok',
      data: {
        runs: 10, mode: 'cgroup v1', enforcement: 'labs are limited by cgroup v1 (pids, memory, cpu): 1024 tasks, 1 GiB of memory, 1 CPU each',
        limited: { up: s(1100, 1300, 10), down: s(180, 250, 10), pss: s(21 * 1024 ** 2, 22 * 1024 ** 2, 10) },
        unlimited: { up: s(1050, 1250, 10), down: s(70, 90, 10), pss: s(21 * 1024 ** 2, 22 * 1024 ** 2, 10) },
        charged: s(30 * 1024 ** 2, 32 * 1024 ** 2, 10), teardownErrors: [],
      },
    },
    check: {
      status: 'ok',
      data: {
        runs: 2, targets: { brokenP95Ms: 4000, fixedP95Ms: 500 }, teardownErrors: [],
        broken: s(2100, 8600, 4), brokenSettled: s(2000, 3900, 4), brokenWindowOnly: s(8900, 9400, 2), firstShown: s(300, 420, 4), fixed: s(240, 610, 4), execFloor: s(60, 90, 4),
        scenarios: [
          { scenario: 'coredns-down', broken: s(1900, 2000, 2), brokenSettled: s(1800, 1900, 2), brokenWindowOnly: s(9100, 9100, 1), firstShown: s(250, 260, 2), fixed: s(230, 250, 2), lastFinal: 'dns-udp@client-worker REFUSED', samples: { broken: [1800, 2000], brokenSettled: [1800, 1900], brokenWindowOnly: [9100], firstShown: [240, 260], fixed: [210, 250], execFloor: [60, 61] } },
          { scenario: 'missing-route', broken: s(8500, 8600, 2), brokenSettled: s(8400, 8500, 2), unsettled: ['pod default/web-0: not Ready'], brokenWindowOnly: s(8700, 8700, 1), firstShown: s(350, 420, 2), fixed: s(300, 610, 2), notes: ['seed 2: the fixed lab was graded fail (cross-node TIMEOUT)'], samples: { broken: [8400, 8600], brokenSettled: [8400, 8500], brokenWindowOnly: [8700], firstShown: [300, 420], fixed: [290, 610], execFloor: [60, 90] } },
        ],
      },
    },
    userns: {
      status: 'ok',
      data: {
        runs: 10,
        userns: { up: s(1150, 1350, 10), down: s(190, 260, 10), pss: s(21 * 1024 ** 2, 22 * 1024 ** 2, 10) },
        hostRoot: { up: s(1100, 1300, 10), down: s(180, 250, 10), pss: s(21 * 1024 ** 2, 22 * 1024 ** 2, 10) },
        teardownErrors: [],
      },
    },
    exam: { status: 'ok', data: { exam: 'full', tasks: 30, runs: 3, ready: s(41_000, 47_000, 3), failed: [], teardownErrors: [] } },
    cleanup: [],
    ...over,
  };
}

describe('check latency', () => {
  it('headlines give p50 and p95 against the targets, the rule before, and the exec floor', () => {
    const h = headlines(doc());
    expect(h).toContain('Check on a broken lab left alone for a retry window (settled): p50 2.00 s, p95 3.90 s (n=4, 2 scenarios); target p95 ≤ 4.00 s: met; right after the break p50 2.10 s, p95 8.60 s; before definite failures (every failure held for the whole window) p50 8.90 s, p95 9.40 s; the first check shown after p50 300 ms, p95 420 ms');
    expect(h).toContain('Check on a fixed lab: p50 240 ms, p95 610 ms (n=4, 2 scenarios); target p95 ≤ 500 ms: not met; lab.exec of `true` alone p50 60.0 ms, p95 90.0 ms');
  });

  it('has a row per scenario with what the broken lab waited for, and lists unexpected results', () => {
    const t = tables(doc()).find((x) => x.title.startsWith('9.'))!;
    expect(t.rows[0]).toEqual(['coredns-down', '1.90 s (2.00 s)', '1.80 s (1.90 s)', '9.10 s (9.10 s)', '250 ms (260 ms)', '230 ms (250 ms)', 'dns-udp@client-worker REFUSED', '']);
    expect(t.rows[1].at(-1)).toBe('pod default/web-0: not Ready');
    expect(formatMarkdown(doc())).toContain('- missing-route: seed 2: the fixed lab was graded fail (cross-node TIMEOUT)');
  });
});

describe('headlines', () => {
  it('puts the side-by-side ratios in words, with the medians behind them', () => {
    const h = headlines(doc());
    expect(h).toContain('netns lab up is 4.0× faster than the 2-node Docker topology (250 ms vs 1.00 s median)');
    expect(h).toContain('netns exec is 4.0× faster than docker exec (29.0 ms vs 116 ms median)');
    expect(h).toContain('netns teardown is 20× faster than Docker teardown (20.0 ms vs 400 ms median)');
    expect(h[0]).toBe('netns lab up 250 ms median, 330 ms p95 (n=20); down 13.0 ms median, 15.0 ms p95');
    expect(h).toContain('25 labs alive at once: 19.1 MiB PSS per lab in 7 processes (24.7 MiB less MemAvailable per lab), one lab graded in 363 ms; time cap: 240 s would be passed');
  });

  it('leaves out what did not run instead of printing zeros', () => {
    const h = headlines(doc());
    expect(h.some((l) => /terminal|batched/.test(l))).toBe(false);
  });
});

describe('limits', () => {
  it('puts what limits cost in one line, with the memory the kernel charges a lab, and a table of both sides', () => {
    expect(headlines(doc())).toContain('what lab limits (cgroup v1) cost a lab: up p50 1.10 s vs 1.05 s without (+50.0 ms), down 180 ms vs 70.0 ms (+110 ms), PSS per lab 21.0 MiB vs 21.0 MiB (n=10 each); the kernel charges a lab\'s cgroup 30.0 MiB once it is up');
    const t = tables(doc()).find((x) => x.title.startsWith('8.'))!;
    expect(t.rows.map((r) => r[0])).toEqual(['up, with limits', 'up, without', 'down, with limits', 'down, without', 'PSS per lab, with limits', 'PSS per lab, without', 'charged to the lab\'s cgroup']);
    expect(t.rows[6][2]).toBe('30.0 MiB');
  });
});

describe('userns', () => {
  it('puts what a lab\'s user namespace costs as root in one line, and a table of both sides', () => {
    expect(headlines(doc())).toContain('what a lab\'s user namespace costs as root: up p50 1.15 s vs 1.10 s as host root (+50.0 ms), down 190 ms vs 180 ms (+10.0 ms) (n=10 each)');
    const t = tables(doc()).find((x) => x.title.startsWith('10.'))!;
    expect(t.rows.map((r) => r[0])).toEqual(['up, user namespace', 'up, host root', 'down, user namespace', 'down, host root', 'PSS per lab, user namespace', 'PSS per lab, host root']);
  });
});

describe('exam start', () => {
  it('puts the exam\'s start in one line and a table, and names task labs that failed to start', () => {
    expect(headlines(doc())).toContain('an exam\'s start (full: 30 task labs at once): every lab ready p50 41.00 s, p95 47.00 s (n=3)');
    expect(tables(doc()).find((x) => x.title.startsWith('11.'))!.rows).toEqual([['every task lab ready', '3', '41.00 s', '47.00 s', '20.50 s', '47.00 s']]);
    const failed = doc({ exam: { status: 'ok', data: { exam: 'full', tasks: 30, runs: 1, ready: s(41_000, 41_000, 1), failed: ['run 1, task 7 (mtu-blackhole): no space'], teardownErrors: [] } } });
    expect(headlines(failed).find((l) => l.startsWith('an exam'))).toMatch(/; 1 task labs failed to start$/);
    expect(tables(failed).find((x) => x.title.startsWith('11.'))!.note).toContain('Failed: run 1, task 7 (mtu-blackhole): no space.');
  });
});

describe('scale memory', () => {
  it('prefers the slope over levels for kernel memory when there is one', () => {
    const r = doc();
    if (r.scale.status !== 'ok') throw new Error('fixture');
    r.scale.data.perLabSlope = { memAvailableDrop: 21 * 1024 ** 2, slabGrowth: 3.5 * 1024 ** 2, clusterHostPss: 6 * 1024 ** 2 };
    expect(headlines(r).find((l) => l.startsWith('25 labs'))).toContain('(21.0 MiB less MemAvailable and 3.5 MiB more Slab per lab, slope over levels)');
    expect(tables(r).find((t) => t.title.startsWith('2.'))!.note).toContain('MemAvailable 21.0 MiB, Slab 3.5 MiB.');
  });

  it('adds the cluster host growth per lab to the sandbox PSS and checks the 30 MiB target, saying where the curve stopped', () => {
    const r = doc();
    if (r.scale.status !== 'ok') throw new Error('fixture');
    r.scale.data.perLabSlope = { memAvailableDrop: 21 * 1024 ** 2, slabGrowth: 3.5 * 1024 ** 2, clusterHostPss: 6 * 1024 ** 2 };
    expect(headlines(r)).toContain('PSS per lab with 25 labs alive, API and controllers included: 25.1 MiB (19.1 MiB sandbox processes + 6.0 MiB cluster host growth per lab, slope); target ≤ 30.0 MiB: met (the target is at 50 labs; the curve stopped at 25)');
    r.scale.data.perLabSlope.clusterHostPss = 12 * 1024 ** 2;
    expect(headlines(r).find((l) => l.startsWith('PSS per lab'))).toContain('31.1 MiB (19.1 MiB sandbox processes + 12.0 MiB cluster host growth per lab, slope); target ≤ 30.0 MiB: not met');
    const t = tables(r).find((x) => x.title.startsWith('2.'))!;
    expect(t.head).toContain('cluster host PSS');
    expect(t.rows[0][7]).toBe('380.0 MiB');
  });

  it('without a slope (one level) there is no per-lab share of the cluster host to claim', () => {
    expect(headlines(doc()).some((l) => l.startsWith('PSS per lab'))).toBe(false);
  });
});

describe('kube', () => {
  it('prints every target next to its median with whether it is met, and the first lab apart', () => {
    const h = headlines(doc());
    expect(h).toContain('lab ready (create → API answers, every pod Ready): p50 280 ms, p95 350 ms (n=20); target ≤ 300 ms: met; the first lab, which starts the cluster host, 4.10 s');
    expect(h).toContain('lab ready for a start on a server keeping 2 labs made ahead: p50 40.0 ms, p95 60.0 ms (n=20); target ≤ 300 ms: met; 19 of 20 taken from them');
    expect(h).toContain('`kubectl get pods` in a lab through lab.exec: p50 160 ms, p95 210 ms (n=30); target ≤ 150 ms: not met; the kubectl process alone p50 120 ms');
    expect(h).toContain('kube-dns selector patched to match no pod → first DNS query refused: p50 250 ms, p95 400 ms (n=10); target ≤ 500 ms: met');
    expect(h).toContain('kube-dns selector patched back → first DNS query answered: p50 600 ms, p95 700 ms (n=10); target ≤ 500 ms: not met');
    expect(h).toContain("`kubectl scale deploy/coredns --replicas=0` → first DNS query refused: p50 300 ms (CoreDNS's 5 s lameduck, as on kind); `--replicas=2` → first DNS query answered: p50 1.40 s");
    expect(h).toContain('NetworkPolicy applied → first connection blocked: p50 120 ms, p95 300 ms (n=10); target p95 ≤ 1.00 s: met; deleted → first connection through: p50 110 ms, p95 250 ms');
    expect(h).toContain('pod-to-pod TCP connect with 100 policies over 50 pods: p50 0.42 ms vs 0.40 ms with none (1.05×); target within 10 %: met');
    expect(h).toContain('the world outside the cluster (host routing and DNS, laptop, internet with nginx) costs lab ready p50 30.0 ms, p95 45.0 ms; target ≤ 50.0 ms: met');
    expect(h).toContain('from the laptop outside the cluster: NodePort request p50 1.2 ms, p95 2.0 ms; LoadBalancer p50 1.1 ms, p95 1.8 ms; Ingress p50 2.4 ms, p95 4.0 ms (n=200); a pod to the ClusterIP p50 0.90 ms');
    expect(h).toContain('lab ready with the ingress-nginx add-on: p50 1.80 s vs 1.00 s without (n=5), 800 ms more; target within 50.0 ms: not met');
  });

  it('has a table for requests from outside the cluster', () => {
    const t = tables(doc()).find((x) => x.title.startsWith('7. From outside'))!;
    expect(t.rows.map((r) => r.slice(0, 3))).toEqual([
      ['laptop → NodePort', '200', '1.2 ms'], ['laptop → LoadBalancer', '200', '1.1 ms'], ['laptop → Ingress (ingress-nginx, by Host)', '200', '2.4 ms'],
      ['default/client-control-plane → ClusterIP', '200', '0.90 ms'], ['lab ready', '5', '1.00 s'], ['lab ready, then ingress-nginx serving', '5', '1.80 s'],
    ]);
  });

  it('has a table of its own with n, p50, p95 and the target column', () => {
    const t = tables(doc()).find((x) => x.title.startsWith('5. Kubernetes'))!;
    expect(t.head).toEqual(['', 'n', 'p50', 'p95', 'min', 'max', 'target']);
    expect(t.rows[0]).toEqual(['lab ready (labs after the first)', '20', '280 ms', '350 ms', '140 ms', '350 ms', 'target ≤ 300 ms: met']);
    expect(t.rows[1]).toEqual(['lab ready from labs made ahead', '20', '40.0 ms', '60.0 ms', '20.0 ms', '60.0 ms', 'target ≤ 300 ms: met']);
    expect(t.rows[3].at(-1)).toBe('');
    expect(t.note).toContain('with 2 labs kept warm, each once the pool is full again (19 of 20 were taken from it');
    expect(t.note).toContain('Waiting for every pod to be Ready 200 ms');
    expect(t.note).toContain('4.10 s, starting the cluster host: Starting the cluster: API server and controllers 900 ms');
  });

  it('lists labs whose teardown failed in RESULTS.md, by section', () => {
    expect(formatMarkdown(doc())).toContain("(what they left went with the bench state directory)\n\n- 5. kube: ENOTEMPTY: directory not empty, rmdir '/tmp/x/labs/l1'\n- 2. scale: destroying lab l2: EBUSY\n");
  });

  it('a failed kube section is named like the others', () => {
    expect(notRun(doc({ kube: { status: 'failed', error: 'kubectl get pods in the lab failed: x' } }))[0]).toBe('kube: FAILED: kubectl get pods in the lab failed: x');
  });
});

describe('sections that did not run', () => {
  it('names skipped ones with their exact reason and failed ones with their error', () => {
    expect(notRun(doc())).toEqual([
      'terminal: skipped: terminal bench: server/http not available yet',
      'probes: FAILED: the healthy dns-egress-dropped lab was graded fail: dns TIMEOUT',
    ]);
  });

  it('keeps a failed section to its first line in the report (the JSON keeps the whole error)', () => {
    const r = doc({ probes: { status: 'failed', error: `page.evaluate: Error: timed out\n    at eval (<anonymous>:1:683)` } });
    expect(notRun(r)).toContain('probes: FAILED: page.evaluate: Error: timed out');
    expect(notRun(doc({ probes: { status: 'failed', error: 'x'.repeat(1000) } }))[1]).toBe(`probes: FAILED: ${'x'.repeat(400)}…`);
  });
});

describe('tables', () => {
  it('lifecycle rows carry n, median and p95', () => {
    const t = tables(doc()).find((x) => x.title.startsWith('1. Lab lifecycle'))!;
    expect(t.head).toEqual(['', 'n', 'median', 'p95', 'min', 'max']);
    expect(t.rows[0]).toEqual(['up', '20', '250 ms', '330 ms', '125 ms', '330 ms']);
  });

  it('the docker table gives docker / netns per row', () => {
    const t = tables(doc()).find((x) => x.title.startsWith('4. netns vs'))!;
    expect(t.rows.map((r) => [r[0], r.at(-1)])).toEqual([['up', '4.0×'], ['exec `true` in a node', '4.0×'], ['teardown', '20×']]);
    expect(t.note).toContain('started by the bench: `dockerd --host unix:///var/run/docker.sock`');
    expect(t.note).toContain('built locally from host binaries in 7.30 s');
  });

  it('per-scenario cells show median with p95, and n for the default broken grade', () => {
    const t = tables(doc()).find((x) => x.title.startsWith('1b.'))!;
    expect(t.rows[0]).toEqual(['coredns-down', '5', '9', '260 ms (300 ms)', '870 ms (900 ms)', '880 ms (950 ms)', '8.82 s (9.00 s)', '9.63 s (9.70 s, n=2)']);
  });

  it('a quick run says the default broken grade was left out rather than showing nothing', () => {
    const r = doc();
    if (r.lifecycle.status !== 'ok') throw new Error('fixture');
    r.lifecycle.data.scenarios[0].gradeBrokenDefault = undefined;
    expect(tables(r).find((x) => x.title.startsWith('1b.'))!.rows[0].at(-1)).toBe('not with --quick');
  });

  it('machine facts are left-aligned text in markdown', () => {
    const md = markdownTable(tables(doc())[0]);
    expect(md.split('\n').slice(0, 2)).toEqual(['| fact | value |', '| --- | --- |']);
  });

  it('machine facts include the tools and the load', () => {
    const t = tables(doc())[0];
    expect(t.rows).toContainEqual(['chromium', 'not found']);
    expect(t.rows).toContainEqual(['load average (1/5/15 min)', '0.50 / 0.25 / 0.10 at start, 1.50 / 1.00 / 0.50 at end']);
  });
});

describe('terminal', () => {
  const terminal: BenchResult['terminal'] = {
    status: 'ok',
    data: {
      target: 'default/client-control-plane', browser: '156.0', failures: ['round 1, attempt 1: timed out waiting for a prompt'],
      rounds: [
        { echo: { samples: 200, p50: 2.3, p95: 13, max: 15.8 }, throughput: { bytes: 21_000_000, ms: 2000, mbPerS: 10.5 }, ctrlC: { floodBytes: 2_100_000, ms: 30.3 } },
        { echo: { samples: 200, p50: 2.1, p95: 9, max: 11 }, throughput: { bytes: 21_000_000, ms: 1750, mbPerS: 12 }, ctrlC: { floodBytes: 2_100_000, ms: 50 } },
      ],
      echoP50: 2.2, echoP95: 11, throughputMBps: 11.25, ctrlCMs: 40.15,
    },
  };

  it('one row per round and a median row; the headline has p50, p95, MB/s and Ctrl-C', () => {
    const r = doc({ terminal });
    const t = tables(r).find((x) => x.title.startsWith('3. Terminal'))!;
    expect(t.rows).toHaveLength(3);
    expect(t.rows[0]).toEqual(['1', '200', '2.3 ms', '13.0 ms', '15.8 ms', '21.0', '10.5', '30.3 ms']);
    expect(t.rows[2]).toEqual(['median', '', '2.2 ms', '11.0 ms', '', '', '11.3', '40.1 ms']);
    expect(headlines(r)).toContain('terminal in Chromium: keystroke echo p50 2.2 ms, p95 11.0 ms; bulk output 11.3 MB/s; Ctrl-C under a flood back to the prompt in 40.1 ms');
  });

  it('failed measuring attempts are listed in RESULTS.md', () => {
    expect(formatMarkdown(doc({ terminal }))).toContain('- round 1, attempt 1: timed out waiting for a prompt');
  });
});

describe('markdown and text', () => {
  it('escapes pipes in markdown cells and right-aligns number columns', () => {
    const md = markdownTable({ title: 't', head: ['a', 'b'], rows: [['x|y', '1']] });
    expect(md.split('\n')).toEqual(['| a | b |', '| --- | ---: |', '| x\\|y | 1 |']);
  });

  it('RESULTS.md has the command, the headlines, what did not run, the notes and every table', () => {
    const md = formatMarkdown(doc());
    expect(md).toMatch(/^# netdojo benchmark results\n/);
    expect(md).toContain('Generated by `netdojo bench` on 2026-11-22T08:00:00.000Z (full run, 5 min 12 s in all)');
    expect(md).toContain('- terminal: skipped: terminal bench: server/http not available yet');
    expect(md).toContain('- coredns-down: http-by-name@client-worker');
    expect(md).toContain('- coredns-down: seed 3: healthy lab graded fail (dns@client-worker TIMEOUT)');
    for (const t of tables(doc())) expect(md).toContain(`## ${t.title}`);
    expect(md.endsWith('\n')).toBe(true);
  });

  it('the text report lists headlines first and says where the results went', () => {
    const text = formatText(doc());
    expect(text.startsWith('* netns lab up 250 ms median')).toBe(true);
    expect(text).toContain('probes: FAILED: the healthy dns-egress-dropped lab was graded fail');
    expect(text.trimEnd().endsWith('results written to bench/RESULTS.md')).toBe(true);
  });

  it('cleanup problems are never hidden', () => {
    expect(formatText(doc({ cleanup: ['lab lx: holder already gone'] }))).toContain('cleanup problems:\n  lab lx: holder already gone');
    expect(formatText(doc(), false)).toContain('some sections only: bench/RESULTS.md left as it is');
    expect(formatMarkdown(doc({ cleanup: ['lab lx: holder already gone'] }))).toContain('## Cleanup problems\n\n- lab lx: holder already gone');
  });
});
