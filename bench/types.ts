import type { Summary } from './stats.ts';

// The benchmark's JSON document (`netdojo bench --json`) and the input of the report (report.ts).
// All durations are milliseconds, all sizes bytes.

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
  /**
   * Per lab, as the slope over all levels (least squares of MemAvailable and Slab against labs alive):
   * unlike a per-level average it is not thrown off by what the rest of the machine did before the
   * first lab. Undefined with fewer than two levels.
   */
  perLabSlope?: { memAvailableDrop: number; slabGrowth: number };
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
  /** Cleanup steps that failed (should be empty). */
  cleanup: string[];
}
