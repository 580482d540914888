import type { Settledness } from '../cluster/settled.ts';
import type { AddonName } from './addons.ts';
import type { LabResources } from './resources.ts';

// The contract between the rest of netdojo and a cluster provider (netns replica or kind).
// Targets are names a learner knows: nodes ("control-plane", "worker") and pods ("namespace/name").

export type ProviderName = 'netns' | 'kind';

export type Role = 'control-plane' | 'worker';

/** The base cluster's pods by role, as scenarios name them ({{podOn "worker" "web"}}). */
export type App = 'coredns' | 'web' | 'client';

export interface NodeSpec {
  name: string;
  role: Role;
  ip: string;
  podCIDR: string;
}

export interface ServicePort {
  name: string;
  port: number;
  targetPort: number;
  protocol: 'TCP' | 'UDP';
}

export interface Topology {
  /** The "docker network" the nodes sit on, like kind's `kind` network. */
  underlay: { cidr: string; gateway: string; mtu: number };
  podCIDR: string;
  serviceCIDR: string;
  dns: { clusterIP: string; domain: string };
  nodes: NodeSpec[];
}

/** The facts a lab reports (`up --json`), also what briefings and checks are templated with. */
export interface LabFacts {
  id: string;
  scenario: string;
  provider: ProviderName;
  seed: number;
  nodes: { name: string; role: Role; ip: string; podCIDR: string }[];
  pods: { target: string; node: string; ip: string; app: App }[];
  services: { target: string; clusterIP: string; ports: ServicePort[] }[];
  dns: { clusterIP: string; domain: string };
}

export interface ExecOptions {
  /** Kills the command (and everything it started) after this long; the result says timedOut. */
  timeoutMs?: number;
  stdin?: string;
}

export interface ExecResult {
  /** Exit code, or null when the command was killed. */
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
}

/** What the terminal relay spawns in a pty to give a learner a shell on a target. */
export interface ShellSpec {
  file: string;
  args: string[];
  env: Record<string, string>;
  /** Shown in the tab and the prompt. */
  title: string;
}

export type ProgressFn = (step: { action: string; status: 'start' | 'done' | 'fail'; ms?: number; error?: string }) => void;

export interface CreateOptions {
  id: string;
  scenario: string;
  seed: number;
  /**
   * The scenario's add-ons, which a provider may start together with the cluster (the netns lab
   * does: their pods start beside the base ones). The scenario's setup applies them either way.
   */
  addons?: AddonName[];
  /** What the lab may use of the machine (netns: enforced by cgroups or rlimits); defaults when absent. */
  resources?: LabResources;
  /** No limits at all (no cgroup, no rlimit): what the bench compares limited labs with. */
  unlimited?: boolean;
  /** As root, a sandbox without a user namespace (the lab's root is the host's): what the bench compares with. */
  hostRoot?: boolean;
  onProgress?: ProgressFn;
}

export interface Lab {
  readonly facts: LabFacts;
  /** Runs argv on a target as the learner would; never throws for a non-zero exit. */
  exec(target: string, argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  shell(target: string): ShellSpec;
  /** Every target a learner can open a shell on, nodes first. */
  targets(): string[];
  /**
   * Whether the lab has stopped moving (cluster/settled.ts), for the grader; undefined where the
   * provider cannot tell (its checks then always get the whole retry window).
   */
  settled?(): Promise<Settledness | undefined>;
  destroy(): Promise<void>;
}

export interface LabStatus {
  id: string;
  provider: ProviderName;
  scenario: string;
  /** alive: the lab runs; dead: its holder is gone and only records (or leftovers) remain. */
  state: 'alive' | 'dead';
  createdAt: string;
  detail?: string;
}

export interface Provider {
  readonly name: ProviderName;
  create(topology: Topology, opts: CreateOptions): Promise<Lab>;
  /** Re-attaches to a lab created earlier, possibly by another process. */
  open(id: string): Promise<Lab>;
  list(): Promise<LabStatus[]>;
  /** Removes labs whose holder is gone (and their leftovers); returns the ids removed. */
  reap(): Promise<string[]>;
  /** What this host lacks to run this provider, one line each; empty when ready. */
  doctor(): Promise<string[]>;
  /** What labs here can run but not all of, one line each (a kernel feature a mode needs). */
  limitations?(): Promise<string[]>;
  /**
   * Puts a lab back into the state it had right after create, without recreating it (what a reset
   * uses when creating is slow). Providers that create in well under a second do not offer it.
   */
  restore?(lab: Lab, onProgress?: ProgressFn): Promise<Lab>;
  /** A kubeconfig that reaches the lab's Kubernetes API from this host. */
  kubeconfig(id: string): Promise<string>;
}

export class LabError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message);
    this.name = 'LabError';
  }
}
