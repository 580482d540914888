import { quantityInteger, quantityMillis } from '../cluster/quantity.ts';
import { LabError } from './types.ts';

// What one lab may use of the machine: the one place for the settings, their defaults and how they
// are written (Kubernetes quantities: "1Gi", "512Mi", "500m"). `netdojo up` and `netdojo serve`
// take them as flags; the netns provider enforces them (server/providers/netns/limits.ts).
//
// The defaults leave a lab ten times what it needs: the base lab runs about 40 processes (80 tasks,
// as the kernel counts threads) in some 160 MiB of resident memory, ingress-nginx included, and
// every kubectl a learner starts adds a dozen threads and 30 MiB or so while it runs.

export interface LabResources {
  /** Tasks (processes and threads) the whole lab may have at once: a fork storm stops there. */
  processes: number;
  /** Memory of the whole lab, page cache and kernel memory included, in bytes; over it the kernel
   *  reclaims, then kills a process of the lab (never one outside it). */
  memoryBytes: number;
  /** The lab's CPU time, in thousandths of a core ("1" is one core's worth per period); 0 for no cap. */
  cpuMillis: number;
}

export const DEFAULT_LAB_RESOURCES: LabResources = {
  processes: 1024,
  memoryBytes: 2 ** 30,
  cpuMillis: 1000,
};

/** The settings as flags spell them, each optional (an unset one keeps its default). */
export interface LabResourceFlags { processes?: string; memory?: string; cpu?: string }

export function parseLabResources(flags: LabResourceFlags, defaults: LabResources = DEFAULT_LAB_RESOURCES): LabResources {
  const out = { ...defaults };
  if (flags.processes !== undefined) {
    const n = Number(flags.processes);
    if (!Number.isInteger(n) || n < 64) throw new LabError(`--lab-processes must be a whole number ≥ 64 (a lab runs some 80 tasks), got "${flags.processes}"`);
    out.processes = n;
  }
  if (flags.memory !== undefined) {
    const b = quantityInteger(flags.memory);
    if (b === undefined || b < 256 * 2 ** 20) throw new LabError(`--lab-memory must be a quantity of at least 256Mi (a lab uses some 160 MiB), such as 1Gi or 512Mi; got "${flags.memory}"`);
    out.memoryBytes = b;
  }
  if (flags.cpu !== undefined) {
    const m = quantityMillis(flags.cpu);
    if (m === undefined || (m !== 0 && m < 100)) throw new LabError(`--lab-cpu must be a number of cores of at least 100m (such as 1, 1.5 or 500m), or 0 for no cap; got "${flags.cpu}"`);
    out.cpuMillis = m;
  }
  return out;
}

/**
 * Tasks one container may have: half the lab's. So a fork storm in a pod (Kubernetes' podPidsLimit
 * bounds a pod the same way) leaves the lab room for its kubelet's work, its shells and its probes,
 * and a learner can still delete the pod.
 */
export const containerProcesses = (r: LabResources) => Math.floor(r.processes / 2);

const mib = (b: number) => (b % 2 ** 30 === 0 ? `${b / 2 ** 30} GiB` : `${Math.round(b / 2 ** 20)} MiB`);

/** "1024 tasks, 1 GiB of memory, 1 CPU" */
export function describeResources(r: LabResources): string {
  return `${r.processes} tasks, ${mib(r.memoryBytes)} of memory, ${r.cpuMillis ? `${r.cpuMillis / 1000} CPU` : 'no CPU cap'}`;
}
