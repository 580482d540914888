import { z } from 'zod';

// Checks and grade reports as data: what is expected is declared here, what is observed comes from
// probes, and the comparison (grader/verdict.ts) is separate from execution (grader/run.ts).

export const STATES = [
  'PASS', 'TIMEOUT', 'REFUSED', 'UNREACHABLE', 'DNS_NOREPLY', 'DNS_NXDOMAIN', 'DNS_SERVFAIL',
  'WRONG_ANSWER', 'PARTIAL', 'UNEXPECTED_ALLOW', 'ERROR',
] as const;
export type State = (typeof STATES)[number];
export const StateSchema = z.enum(STATES);

export const Slug = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes');
/** A node name or "namespace/pod"; templated, so checked again after rendering. */
const target = z.string().min(1);

const checkBase = {
  id: Slug,
  title: z.string().min(1),
  /** Source: where the probe runs (a pod, or a node for state guards). A list expands to one check per source. */
  from: z.union([target, z.array(target).min(1)]),
  weight: z.number().int().positive().default(1),
  /** The state this check must show right after the break (verify asserts it). Absent: not a target check. */
  broken: z.union([StateSchema, z.array(StateSchema).min(1)]).optional(),
  /** Hints keyed by observed state; `default` covers states not listed. */
  hints: z.partialRecord(z.union([StateSchema, z.literal('default')]), z.string()).default({}),
};

export const DnsCheck = z.strictObject({
  ...checkBase,
  kind: z.literal('dns'),
  name: z.string().min(1),
  proto: z.enum(['udp', 'tcp']).default('udp'),
  /** Query this server directly; absent: use the pod's resolv.conf (search path and ndots apply). */
  server: z.string().optional(),
  expect: z.string().min(1),
});

export const TcpCheck = z.strictObject({
  ...checkBase,
  kind: z.literal('tcp'),
  host: z.string().min(1),
  port: z.union([z.number().int(), z.string()]),
});

export const HttpCheck = z.strictObject({
  ...checkBase,
  kind: z.literal('http'),
  /** Fetches `<url>/hostname`; the body must name one of the expected backends (identity). */
  url: z.string().min(1),
  backends: z.array(z.string()).min(1),
  /** Every listed backend must answer at least once over this many requests (load balancing). */
  requests: z.number().int().positive().default(1),
  /** The Host header to send (name-based virtual hosting: an Ingress rule's host). */
  hostHeader: z.string().min(1).optional(),
});

export const IcmpCheck = z.strictObject({
  ...checkBase,
  kind: z.literal('icmp'),
  host: z.string().min(1),
});

export const MtuCheck = z.strictObject({
  ...checkBase,
  kind: z.literal('mtu'),
  /** Base URL of a backend; the probe downloads `<url>/bytes/<n>` and uploads n bytes to `<url>/upload`. */
  url: z.string().min(1),
  bytes: z.number().int().positive().default(1_048_576),
  direction: z.enum(['download', 'upload', 'both']).default('both'),
  /** Also recorded as evidence: a don't-fragment ping of this size (payload bytes). */
  dfPing: z.object({ host: z.string(), size: z.number().int().positive() }).optional(),
});

export const NegativeCheck = z.strictObject({
  ...checkBase,
  kind: z.literal('negative'),
  /** A TCP connection that must stay blocked (timeout, refused or unreachable all count as blocked). */
  host: z.string().min(1),
  port: z.union([z.number().int(), z.string()]),
});

export const StateCheck = z.strictObject({
  ...checkBase,
  kind: z.literal('state'),
  /** Shell script run on the source; exit 0 means the guarded state holds. Its output is the evidence. */
  run: z.string().min(1),
});

export const CheckSpec = z.discriminatedUnion('kind', [DnsCheck, TcpCheck, HttpCheck, IcmpCheck, MtuCheck, NegativeCheck, StateCheck]);
export type CheckSpec = z.infer<typeof CheckSpec>;
export type CheckKind = CheckSpec['kind'];

/** A check after templating and expansion of `from`: exactly one source. Distributes over the
 * union (a plain Omit<CheckSpec, 'from'> would keep only the fields every kind shares). */
export type Check = CheckSpec extends infer C ? (C extends CheckSpec ? Omit<C, 'from'> & { from: string } : never) : never;
export type CheckOf<K extends CheckKind> = Extract<Check, { kind: K }>;

export interface CheckResult {
  id: string;
  title: string;
  kind: CheckKind;
  from: string;
  to: string;
  expected: string;
  observed: string;
  state: State;
  pass: boolean;
  weight: number;
  /** One of the scenario's targets: a check its break makes fail (`broken`), which fixing it mends. */
  target: boolean;
  attempts: number;
  ms: number;
  evidence: { command: string; output: string };
  hint?: string;
}

export interface MatrixCell { state: State; pass: boolean; check: string }

export interface Matrix {
  sources: string[];
  targets: string[];
  /** cells[source][target]: the worst result among checks between the two. */
  cells: Record<string, Record<string, MatrixCell>>;
}

export interface GradeReport {
  lab: string;
  scenario: string;
  verdict: 'pass' | 'fail';
  score: { earned: number; possible: number };
  checks: CheckResult[];
  matrix: Matrix;
  /**
   * The lab had settled when grading began: failures were final on their first attempt
   * (settle.ts). Absent in reports stored before it was recorded, and in ones no probe made.
   */
  settled?: boolean;
  ms: number;
}
