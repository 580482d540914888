import { quantityInteger, quantityMillis } from './quantity.ts';
import type { ContainerResources } from './kubelet/runtime.ts';

// A container's `resources` as Kubernetes reads them: what the kubelet gives the runtime (memory
// and cpu limits, the cpu request) and the pod's QoS class (status.qosClass, which the API server
// sets when the pod is created and `kubectl describe pod` shows).

interface Resources { limits?: Record<string, unknown>; requests?: Record<string, unknown> }
interface WithResources { resources?: Resources }

const positive = (n: number | undefined) => (n !== undefined && n > 0 ? n : undefined);

export function containerResources(c: WithResources): ContainerResources {
  const r = c.resources ?? {};
  const out: ContainerResources = {
    memoryBytes: positive(quantityInteger(r.limits?.memory)),
    cpuLimitMillis: positive(quantityMillis(r.limits?.cpu)),
    // A limit without a request requests the limit (the API server defaults it so too).
    cpuRequestMillis: positive(quantityMillis(r.requests?.cpu ?? r.limits?.cpu)),
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}

export type QOSClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

/**
 * Kubernetes' GetPodQOS: BestEffort when no container requests or limits cpu or memory; Guaranteed
 * when every container limits both and requests what it limits; Burstable otherwise.
 */
export function podQOSClass(spec: { containers?: WithResources[]; initContainers?: WithResources[] }): QOSClass {
  const requests = new Map<string, number>();
  const limits = new Map<string, number>();
  let guaranteed = true;
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
    const r = c.resources ?? {};
    const limited = new Set<string>();
    for (const name of ['cpu', 'memory']) {
      const req = quantityMillis(r.requests?.[name]);
      if (req) requests.set(name, (requests.get(name) ?? 0) + req);
      const lim = quantityMillis(r.limits?.[name]);
      if (lim) { limits.set(name, (limits.get(name) ?? 0) + lim); limited.add(name); }
    }
    if (limited.size < 2) guaranteed = false;
  }
  if (!requests.size && !limits.size) return 'BestEffort';
  if (guaranteed && [...limits].every(([name, v]) => (requests.get(name) ?? v) === v) && [...requests].every(([name, v]) => limits.get(name) === v)) return 'Guaranteed';
  return 'Burstable';
}
