import { z } from 'zod';
import { CheckSpec, DnsCheck, HttpCheck, IcmpCheck, MtuCheck, NegativeCheck, Slug, StateCheck, TcpCheck } from '../../grader/types.ts';
import { ADDON_NAMES } from '../lab/addons.ts';
import { COMPETENCY_IDS, TRACK_IDS } from './tracks.ts';

// scenarios/<id>/scenario.yaml. String fields under steps, checks and hints are handlebars
// templates rendered with the lab's facts and the seeded variant (see scenario/render.ts).
//
// A scenario is written once: its steps are kubectl and shell that run on every provider it lists
// (both give a kubectl that reaches the lab's cluster, and the same node and pod targets). Only
// where the providers really differ is something declared per provider: steps
// (`break: {netns: [...], kind: [...]}`), a state check's script (`run: {netns: ..., kind: ...}`),
// checks or attempts that only make sense on some (`providers: [kind]`). A per-provider block must
// cover every provider it applies to: the loader rejects one that silently covers fewer. Variants
// are shared: a seed picks the same variant whichever provider runs the lab.

export const PROVIDERS = ['netns', 'kind'] as const;
export const ProviderSchema = z.enum(PROVIDERS);

/** A shell script run on a target as the learner would. `admin` is where cluster-level tools live:
 * a shell with kubectl configured for the lab (netns: on the control-plane; kind: on the host). */
export const Step = z.strictObject({
  on: z.string().min(1),
  run: z.string().min(1),
  /** What the step does, for progress output and the solution page. */
  name: z.string().optional(),
});
export type Step = z.infer<typeof Step>;

export const perProvider = <T extends z.ZodType>(t: T) => z.strictObject({ netns: t.optional(), kind: t.optional() });
export type PerProvider<T> = { netns?: T; kind?: T };

/** The same value on every provider, or one per provider (`{netns: ..., kind: ...}`). */
export const sharedOrPerProvider = <T extends z.ZodType>(t: T, what: string) =>
  z.union([t, perProvider(t)], { error: `expected ${what}, or one per provider: {netns: ..., kind: ...}` });

const Steps = z.array(Step).min(1);
/** Steps shared by every provider, or one list per provider. */
const SharedSteps = sharedOrPerProvider(Steps, 'a list of steps');

/** Which providers a check applies to; absent: every provider the scenario lists. */
const scoped = { providers: z.array(ProviderSchema).min(1).optional() };

/** The grader's checks (grader/types.ts) as a scenario declares them: optionally scoped to some
 * providers, and a state guard's script either shared or per provider (netns guards use the `lab`
 * helper, kind guards kubectl). Rendering resolves both for the lab's provider. */
/**
 * A reachability matrix (a NetworkPolicy scenario's intended truth table): every source probes
 * every target over TCP; the pairs `allow` lists must connect, every other pair must stay blocked.
 * Rendering expands it into one `tcp` check per allowed pair and one `negative` check per blocked
 * pair, so each pair is probed, scored and reported on its own (UNEXPECTED_ALLOW, TIMEOUT, ...)
 * and the report's matrix shows them as rows and columns.
 */
export const MatrixCheck = z.strictObject({
  id: Slug,
  title: z.string().min(1),
  kind: z.literal('matrix'),
  /** The rows: pods (or nodes) the probes run from. */
  from: z.array(z.string().min(1)).min(1),
  /** The columns: a name for each (used in `allow` and in check ids), and where it is. */
  to: z.array(z.strictObject({ name: Slug, host: z.string().min(1), port: z.union([z.number().int(), z.string()]) })).min(1),
  /** For each source, the targets it may reach; every pair not listed must be blocked. */
  allow: z.record(z.string(), z.array(z.string())).default({}),
  /** Pairs ("<source> <target>") that must be wrong right after the break (verify asserts it). */
  broken: z.array(z.string().regex(/^\S+ \S+$/, '"<source> <target>"')).default([]),
  weight: z.number().int().positive().default(1),
  /** Hints for every pair, by observed state, over the matrix's own (which name the pair). */
  hints: CheckSpec.options[0].shape.hints,
  providers: z.array(ProviderSchema).min(1).optional(),
});
export type MatrixCheck = z.infer<typeof MatrixCheck>;

export const ScenarioCheck = z.discriminatedUnion('kind', [
  DnsCheck.extend(scoped),
  TcpCheck.extend(scoped),
  HttpCheck.extend(scoped),
  IcmpCheck.extend(scoped),
  MtuCheck.extend(scoped),
  NegativeCheck.extend(scoped),
  StateCheck.extend({ ...scoped, run: sharedOrPerProvider(z.string().min(1), 'a shell script') }),
  MatrixCheck,
]);
export type ScenarioCheck = z.infer<typeof ScenarioCheck>;

/** A way to fix (or to "fix") the lab, with the verdict the grader must give it. */
export const Attempt = z.strictObject({
  name: z.string().min(1),
  /** Which providers this attempt applies to; absent: every provider the scenario lists. */
  ...scoped,
  steps: SharedSteps,
  /** For a rejected attempt: checks that must fail (any state), proving why it is rejected. */
  fails: z.array(z.string()).optional(),
});

export const Difficulty = z.enum(['beginner', 'intermediate', 'advanced']);

export const ScenarioSpec = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes'),
  title: z.string().min(1),
  summary: z.string().min(1),
  difficulty: Difficulty,
  minutes: z.number().int().positive(),
  tags: z.array(z.string()).min(1),
  concepts: z.array(z.string()).min(1),
  /** The catalog track it belongs to (server/scenario/tracks.ts). */
  track: z.enum(TRACK_IDS, { error: (issue) => `${issue.input === undefined ? 'required' : `unknown track ${JSON.stringify(issue.input)}`}; expected one of: ${TRACK_IDS.join(', ')}` }),
  /** The CKA competencies it trains. */
  competencies: z.array(z.enum(COMPETENCY_IDS, { error: (issue) => `unknown competency ${JSON.stringify(issue.input)}; expected one of: ${COMPETENCY_IDS.join(', ')}` })).min(1),
  /** "What you learned", shown once it is solved: the concept in two or three sentences. */
  learned: z.string().min(1),
  /** Seeded variants: each key takes one of its values, chosen from the lab's seed. */
  variants: z.record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9]*$/), z.array(z.union([z.string(), z.number()])).min(1)).default({}),
  providers: z.array(ProviderSchema).min(1).default([...PROVIDERS]),
  /** Shared add-ons from manifests/ (server/lab/addons.ts), installed before the scenario's own
   * manifests and waited for: e.g. `ingress-nginx`, the Ingress controller kind clusters get. */
  addons: z.array(z.enum(ADDON_NAMES, { error: (issue) => `unknown add-on ${JSON.stringify(issue.input)}; expected one of: ${ADDON_NAMES.join(', ')}` })).default([]),
  /** Files (beside scenario.yaml) of Kubernetes objects the scenario adds to the base cluster;
   * templates like the rest, applied with kubectl before the setup steps. */
  manifests: z.array(z.string().regex(/^[\w.-]+\.ya?ml$/, 'a file name beside scenario.yaml ending in .yaml')).default([]),
  /** The healthy starting point beyond the base cluster (e.g. a policy that negative checks rely on). */
  setup: SharedSteps.default([]),
  break: SharedSteps,
  solution: SharedSteps,
  checks: z.array(ScenarioCheck).min(1),
  /** Progressive hints, revealed one at a time. */
  hints: z.array(z.string().min(1)).min(1),
  /** Other valid fixes: each must grade pass. */
  accepts: z.array(Attempt).default([]),
  /** Destructive or wrong "fixes": each must grade fail. */
  rejects: z.array(Attempt).default([]),
});
export type ScenarioSpec = z.infer<typeof ScenarioSpec>;
export type Attempt = z.infer<typeof Attempt>;

/** Whether a check is graded (or an attempt tried) on this provider. */
export const checkRunsOn = (c: { providers?: (typeof PROVIDERS)[number][] }, p: (typeof PROVIDERS)[number]) => !c.providers || c.providers.includes(p);

export const isStepList = (v: Step[] | PerProvider<Step[]>): v is Step[] => Array.isArray(v);
