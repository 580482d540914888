import type { Summary } from './stats.ts';

// The benchmark's JSON document (`netdojo bench --json`) and the input of the report (report.ts).
// All durations are milliseconds, all sizes bytes.

/** The sections, in the order they run (`netdojo bench --only` takes these names). */
export const SECTIONS = ['kube', 'netpol', 'outside', 'lifecycle', 'limits', 'userns', 'check', 'exam', 'containers', 'probes', 'terminal', 'scale'] as const;

/** A section ran, was skipped for something this machine lacks, or failed (and the run exits 1). */
export type Section<T> =
  | { status: 'ok'; data: T }
  | { status: 'skipped'; reason: string }
  | { status: 'failed'; error: string };

export interface MachineFacts {
  cpu: string;
  cores: number;
  memoryBytes: number;
  kernel: string;
  os: string;
  node: string;
  user: 'root' | 'rootless';
  commit: string;
  /** Load averages (1, 5, 15 min) when the run started and when it ended: other work on the machine. */
  load: { start: number[]; end?: number[] };
  /** Tool → the first line it prints of its own version, or "not found". */
  tools: Record<string, string>;
}

export interface ScenarioTiming {
  scenario: string;
  runs: number;
  /** createLab: cluster up plus the scenario's setup steps (healthy). */
  create: Summary;
  break: Summary;
  gradeHealthy: Summary;
  /** Graded right after the break with expectBroken (target checks are not retried). */
  gradeBroken: Summary;
  /** Graded after the break with the default expectation (PASS): retried until the window ends. Not with --quick. */
  gradeBrokenDefault?: Summary;
  /** Checks retried in the expectBroken grade: not target checks, yet failing after the break. */
  retriedWhenBroken: string[];
  checks: number;
  /** Grades that did not come out as expected (a healthy lab failing, a broken one passing). */
  notes?: string[];
}

export interface Lifecycle {
  runs: number;
  /** Provider create of the base topology, resolving when every workload answers. */
  up: Summary;
  /** destroyLab: sandbox gone, records removed. */
  down: Summary;
  /** The first create of the run (module loading and cold caches), not in `up`. */
  coldUpMs: number;
  scenarios: ScenarioTiming[];
  /** Teardowns that failed (not in `down`; listed in the report). */
  teardownErrors: string[];
}

export interface ScaleLevel {
  labs: number;
  /** Labs created to reach this level, at the given concurrency: wall time, and each create's own time. */
  added: number;
  wallMs: number;
  createEach: Summary;
  /** One lab graded (healthy, default expectation) while all `labs` are alive. */
  gradeMs: number;
  gradeVerdict: 'pass' | 'fail';
  /** Per lab, averaged over all alive labs. */
  perLab: { processes: number; rss: number; pss: number; memAvailableDrop: number; slabGrowth: number };
  /** The cluster host process (every lab's API, controllers and kubelets) with `labs` alive. */
  clusterHost: { rss: number; pss: number };
  memAvailable: number;
  slab: number;
}

export interface Scale {
  concurrency: number;
  levels: ScaleLevel[];
  /** Levels asked for; fewer in `levels` when the run stopped early. */
  planned: number[];
  /** Why the curve ends where it does: "all levels reached", or the first failure / limit. */
  stop: { reason: string; atLabs?: number };
  teardownMs: number;
  /** Labs whose teardown failed (listed in the report; the curve above stands). */
  teardownErrors: string[];
  /**
   * Per lab, as the slope over all levels (least squares of MemAvailable and Slab against labs alive):
   * unlike a per-level average it is not thrown off by what the rest of the machine did before the
   * first lab. Undefined with fewer than two levels.
   */
  perLabSlope?: { memAvailableDrop: number; slabGrowth: number; clusterHostPss: number };
  /** The target: PSS per lab at 50 labs, the lab's share of the cluster host included. */
  pssTargetBytes: number;
}

export interface TerminalRound {
  echo: { samples: number; p50: number; p95: number; max: number };
  throughput: { bytes: number; ms: number; mbPerS: number };
  ctrlC: { floodBytes: number; ms: number };
}

export interface Terminal {
  target: string;
  browser: string;
  rounds: TerminalRound[];
  /** Measuring attempts that failed (each round is retried once on a reloaded page). */
  failures: string[];
  /** Over rounds: medians of each round's figures. */
  echoP50: number;
  echoP95: number;
  throughputMBps: number;
  ctrlCMs: number;
}

export interface Containers {
  runs: number;
  image: { ref: string; built: boolean; buildMs?: number };
  daemon: { version: string; startedByBench: boolean; command?: string };
  /** docker network create + 2 × docker run + bridge and podCIDR routes in each node. */
  dockerUp: Summary;
  dockerDown: Summary;
  dockerExec: Summary;
  /** The netns lab measured in the same run: full base topology up (nodes, pods, DNS, web). */
  netnsUp: Summary;
  netnsDown: Summary;
  netnsExec: Summary;
  /** netns teardowns that failed (not in netnsDown; listed in the report). */
  teardownErrors: string[];
}

export interface Probes {
  scenario: string;
  checks: number;
  probes: number;
  sources: number;
  runs: number;
  /** One lab.exec per probe, one after another (how a naive grader shells out). */
  perProbeSequential: Summary;
  /** One lab.exec per probe, all at once. */
  perProbeParallel: Summary;
  /** gradeLab: one exec per source pod, sources in parallel (healthy lab: one attempt). */
  batched: Summary;
  /** The lab's teardown, when it failed (listed in the report). */
  teardownErrors: string[];
}

/** A create's progress steps (the provider's actions) → milliseconds. */
export type PhaseTimes = Record<string, number>;

/** Milliseconds from the kubectl command's start, and from its return (the API has the change). */
export interface ChangeTimes { fromCommand: Summary; afterReturn: Summary }

export interface Kube {
  /** The targets for the medians (ms). */
  targets: { readyMs: number; kubectlMs: number; dataPlaneMs: number };
  /** The run's first lab, which starts the cluster host when none runs yet. */
  firstReady: { ms: number; startedClusterHost: boolean; phases: PhaseTimes };
  /** Provider create → the API answers and every pod is Ready (labs after the first). */
  ready: Summary;
  readyPhases: Record<string, Summary>;
  /** A start on a server keeping `pool` labs made ahead → a lab ready; `fromPool` of the samples were taken from it. */
  readyWarm: { ready: Summary; fromPool: number; pool: number };
  /** `kubectl get pods` through lab.exec('admin', ...). */
  kubectlExec: Summary;
  /** The same kubectl process timed inside the lab (no exec). */
  kubectlProcess: Summary;
  /** The client pod the dig loop ran in. */
  dataPlaneClient: string;
  /** Scale CoreDNS to 0 → the first dig refused. */
  dataPlaneDown: ChangeTimes;
  /** Scale CoreDNS to 2 → the first dig answered. */
  dataPlaneUp: ChangeTimes;
  /** kube-dns's selector patched to match no pod → the first dig refused. */
  dataPlaneUnselect: ChangeTimes;
  /** Its selector patched back → the first dig answered. */
  dataPlaneReselect: ChangeTimes;
  /** Labs of this section whose teardown failed (the product's; measured in lifecycle). */
  teardownErrors: string[];
}

export interface Netpol {
  targets: { enforcedP95Ms: number; costRatio: number };
  /** kubectl apply of a deny policy → the first connection attempt blocked. */
  applied: Summary;
  /** kubectl delete of it → the first attempt that connects. */
  deleted: Summary;
  /** One TCP connect, client pod → web pod: no policy, and with `policies` over `pods`. */
  none: Summary;
  withPolicies: Summary;
  policies: number;
  pods: number;
  client: string;
  server: string;
  /** How long an attempt waits before it counts as blocked (the resolution of `applied`). */
  attemptS: number;
  teardownErrors: string[];
}

export interface Outside {
  requests: number;
  /** HTTP from the laptop to a NodePort, each node's address in turn (curl's time_total). */
  nodePort: Summary;
  /** HTTP from the laptop to a LoadBalancer address. */
  loadBalancer: Summary;
  /** HTTP from the laptop through ingress-nginx's load-balancer address, routed by Host. */
  ingress: Summary;
  /** Labs created (every pod Ready), and the same labs once the ingress-nginx add-on serves. */
  readyBare: Summary;
  readyWithIngress: Summary;
  /** The same request from a pod to the Service's ClusterIP, for comparison. */
  clusterIPFromPod: Summary;
  client: string;
  teardownErrors: string[];
}

export interface LimitsSide {
  up: Summary;
  down: Summary;
  /** PSS of the lab's processes (its sandbox's PID namespace and holder), bytes. */
  pss: Summary;
}

export interface Limits {
  runs: number;
  /** What enforces labs' limits here, and the sentence `netdojo doctor` says it in. */
  mode: 'cgroup v1' | 'cgroup v2' | 'rlimits' | 'nothing';
  enforcement: string;
  /** Labs with the default limits, and the same labs without any, alternately. */
  limited: LimitsSide;
  unlimited: LimitsSide;
  /** With limits: the memory the kernel charges the lab's cgroup once it is up, bytes (none without cgroups). */
  charged?: Summary;
  teardownErrors: string[];
}

export interface CheckScenario {
  scenario: string;
  /** gradeLab expecting PASS right after the break, as Check on a broken lab. */
  broken: Summary;
  /** The same, once the broken lab has settled (or SETTLE_WAIT_MS went by): Check as a learner who read the task first presses it. */
  brokenSettled: Summary;
  /** What kept the broken lab from settling (last run), when it did not: its checks then get the whole window. */
  unsettled?: string[];
  /** The same grade under the rule before definite failures: every failure held for the whole window (first run only). */
  brokenWindowOnly: Summary;
  /** From pressing Check on the broken lab to its first check final (the first result the page shows). */
  firstShown: Summary;
  /** gradeLab right after the reference solution, as Check on a fixed lab. */
  fixed: Summary;
  /** The failing check of the broken lab that was final last, with its state: what the Check waited for. */
  lastFinal?: string;
  /** The raw samples (ms), pooled over scenarios for the section's figures. */
  samples: { broken: number[]; brokenSettled: number[]; brokenWindowOnly: number[]; firstShown: number[]; fixed: number[]; execFloor: number[] };
  /** Grades that did not come out as expected (a broken lab passing, a fixed one failing). */
  notes?: string[];
}

export interface CheckLatency {
  runs: number;
  targets: { brokenP95Ms: number; fixedP95Ms: number };
  scenarios: CheckScenario[];
  /** Over every scenario's samples. */
  broken: Summary;
  brokenSettled: Summary;
  brokenWindowOnly: Summary;
  firstShown: Summary;
  fixed: Summary;
  /** `true` through lab.exec on a check's source pod, on the fixed labs: what exec alone costs a Check. */
  execFloor: Summary;
  teardownErrors: string[];
}

export interface Userns {
  runs: number;
  /** As root: labs in a user namespace with a uid range of their own, and labs whose root is the host's, alternately. */
  userns: LimitsSide;
  hostRoot: LimitsSide;
  teardownErrors: string[];
}

export interface ExamStart {
  /** The exam whose attempts were started, and its number of tasks (one lab each). */
  exam: string;
  tasks: number;
  runs: number;
  /** From the Start to every task's lab ready (or failed). */
  ready: Summary;
  /** Task labs that failed to start: "run N, task K (scenario): why". */
  failed: string[];
  teardownErrors: string[];
}

export interface BenchResult {
  version: 1;
  quick: boolean;
  command: string;
  startedAt: string;
  totalMs: number;
  machine: MachineFacts;
  lifecycle: Section<Lifecycle>;
  scale: Section<Scale>;
  terminal: Section<Terminal>;
  containers: Section<Containers>;
  probes: Section<Probes>;
  kube: Section<Kube>;
  netpol: Section<Netpol>;
  outside: Section<Outside>;
  limits: Section<Limits>;
  check: Section<CheckLatency>;
  userns: Section<Userns>;
  exam: Section<ExamStart>;
  /** Cleanup steps that failed (should be empty). */
  cleanup: string[];
}
