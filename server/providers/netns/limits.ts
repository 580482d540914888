import { describeResources, type LabResources } from '../../lab/resources.ts';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { child, createLabCgroup, hostFacts, labCgroupOf, probeCgroups, procsFiles, removeLabCgroup, SANDBOX_CGROUP, type Cgroup, type CgroupProbe } from './cgroups.ts';

// How a netns lab's resource limits (server/lab/resources.ts) are enforced on this host, best first:
// - cgroups (v2 where its controllers are delegated to us, v1 as root): the lab's cgroup bounds
//   its tasks, memory and CPU together, and containers get child cgroups with their Pod limits.
// - rlimits, where cgroups are not ours (an unprivileged user on a cgroup v1 host, or without a
//   delegated v2 subtree): RLIMIT_NPROC bounds the lab's tasks. Since Linux 5.14 the kernel counts
//   it per user namespace (ucounts), and a rootless lab is a user namespace of its own, so the
//   limit is the lab's, not the user's; the holder that creates the namespace keeps the user's own
//   limit, since the kernel also checks every task against its creator's limit at creation.
//   Nothing per lab bounds memory or CPU this way: RLIMIT_AS and RLIMIT_DATA bound each process
//   alone (and break runtimes that reserve address space, like Go's: kubectl), RLIMIT_CPU kills a
//   process after so many seconds of CPU. So memory and CPU go unbounded, and `netdojo doctor` says so.
// - as root without cgroups, nothing: the kernel never holds root to RLIMIT_NPROC.
// Disk is bounded by none of these: a lab writes where its processes may write on the host's file
// systems (its own directory, and what the host lets anyone write), and a quota per lab would take project quotas on the state
// directory's file system or a file system of its own per lab.

/** What a lab's sandbox records about its limits (in its handle), so every entry into it applies them. */
export interface SandboxLimits {
  /** The lab's cgroup (`netdojo/<id>`) when cgroups enforce the limits. */
  cgroup?: Cgroup;
  /** Otherwise, RLIMIT_NPROC of every process that enters the sandbox, when the kernel applies it. */
  nproc?: number;
  /** Why cgroups do not enforce them here. */
  why?: string;
}

/** Where limits come from on this host: the cgroup probe with this process's facts. */
export async function probeHost(env: NodeJS.ProcessEnv = process.env): Promise<CgroupProbe> {
  return probeCgroups(await hostFacts(env.NETDOJO_CGROUP_PARENT || undefined));
}

/** Makes what enforces a new lab's limits (its cgroup, if cgroups do), before its sandbox starts. */
export async function prepareLimits(id: string, resources: LabResources, probe: CgroupProbe, uid = process.getuid?.() ?? 0): Promise<SandboxLimits> {
  if (probe.ok) {
    // Every lab weighs the same against the others; all of them together weigh against the rest of
    // the machine as a task per core would (as the kubelet weighs kubepods by the node's CPUs), so
    // that, in v1 where the labs compete with each process at the top, they are not left the share
    // of one process under load.
    const cgroup = await createLabCgroup(probe.host, id,
      { pids: resources.processes, memoryBytes: resources.memoryBytes, cpuQuotaMillis: resources.cpuMillis || undefined },
      { cpuWeightOf: availableParallelism() });
    return { cgroup };
  }
  return uid === 0 ? { why: probe.why } : { nproc: resources.processes, why: probe.why };
}

/** Removes what enforced a lab's limits (its cgroup, once the kernel has emptied it with the sandbox). */
export async function releaseLimits(l: SandboxLimits | undefined): Promise<void> {
  if (l?.cgroup) await removeLabCgroup(l.cgroup);
}

/**
 * Ends a holder whose lab is gone (no directory, no record) with its cgroup, found from the holder's
 * own /proc/<pid>/cgroup. False when the holder is not ours to end (another user's) or gone.
 */
export async function releaseOrphanLimits(holderPid: number): Promise<boolean> {
  const cgroup = await labCgroupOf(holderPid, await readFile('/proc/self/mountinfo', 'utf8'));
  try { process.kill(holderPid, 'SIGKILL'); } catch { return false; }
  if (cgroup) await removeLabCgroup(cgroup);
  return true;
}

/** A line for `netdojo doctor`: how labs are limited here. */
export function describeEnforcement(probe: CgroupProbe, resources: LabResources, uid = process.getuid?.() ?? 0): string {
  if (probe.ok) return `labs are limited by cgroup v${probe.host.version} (${Object.keys(probe.host.dirs).join(', ')}): ${describeResources(resources)} each`;
  if (uid !== 0) return `labs are not limited by cgroups here (${probe.why}): RLIMIT_NPROC bounds each lab to ${resources.processes} tasks; its memory and CPU are unbounded`;
  return `labs are not limited here (${probe.why}); as root RLIMIT_NPROC does not apply: a lab's processes, memory and CPU are unbounded`;
}

// Joins every cgroup.procs file named before the "--" (0 is the writer itself), then becomes the
// command: so the command and all it starts are born in the lab's cgroup.
const JOIN = 'while [ "$1" != -- ]; do echo 0 > "$1" || exit 125; shift; done; shift; exec "$@"';

/**
 * The argv prefix that runs a command under a lab's limits: in the lab's `sandbox` cgroup, or in
 * `cgroup` (a container's) when given; under RLIMIT_NPROC where that stands in. Empty when the lab
 * has no limits (a lab from before limits, or root without cgroups).
 */
export function limitPrefix(l: SandboxLimits | undefined, cgroup?: Cgroup): string[] {
  if (l?.cgroup) return ['sh', '-c', JOIN, 'join', ...procsFiles(cgroup ?? child(l.cgroup, SANDBOX_CGROUP)), '--'];
  if (l?.nproc) return ['prlimit', `--nproc=${l.nproc}`, '--'];
  return [];
}

/** The argv prefix that starts a sandbox's holder: in its cgroup (an rlimit applies inside, not to the holder). */
export function holderPrefix(l: SandboxLimits | undefined): string[] {
  return l?.cgroup ? limitPrefix(l) : [];
}
