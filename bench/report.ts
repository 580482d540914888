import { formatTable } from '../server/util/table.ts';
import { SETTLE_MS } from './settle.ts';
import { compare, formatBytes, formatMs, formatTimes, ratio, type Summary } from './stats.ts';
import type { BenchResult, CheckLatency, ExamStart, Kube, Limits, Netpol, Outside, Scale, Section, Userns } from './types.ts';

// The benchmark document → tables, rendered two ways: aligned text for the terminal and markdown
// for bench/RESULTS.md. Pure functions of the result, so they are tested on a fixed document.

export interface Table { title: string; note?: string; head: string[]; rows: string[][]; /** Markdown: every column left-aligned (text, not figures). */ text?: boolean }

const SUMMARY_HEAD = ['', 'n', 'median', 'p95', 'min', 'max'];
const srow = (name: string, s: Summary): string[] => [name, String(s.n), formatMs(s.median), formatMs(s.p95), formatMs(s.min), formatMs(s.max)];

/** An error's first line, cut to a readable length (the JSON keeps all of it). */
const oneLine = (e: string) => { const l = e.split('\n')[0]; return l.length > 400 ? `${l.slice(0, 400)}…` : l; };

const loadText = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');

const ok = <T>(s: Section<T>): T | undefined => (s.status === 'ok' ? s.data : undefined);

/** "target ≤ 300 ms: met" for a median against its target. */
export const targetText = (value: number, target: number, format: (x: number) => string = formatMs) =>
  `target ≤ ${format(target)}: ${value <= target ? 'met' : 'not met'}`;

/** The scale curve's top level: PSS per lab of the sandbox, plus the lab's share of the cluster host (slope). */
export function pssPerLab(s: Scale): { labs: number; sandbox: number; host?: number; total?: number } | undefined {
  const top = s.levels.at(-1);
  if (!top) return undefined;
  const host = s.perLabSlope?.clusterHostPss;
  return { labs: top.labs, sandbox: top.perLab.pss, host, total: host === undefined ? undefined : top.perLab.pss + host };
}

/** One line per section that did not run: "<section>: skipped: <reason>" or "failed". */
export function notRun(r: BenchResult): string[] {
  const out: string[] = [];
  for (const [name, s] of [['kube', r.kube], ['netpol', r.netpol], ['outside', r.outside], ['lifecycle', r.lifecycle], ['limits', r.limits], ['userns', r.userns], ['check', r.check], ['exam', r.exam], ['scale', r.scale], ['terminal', r.terminal], ['containers', r.containers], ['probes', r.probes]] as const) {
    if (s.status === 'skipped') out.push(`${name}: skipped: ${s.reason}`);
    if (s.status === 'failed') out.push(`${name}: FAILED: ${oneLine(s.error)}`);
  }
  return out;
}

/** The few sentences a reader wants first: side-by-side ratios and the headline figures. */
export function headlines(r: BenchResult): string[] {
  const out: string[] = [];
  const life = ok(r.lifecycle);
  if (life) out.push(`netns lab up ${formatMs(life.up.median)} median, ${formatMs(life.up.p95)} p95 (n=${life.up.n}); down ${formatMs(life.down.median)} median, ${formatMs(life.down.p95)} p95`);
  const k = ok(r.kube);
  if (k) out.push(...kubeHeadlines(k));
  const np = ok(r.netpol);
  if (np) out.push(...netpolHeadlines(np));
  const o = ok(r.outside);
  if (o) {
    out.push(`from the laptop outside the cluster: NodePort request p50 ${formatMs(o.nodePort.median)}, p95 ${formatMs(o.nodePort.p95)}; LoadBalancer p50 ${formatMs(o.loadBalancer.median)}, p95 ${formatMs(o.loadBalancer.p95)}; Ingress p50 ${formatMs(o.ingress.median)}, p95 ${formatMs(o.ingress.p95)} (n=${o.requests}); a pod to the ClusterIP p50 ${formatMs(o.clusterIPFromPod.median)}`);
    const added = o.readyWithIngress.median - o.readyBare.median;
    out.push(`lab ready with the ingress-nginx add-on: p50 ${formatMs(o.readyWithIngress.median)} vs ${formatMs(o.readyBare.median)} without (n=${o.readyBare.n}), ${formatMs(added)} more; target within ${formatMs(WORLD_TARGET_MS)}: ${added <= WORLD_TARGET_MS ? 'met' : 'not met'}`);
  }
  const lim = ok(r.limits);
  if (lim) out.push(limitsHeadline(lim));
  const u = ok(r.userns);
  if (u) out.push(usernsHeadline(u));
  const ch = ok(r.check);
  if (ch) out.push(...checkHeadlines(ch));
  const ex = ok(r.exam);
  if (ex) out.push(examHeadline(ex));
  const c = ok(r.containers);
  if (c) {
    const up = compare({ name: 'netns lab up', ms: c.netnsUp.median }, { name: 'the 2-node Docker topology', ms: c.dockerUp.median });
    const exec = compare({ name: 'netns exec', ms: c.netnsExec.median }, { name: 'docker exec', ms: c.dockerExec.median });
    const down = compare({ name: 'netns teardown', ms: c.netnsDown.median }, { name: 'Docker teardown', ms: c.dockerDown.median });
    for (const [line, a, b] of [[up, c.netnsUp, c.dockerUp], [exec, c.netnsExec, c.dockerExec], [down, c.netnsDown, c.dockerDown]] as const) {
      if (line) out.push(`${line} (${formatMs(a.median)} vs ${formatMs(b.median)} median)`);
    }
  }
  const p = ok(r.probes);
  if (p) {
    const seq = compare({ name: 'batched grading', ms: p.batched.median }, { name: 'one exec per probe in sequence', ms: p.perProbeSequential.median });
    const par = compare({ name: 'batched grading', ms: p.batched.median }, { name: 'one exec per probe all at once', ms: p.perProbeParallel.median });
    if (seq) out.push(`${seq} (${p.probes} probes of ${p.checks} checks: ${formatMs(p.batched.median)} vs ${formatMs(p.perProbeSequential.median)} median)`);
    if (par) out.push(`${par} (${formatMs(p.batched.median)} vs ${formatMs(p.perProbeParallel.median)} median)`);
  }
  const s = ok(r.scale);
  const top = s?.levels.at(-1);
  if (s && top) {
    const kernel = s.perLabSlope
      ? `${formatBytes(s.perLabSlope.memAvailableDrop)} less MemAvailable and ${formatBytes(s.perLabSlope.slabGrowth)} more Slab per lab, slope over levels`
      : `${formatBytes(top.perLab.memAvailableDrop)} less MemAvailable per lab`;
    out.push(`${top.labs} labs alive at once: ${formatBytes(top.perLab.pss)} PSS per lab in ${top.perLab.processes.toFixed(0)} processes (${kernel}), one lab graded in ${formatMs(top.gradeMs)}; ${s.stop.reason}`);
    const p = pssPerLab(s);
    if (p?.total !== undefined && p.host !== undefined) {
      out.push(`PSS per lab with ${p.labs} labs alive, API and controllers included: ${formatBytes(p.total)} (${formatBytes(p.sandbox)} sandbox processes + ${formatBytes(p.host)} cluster host growth per lab, slope); ${targetText(p.total, s.pssTargetBytes, formatBytes)}${p.labs < 50 ? ` (the target is at 50 labs; the curve stopped at ${p.labs})` : ''}`);
    }
  }
  const t = ok(r.terminal);
  if (t) out.push(`terminal in Chromium: keystroke echo p50 ${formatMs(t.echoP50)}, p95 ${formatMs(t.echoP95)}; bulk output ${t.throughputMBps.toFixed(1)} MB/s; Ctrl-C under a flood back to the prompt in ${formatMs(t.ctrlCMs)}`);
  return out;
}

/** The issue's target: a lab with the world outside ready within this much of one without. */
const WORLD_TARGET_MS = 50;

function kubeHeadlines(k: Kube): string[] {
  const t = k.targets;
  const line = (what: string, x: Summary, target: number) => `${what}: p50 ${formatMs(x.median)}, p95 ${formatMs(x.p95)} (n=${x.n}); ${targetText(x.median, target)}`;
  return [
    `${line('lab ready (create → API answers, every pod Ready)', k.ready, t.readyMs)}; the first lab${k.firstReady.startedClusterHost ? ', which starts the cluster host,' : ''} ${formatMs(k.firstReady.ms)}`,
    `${line(`lab ready for a start on a server keeping ${k.readyWarm.pool} labs made ahead`, k.readyWarm.ready, t.readyMs)}; ${k.readyWarm.fromPool} of ${k.readyWarm.ready.n} taken from them`,
    `${line('`kubectl get pods` in a lab through lab.exec', k.kubectlExec, t.kubectlMs)}; the kubectl process alone p50 ${formatMs(k.kubectlProcess.median)}`,
    line('kube-dns selector patched to match no pod → first DNS query refused', k.dataPlaneUnselect.fromCommand, t.dataPlaneMs),
    line('kube-dns selector patched back → first DNS query answered', k.dataPlaneReselect.fromCommand, t.dataPlaneMs),
    `\`kubectl scale deploy/coredns --replicas=0\` → first DNS query refused: p50 ${formatMs(k.dataPlaneDown.fromCommand.median)} (CoreDNS's 5 s lameduck, as on kind); \`--replicas=2\` → first DNS query answered: p50 ${formatMs(k.dataPlaneUp.fromCommand.median)}`,
    ...Object.entries(k.readyPhases).filter(([name]) => name.startsWith('Building the world outside')).map(([, x]) =>
      `the world outside the cluster (host routing and DNS, laptop, internet with nginx) costs lab ready p50 ${formatMs(x.median)}, p95 ${formatMs(x.p95)}; ${targetText(x.median, WORLD_TARGET_MS)}`),
  ];
}

function netpolHeadlines(n: Netpol): string[] {
  const cost = n.withPolicies.median / n.none.median;
  return [
    `NetworkPolicy applied → first connection blocked: p50 ${formatMs(n.applied.median)}, p95 ${formatMs(n.applied.p95)} (n=${n.applied.n}); target p95 ≤ ${formatMs(n.targets.enforcedP95Ms)}: ${n.applied.p95 <= n.targets.enforcedP95Ms ? 'met' : 'not met'}; deleted → first connection through: p50 ${formatMs(n.deleted.median)}, p95 ${formatMs(n.deleted.p95)}`,
    `pod-to-pod TCP connect with ${n.policies} policies over ${n.pods} pods: p50 ${formatMs(n.withPolicies.median)} vs ${formatMs(n.none.median)} with none (${cost.toFixed(2)}×); target within ${Math.round((n.targets.costRatio - 1) * 100)} %: ${cost <= n.targets.costRatio ? 'met' : 'not met'}`,
  ];
}

function checkHeadlines(c: CheckLatency): string[] {
  const p95 = (what: string, x: Summary, target: number) => `${what}: p50 ${formatMs(x.median)}, p95 ${formatMs(x.p95)} (n=${x.n}, ${c.scenarios.length} scenarios); target p95 ≤ ${formatMs(target)}: ${x.p95 <= target ? 'met' : 'not met'}`;
  return [
    `${p95('Check on a broken lab left alone for a retry window (settled)', c.brokenSettled, c.targets.brokenP95Ms)}; right after the break p50 ${formatMs(c.broken.median)}, p95 ${formatMs(c.broken.p95)}; before definite failures (every failure held for the whole window) p50 ${formatMs(c.brokenWindowOnly.median)}, p95 ${formatMs(c.brokenWindowOnly.p95)}; the first check shown after p50 ${formatMs(c.firstShown.median)}, p95 ${formatMs(c.firstShown.p95)}`,
    `${p95('Check on a fixed lab', c.fixed, c.targets.fixedP95Ms)}; lab.exec of \`true\` alone p50 ${formatMs(c.execFloor.median)}, p95 ${formatMs(c.execFloor.p95)}`,
  ];
}

function checkTable(c: CheckLatency): Table {
  const cell = (x: Summary) => `${formatMs(x.median)} (${formatMs(x.p95)})`;
  return {
    title: '9. Check latency: a broken and a fixed lab',
    note: `Check as a learner presses it (gradeLab expecting PASS) on a lab right after its break, on the same lab once it has settled, and right after its reference solution, ${c.runs} run${c.runs > 1 ? 's' : ''} per scenario (seeds 1..${c.runs}). ` +
      'Medians, p95 in brackets. "settled": nothing written for a retry window with every pod and node Ready, where a failure is final on its first attempt; a lab with a pod that is not Ready never settles (its "in motion" column says why) and gets the whole window. ' +
      '"before" is the broken lab graded with every failure held for the whole retry window (the rule before definite failures; first run only); ' +
      '"first shown" is when the first check was final, the first result the page shows; "waited for" is the failing check final last right after the break, with its state. ' +
      `Over all: broken p50 ${formatMs(c.broken.median)}, p95 ${formatMs(c.broken.p95)}; settled p50 ${formatMs(c.brokenSettled.median)}, p95 ${formatMs(c.brokenSettled.p95)}; fixed p50 ${formatMs(c.fixed.median)}, p95 ${formatMs(c.fixed.p95)}; lab.exec of \`true\` on a source pod p50 ${formatMs(c.execFloor.median)}.`,
    head: ['scenario', 'broken', 'settled', 'before', 'first shown', 'fixed', 'waited for', 'in motion'],
    rows: c.scenarios.map((s) => [s.scenario, cell(s.broken), cell(s.brokenSettled), cell(s.brokenWindowOnly), cell(s.firstShown), cell(s.fixed), s.lastFinal ?? '', (s.unsettled ?? []).join('; ')]),
  };
}

function netpolTable(n: Netpol): Table {
  const row = (what: string, x: Summary): string[] => [what, String(x.n), formatMs(x.median), formatMs(x.p95), formatMs(x.min), formatMs(x.max)];
  return {
    title: '6. NetworkPolicy: a change enforced, and what enforcement costs a connection',
    note: `Enforced: a loop in ${n.client} connects to ${n.server} back to back (a fresh TCP connection each time; an attempt counts as blocked after ${n.attemptS * 1000} ms, which bounds the resolution) while the host applies, then deletes, a policy denying ingress to the web pods; time from the kubectl command's start to the start of the first attempt with the new outcome. ` +
      `Cost: one TCP connect from ${n.client} to ${n.server}, timed in the pod, with no policy and with ${n.policies} policies over ${n.pods} pods (each selecting every pod and allowing the client to the web port, so the connection passes every chain they give it).`,
    head: SUMMARY_HEAD,
    rows: [
      row('apply → first connection blocked', n.applied),
      row('delete → first connection through', n.deleted),
      row('connect, no policy', n.none),
      row(`connect, ${n.policies} policies over ${n.pods} pods`, n.withPolicies),
    ],
  };
}

function limitsHeadline(l: Limits): string {
  const d = (a: number, b: number) => `${a >= b ? '+' : '−'}${formatMs(Math.abs(a - b))}`;
  return `what lab limits (${l.mode}) cost a lab: up p50 ${formatMs(l.limited.up.median)} vs ${formatMs(l.unlimited.up.median)} without (${d(l.limited.up.median, l.unlimited.up.median)}), ` +
    `down ${formatMs(l.limited.down.median)} vs ${formatMs(l.unlimited.down.median)} (${d(l.limited.down.median, l.unlimited.down.median)}), PSS per lab ${formatBytes(l.limited.pss.median)} vs ${formatBytes(l.unlimited.pss.median)} (n=${l.runs} each)` +
    (l.charged ? `; the kernel charges a lab's cgroup ${formatBytes(l.charged.median)} once it is up` : '');
}

const bytesRow = (what: string, x: Summary): string[] => [what, String(x.n), formatBytes(x.median), formatBytes(x.p95), formatBytes(x.min), formatBytes(x.max)];

function usernsHeadline(u: Userns): string {
  const d = (a: number, b: number) => `${a >= b ? '+' : '−'}${formatMs(Math.abs(a - b))}`;
  return `what a lab's user namespace costs as root: up p50 ${formatMs(u.userns.up.median)} vs ${formatMs(u.hostRoot.up.median)} as host root (${d(u.userns.up.median, u.hostRoot.up.median)}), ` +
    `down ${formatMs(u.userns.down.median)} vs ${formatMs(u.hostRoot.down.median)} (${d(u.userns.down.median, u.hostRoot.down.median)}) (n=${u.runs} each)`;
}

function examHeadline(e: ExamStart): string {
  return `an exam's start (${e.exam}: ${e.tasks} task labs at once): every lab ready p50 ${formatMs(e.ready.median)}, p95 ${formatMs(e.ready.p95)} (n=${e.ready.n})` +
    (e.failed.length ? `; ${e.failed.length} task labs failed to start` : '');
}

function examTable(e: ExamStart): Table {
  return {
    title: `11. An exam's start: every task's lab ready`,
    note: `An attempt of the exam "${e.exam}" (${e.tasks} tasks, a lab each) started as a learner's Start does: the attempt engine and lab manager of the web server, fresh seeds per attempt, every task's lab brought up at once; from the start until every lab is ready or has failed. The labs are then stopped without grading.${e.failed.length ? ` Failed: ${e.failed.map(oneLine).join('; ')}.` : ''}`,
    head: SUMMARY_HEAD,
    rows: [srow('every task lab ready', e.ready)],
  };
}

function usernsTable(u: Userns): Table {
  return {
    title: '10. What a lab\'s user namespace costs as root: labs with and without it',
    note: `As root, bare labs (the base topology) in a user namespace with a uid range of their own (the range claimed, the lab's directory handed to its root, the state directory covered in the sandbox's mount namespace, every entry no_new_privs) and labs whose root is the host's, alternately, ${SETTLE_MS / 1000} s apart. PSS: every process of the lab's sandbox, summed.`,
    head: SUMMARY_HEAD,
    rows: [
      srow('up, user namespace', u.userns.up), srow('up, host root', u.hostRoot.up),
      srow('down, user namespace', u.userns.down), srow('down, host root', u.hostRoot.down),
      bytesRow('PSS per lab, user namespace', u.userns.pss), bytesRow('PSS per lab, host root', u.hostRoot.pss),
    ],
  };
}

function limitsTable(l: Limits): Table {
  return {
    title: '8. What lab limits cost: labs with and without them',
    note: `${l.enforcement}. Bare labs (the base topology) created with the default limits (a cgroup for the lab that its holder starts in and every entry into it joins, a child cgroup per container) and without any, alternately, ${SETTLE_MS / 1000} s apart. PSS: every process of the lab's sandbox, summed. Charged: the lab cgroup's memory usage (its processes, page cache and the kernel's memory for the lab), what its memory limit is held to.`,
    head: SUMMARY_HEAD,
    rows: [
      srow('up, with limits', l.limited.up), srow('up, without', l.unlimited.up),
      srow('down, with limits', l.limited.down), srow('down, without', l.unlimited.down),
      bytesRow('PSS per lab, with limits', l.limited.pss), bytesRow('PSS per lab, without', l.unlimited.pss),
      ...(l.charged ? [bytesRow('charged to the lab\'s cgroup', l.charged)] : []),
    ],
  };
}

function outsideTable(o: Outside): Table {
  const row = (what: string, x: Summary): string[] => [what, String(x.n), formatMs(x.median), formatMs(x.p95), formatMs(x.min), formatMs(x.max)];
  return {
    title: '7. From outside the cluster: NodePort, LoadBalancer, Ingress',
    note: `HTTP GET /hostname to the web pods, a fresh connection each time, timed by curl (time_total) in a loop inside the laptop (the NodePort on each node's address in turn, the LoadBalancer address, ingress-nginx's load-balancer address with Host: web.example.com) and, for comparison, inside ${o.client} to the ClusterIP. Lab ready with ingress-nginx: labs created with the add-on as a scenario gets it (started with the cluster's own objects, then the scenario's setup applies it and waits for its rollout), alternating with labs created without it.`,
    head: SUMMARY_HEAD,
    rows: [
      row('laptop → NodePort', o.nodePort), row('laptop → LoadBalancer', o.loadBalancer), row('laptop → Ingress (ingress-nginx, by Host)', o.ingress),
      row(`${o.client} → ClusterIP`, o.clusterIPFromPod), row('lab ready', o.readyBare), row('lab ready, then ingress-nginx serving', o.readyWithIngress),
    ],
  };
}

function kubeTable(k: Kube): Table {
  const t = k.targets;
  const row = (what: string, x: Summary, target?: number): string[] =>
    [what, String(x.n), formatMs(x.median), formatMs(x.p95), formatMs(x.min), formatMs(x.max), target === undefined ? '' : targetText(x.median, target)];
  const phases = Object.entries(k.readyPhases).map(([name, x]) => `${name} ${formatMs(x.median)}`).join(', ');
  const firstPhases = Object.entries(k.firstReady.phases).map(([name, ms]) => `${name} ${formatMs(ms)}`).join(', ');
  return {
    title: '5. Kubernetes in a lab: ready, kubectl, object change → data plane',
    note: `Lab ready: provider create of the base topology until the lab's API answers and every pod is Ready (medians of its steps: ${phases}). ` +
      `The first lab of the run (${formatMs(k.firstReady.ms)}${k.firstReady.startedClusterHost ? ', starting the cluster host' : ', cluster host already running'}: ${firstPhases}) is not in the row. ` +
      `From labs made ahead: a start as \`netdojo serve\` makes it, with ${k.readyWarm.pool} labs kept warm, each once the pool is full again (${k.readyWarm.fromPool} of ${k.readyWarm.ready.n} were taken from it; the others created there and then). ` +
      "kubectl: `kubectl get pods` on the admin target through lab.exec, and the same command's process timed inside the lab (the difference is the exec). " +
      `Data plane: a change made with kubectl from the host (netdojo kubeconfig) while a loop in ${k.dataPlaneClient} sends DNS queries to the cluster DNS back to back (each waiting at most 50 ms: dig waits a second, and one query caught by the change would hide it that long); ` +
      "time from the kubectl command's start (and from its return, the API having the change) to the first DNS answer showing the change. " +
      "The target is on the kube-dns selector rows, a change the cluster shows with no grace of its own; scaling CoreDNS to 0 is refused only after CoreDNS's `health { lameduck 5s }`, " +
      'as kube-proxy routes to serving terminating endpoints while no ready one is left (KEP-1669), on kind as here. Targets are on the median.',
    head: ['', 'n', 'p50', 'p95', 'min', 'max', 'target'],
    rows: [
      row('lab ready (labs after the first)', k.ready, t.readyMs),
      row('lab ready from labs made ahead', k.readyWarm.ready, t.readyMs),
      row('kubectl get pods via lab.exec', k.kubectlExec, t.kubectlMs),
      row('kubectl get pods, process inside the lab', k.kubectlProcess),
      row('kube-dns selector off → first DNS query refused', k.dataPlaneUnselect.fromCommand, t.dataPlaneMs),
      row('  after kubectl returned', k.dataPlaneUnselect.afterReturn),
      row('kube-dns selector back → first DNS query answered', k.dataPlaneReselect.fromCommand, t.dataPlaneMs),
      row('  after kubectl returned', k.dataPlaneReselect.afterReturn),
      row('scale coredns to 0 → first DNS query refused (5 s lameduck)', k.dataPlaneDown.fromCommand),
      row('  after kubectl returned', k.dataPlaneDown.afterReturn),
      row('scale coredns to 2 → first DNS query answered', k.dataPlaneUp.fromCommand),
      row('  after kubectl returned', k.dataPlaneUp.afterReturn),
    ],
  };
}

export function tables(r: BenchResult): Table[] {
  const out: Table[] = [];
  const m = r.machine;
  out.push({
    title: 'Machine',
    head: ['fact', 'value'],
    text: true,
    rows: [
      ['CPU', m.cpu], ['cores', String(m.cores)], ['memory', formatBytes(m.memoryBytes)], ['kernel', m.kernel], ['OS', m.os],
      ['node', m.node], ['user', m.user], ['netdojo commit', m.commit],
      ['load average (1/5/15 min)', `${loadText(m.load.start)} at start${m.load.end ? `, ${loadText(m.load.end)} at end` : ''}`],
      ...Object.entries(m.tools).map(([k, v]) => [k, v]),
    ],
  });

  const life = ok(r.lifecycle);
  if (life) {
    out.push({
      title: '1. Lab lifecycle (netns provider)',
      note: `up: provider create of the base topology, resolving when every pod is Ready; down: destroyLab. ${life.runs} runs after one cold run (${formatMs(life.coldUpMs)}, not counted), ${SETTLE_MS / 1000} s apart${life.teardownErrors.length ? `; ${life.teardownErrors.length} teardowns failed (listed below, not in "down")` : ''}.`,
      head: SUMMARY_HEAD,
      rows: [srow('up', life.up), srow('down', life.down)],
    });
    out.push({
      title: '1b. Per scenario (medians; p95 in brackets)',
      note: 'create = up + the scenario\'s setup steps; grade broken = with expectBroken (target checks not retried); grade broken (default) = expecting PASS, so failing checks are retried until the window ends.',
      head: ['scenario', 'runs', 'checks', 'create', 'break', 'grade healthy', 'grade broken', 'grade broken (default)'],
      rows: life.scenarios.map((s) => [
        s.scenario, String(s.runs), String(s.checks),
        ...[s.create, s.break, s.gradeHealthy, s.gradeBroken].map((x) => `${formatMs(x.median)} (${formatMs(x.p95)})`),
        s.gradeBrokenDefault ? `${formatMs(s.gradeBrokenDefault.median)} (${formatMs(s.gradeBrokenDefault.p95)}, n=${s.gradeBrokenDefault.n})` : 'not with --quick',
      ]),
    });
  }

  const k = ok(r.kube);
  if (k) out.push(kubeTable(k));
  const np = ok(r.netpol);
  if (np) out.push(netpolTable(np));
  const o = ok(r.outside);
  if (o) out.push(outsideTable(o));
  const lim = ok(r.limits);
  if (lim) out.push(limitsTable(lim));
  const un = ok(r.userns);
  if (un) out.push(usernsTable(un));

  const ch = ok(r.check);
  if (ch) out.push(checkTable(ch));
  const ex = ok(r.exam);
  if (ex) out.push(examTable(ex));

  const s = ok(r.scale);
  if (s) {
    const p = pssPerLab(s);
    const host = s.perLabSlope ? ` The cluster host (one process serving every lab's API, controllers and kubelets) grows by ${formatBytes(s.perLabSlope.clusterHostPss)} PSS per lab (slope over levels)${p?.total !== undefined ? `: with the sandbox's ${formatBytes(p.sandbox)} at ${p.labs} labs, ${formatBytes(p.total)} per lab, ${targetText(p.total, s.pssTargetBytes, formatBytes)} (at 50 labs)` : ''}.` : '';
    out.push({
      title: '2. Scale: labs alive at once',
      note: `Labs added level by level, created ${s.concurrency} at a time. Memory per lab: processes = Rss/Pss summed over every process in the lab's sandbox (its PID namespace and holder); kernel = drop of MemAvailable and growth of Slab since before the first lab, divided by the labs alive (includes the processes; other activity on the machine shows up here too).${s.perLabSlope ? ` Per lab by the slope over all levels (least squares, robust to what the machine did before the first lab): MemAvailable ${formatBytes(s.perLabSlope.memAvailableDrop)}, Slab ${formatBytes(s.perLabSlope.slabGrowth)}.` : ''} ${host} Stop: ${s.stop.reason}. Teardown of all: ${formatMs(s.teardownMs)}.`,
      head: ['labs', 'added in', 'create each (median / p95)', 'grade one', 'processes', 'RSS / lab', 'PSS / lab', 'cluster host PSS', 'MemAvailable drop / lab', 'Slab / lab'],
      rows: s.levels.map((l) => [
        String(l.labs), formatMs(l.wallMs), `${formatMs(l.createEach.median)} / ${formatMs(l.createEach.p95)}`,
        `${formatMs(l.gradeMs)} ${l.gradeVerdict}`, l.perLab.processes.toFixed(1), formatBytes(l.perLab.rss), formatBytes(l.perLab.pss),
        formatBytes(l.clusterHost.pss), formatBytes(l.perLab.memAvailableDrop), formatBytes(l.perLab.slabGrowth),
      ]),
    });
  }

  const t = ok(r.terminal);
  if (t) {
    out.push({
      title: '3. Terminal in headless Chromium, through the relay',
      note: `${t.browser}; target ${t.target}. Echo: from key input to the echoed character parsed by xterm.js. Throughput: a text flood until its end marker is parsed. Ctrl-C: from Ctrl-C during a \`yes\` flood to the next command's output.`,
      head: ['round', 'keys', 'echo p50', 'echo p95', 'echo max', 'bulk MB', 'MB/s', 'Ctrl-C'],
      rows: [
        ...t.rounds.map((x, i) => [String(i + 1), String(x.echo.samples), formatMs(x.echo.p50), formatMs(x.echo.p95), formatMs(x.echo.max),
          (x.throughput.bytes / 1e6).toFixed(1), x.throughput.mbPerS.toFixed(1), formatMs(x.ctrlC.ms)]),
        ['median', '', formatMs(t.echoP50), formatMs(t.echoP95), '', '', t.throughputMBps.toFixed(1), formatMs(t.ctrlCMs)],
      ],
    });
  }

  const c = ok(r.containers);
  if (c) {
    const x = (a: Summary, b: Summary) => { const q = ratio(a.median, b.median); return q ? formatTimes(q) : '-'; };
    out.push({
      title: '4. netns vs one container per node (Docker), same run, interleaved',
      note: `Docker ${c.daemon.version}${c.daemon.startedByBench ? ` (started by the bench: \`${c.daemon.command}\`)` : ''}; image ${c.image.ref}${c.image.built ? `, built locally from host binaries in ${formatMs(c.image.buildMs ?? NaN)} (no pull) and removed afterwards` : ' (already present)'}. Docker up = bridge network + 2 node containers (NET_ADMIN, forwarding on) + cni0 bridge and podCIDR route in each + a ping across the route; netns up = the whole lab (the same plus its Kubernetes API and controllers and every pod Ready: CoreDNS, kube-proxy, kindnet, web, clients), so the ratio flatters Docker. ${c.runs} runs after one warm-up of each, ${SETTLE_MS / 1000} s between steps.`,
      head: ['', 'n', 'netns median', 'netns p95', 'docker median', 'docker p95', 'docker / netns'],
      rows: [
        ['up', String(c.netnsUp.n), formatMs(c.netnsUp.median), formatMs(c.netnsUp.p95), formatMs(c.dockerUp.median), formatMs(c.dockerUp.p95), x(c.netnsUp, c.dockerUp)],
        ['exec `true` in a node', String(c.netnsExec.n), formatMs(c.netnsExec.median), formatMs(c.netnsExec.p95), formatMs(c.dockerExec.median), formatMs(c.dockerExec.p95), x(c.netnsExec, c.dockerExec)],
        ['teardown', String(c.netnsDown.n), formatMs(c.netnsDown.median), formatMs(c.netnsDown.p95), formatMs(c.dockerDown.median), formatMs(c.dockerDown.p95), x(c.netnsDown, c.dockerDown)],
      ],
    });
  }

  const p = ok(r.probes);
  if (p) {
    const x = (s: Summary) => { const q = ratio(p.batched.median, s.median); return q ? formatTimes(q) : '-'; };
    out.push({
      title: '4b. Probes: one process per probe vs batched per pod',
      note: `Scenario ${p.scenario}, healthy lab: ${p.checks} checks = ${p.probes} probe commands from ${p.sources} source pods; ${p.runs} runs each.`,
      head: [...SUMMARY_HEAD, 'vs batched'],
      rows: [
        [...srow('one exec per probe, in sequence', p.perProbeSequential), x(p.perProbeSequential)],
        [...srow('one exec per probe, all at once', p.perProbeParallel), x(p.perProbeParallel)],
        [...srow('gradeLab (one exec per source pod)', p.batched), '1×'],
      ],
    });
  }
  return out;
}

/** `written`: whether bench/RESULTS.md got this run (a run of some sections only leaves it as it is). */
export function formatText(r: BenchResult, written = true): string {
  const parts: string[] = [];
  const h = headlines(r);
  if (h.length) parts.push(h.map((l) => `* ${l}`).join('\n'));
  for (const t of tables(r)) {
    parts.push(`${t.title}\n${formatTable([t.head, ...t.rows].map((row) => row.map((c) => c.replace(/`/g, ''))))}`);
  }
  const nr = notRun(r);
  if (nr.length) parts.push(nr.join('\n'));
  if (r.cleanup.length) parts.push(`cleanup problems:\n${r.cleanup.map((c) => `  ${c}`).join('\n')}`);
  parts.push(`total ${formatMs(r.totalMs)}; ${written ? 'results written to bench/RESULTS.md' : 'some sections only: bench/RESULTS.md left as it is'}`);
  return `${parts.join('\n\n')}\n`;
}

const mdCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function markdownTable(t: Table): string {
  const head = t.head.map((h) => mdCell(h) || ' ');
  return [
    `| ${head.join(' | ')} |`,
    `| ${t.head.map((_, i) => (i === 0 || t.text ? '---' : '---:')).join(' | ')} |`,
    ...t.rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`),
  ].join('\n');
}

export function formatMarkdown(r: BenchResult): string {
  const lines: string[] = [
    '# netdojo benchmark results',
    '',
    `Generated by \`${r.command}\` on ${r.startedAt} (${r.quick ? 'quick run' : 'full run'}, ${formatMs(r.totalMs)} in all). ` +
      'Regenerate with `npm run bench` (or `netdojo bench --json` for the same figures as one JSON document). ' +
      'Medians and p95 (nearest rank) over n runs; ratios are of medians. Timings are wall-clock on the machine below; ' +
      'other work on it is not controlled, so the load average at the start and the end of the run is given with its facts.',
    '',
  ];
  const h = headlines(r);
  if (h.length) lines.push('## Headlines', '', ...h.map((l) => `- ${l}`), '');
  const nr = notRun(r);
  if (nr.length) lines.push('## Not measured on this run', '', ...nr.map((l) => `- ${l}`), '');
  for (const t of tables(r)) {
    lines.push(`## ${t.title}`, '');
    if (t.note) lines.push(t.note, '');
    lines.push(markdownTable(t), '');
  }
  if (r.lifecycle.status === 'ok') {
    const retried = r.lifecycle.data.scenarios.filter((s) => s.retriedWhenBroken.length);
    if (retried.length) {
      lines.push('## Why a broken lab takes long to grade even with expectBroken', '',
        'Only target checks expect a failure; other checks the fault also breaks expect PASS and are retried until the window ends:', '',
        ...retried.map((s) => `- ${s.scenario}: ${s.retriedWhenBroken.join(', ')}`), '');
    }
    const notes = r.lifecycle.data.scenarios.flatMap((s) => (s.notes ?? []).map((n) => `${s.scenario}: ${n}`));
    if (notes.length) lines.push('## Unexpected grades', '', ...notes.map((n) => `- ${n}`), '');
  }
  const checkNotes = r.check.status === 'ok' ? r.check.data.scenarios.flatMap((s) => (s.notes ?? []).map((n) => `${s.scenario}: ${n}`)) : [];
  if (checkNotes.length) lines.push('## Unexpected Check results (section 9)', '', ...checkNotes.map((n) => `- ${n}`), '');
  const teardowns = [
    ...(r.lifecycle.status === 'ok' ? r.lifecycle.data.teardownErrors.map((e) => `1. lifecycle: ${oneLine(e)}`) : []),
    ...(r.kube.status === 'ok' ? r.kube.data.teardownErrors.map((e) => `5. kube: ${oneLine(e)}`) : []),
    ...(r.netpol.status === 'ok' ? r.netpol.data.teardownErrors.map((e) => `6. netpol: ${oneLine(e)}`) : []),
    ...(r.containers.status === 'ok' ? r.containers.data.teardownErrors.map((e) => `4. containers: ${oneLine(e)}`) : []),
    ...(r.probes.status === 'ok' ? r.probes.data.teardownErrors.map((e) => `4b. probes: ${oneLine(e)}`) : []),
    ...(r.limits.status === 'ok' ? r.limits.data.teardownErrors.map((e) => `8. limits: ${oneLine(e)}`) : []),
    ...(r.check.status === 'ok' ? r.check.data.teardownErrors.map((e) => `9. check: ${oneLine(e)}`) : []),
    ...(r.userns.status === 'ok' ? r.userns.data.teardownErrors.map((e) => `10. userns: ${oneLine(e)}`) : []),
    ...(r.exam.status === 'ok' ? r.exam.data.teardownErrors.map((e) => `11. exam: ${oneLine(e)}`) : []),
    ...(r.scale.status === 'ok' ? r.scale.data.teardownErrors.map((e) => `2. scale: ${oneLine(e)}`) : []),
  ];
  if (teardowns.length) lines.push('## Lab teardowns that failed (what they left went with the bench state directory)', '', ...teardowns.map((e) => `- ${e}`), '');
  if (r.terminal.status === 'ok' && r.terminal.data.failures.length) {
    lines.push('## Terminal measuring attempts that failed (retried once on a reloaded page)', '', ...r.terminal.data.failures.map((f) => `- ${f}`), '');
  }
  if (r.cleanup.length) lines.push('## Cleanup problems', '', ...r.cleanup.map((c) => `- ${c}`), '');
  return `${lines.join('\n').trimEnd()}\n`;
}
