// Pods as `kubectl get pods` shows them (upstream printPod). STATUS is the pod's phase or
// status.reason, overridden, in this order, by the first init container that has not completed
// ("Init:0/2", "Init:CrashLoopBackOff", "Init:Error"...), then by the first regular container that
// is waiting or terminated ("ContainerCreating", "CrashLoopBackOff", "ImagePullBackOff",
// "Completed", "Error", "ExitCode:1"...), and finally by deletion ("Terminating", or "Unknown" for a
// pod whose node was lost). Sidecars (init containers with restartPolicy Always) count in READY and
// RESTARTS like regular containers.

import type { V1Container, V1ContainerStatus, V1Pod, V1PodCondition, V1PodStatus } from '@kubernetes/client-node';
import type { TableRowCondition } from '../tables.ts';
import { instant, later, since } from './format.ts';
import { ageColumn, column, nameColumn, printer } from './printer.ts';

const columns = [
  nameColumn(),
  column('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
  column('Status', 'string', 'The aggregate status of the containers in this pod.'),
  column('Restarts', 'string', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
  ageColumn(),
  column('IP', 'string', 'podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.', { wide: true }),
  column('Node', 'string', 'NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename', { wide: true }),
  column('Nominated Node', 'string', 'nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.', { wide: true }),
  column('Readiness Gates', 'string', 'If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to "True" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates', { wide: true }),
];

/** The reason the node lifecycle controller gives pods on a node that stopped reporting. */
const NODE_LOST = 'NodeLost';

const isSidecar = (container: V1Container | undefined) => container?.restartPolicy === 'Always';
const lastTerminated = (status: V1ContainerStatus) => instant(status.lastState?.terminated?.finishedAt);
const conditionTrue = (conditions: V1PodCondition[] | undefined, type: string) =>
  conditions?.find((c) => c.type === type)?.status === 'True';
const hasReadyCondition = (status: V1PodStatus) => (status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** What an unfinished init container says about the pod: "Init:<reason>" or "Init:<i>/<n>". */
function initReason(status: V1ContainerStatus, index: number, initContainers: number): string {
  const terminated = status.state?.terminated;
  if (terminated) {
    if (terminated.reason) return `Init:${terminated.reason}`;
    return terminated.signal ? `Init:Signal:${terminated.signal}` : `Init:ExitCode:${terminated.exitCode ?? 0}`;
  }
  const waiting = status.state?.waiting?.reason;
  if (waiting && waiting !== 'PodInitializing') return `Init:${waiting}`;
  return `Init:${index}/${initContainers}`;
}

interface Summary { ready: number; total: number; reason: string; restarts: number; lastRestart: number | undefined }

function summarize(pod: V1Pod): Summary {
  const status = pod.status ?? {};
  const initContainers = pod.spec?.initContainers ?? [];
  const initByName = new Map(initContainers.map((c) => [c.name, c]));
  const summary: Summary = {
    ready: 0,
    total: (pod.spec?.containers ?? []).length + initContainers.filter(isSidecar).length,
    reason: status.reason || (status.phase ?? ''),
    restarts: 0,
    lastRestart: undefined,
  };
  if ((status.conditions ?? []).some((c) => c.type === 'PodScheduled' && c.reason === 'SchedulingGated')) summary.reason = 'SchedulingGated';

  let sidecarRestarts = 0;
  let lastSidecarRestart: number | undefined;
  let initializing = false;
  for (const [index, container] of (status.initContainerStatuses ?? []).entries()) {
    summary.restarts += container.restartCount ?? 0;
    summary.lastRestart = later(summary.lastRestart, lastTerminated(container));
    const sidecar = isSidecar(initByName.get(container.name));
    if (sidecar) {
      sidecarRestarts += container.restartCount ?? 0;
      lastSidecarRestart = later(lastSidecarRestart, lastTerminated(container));
    }
    const terminated = container.state?.terminated;
    if (terminated && (terminated.exitCode ?? 0) === 0) continue;
    if (sidecar && container.started === true) {
      if (container.ready) summary.ready++;
      continue;
    }
    summary.reason = initReason(container, index, initContainers.length);
    initializing = true;
    break;
  }

  if (!initializing || conditionTrue(status.conditions, 'Initialized')) {
    // Once initialized, only sidecars' restarts count alongside the regular containers'.
    summary.restarts = sidecarRestarts;
    summary.lastRestart = lastSidecarRestart;
    let hasRunning = false;
    // From the last container to the first, so that the first container's state wins.
    for (const container of [...(status.containerStatuses ?? [])].reverse()) {
      summary.restarts += container.restartCount ?? 0;
      summary.lastRestart = later(summary.lastRestart, lastTerminated(container));
      const { waiting, terminated, running } = container.state ?? {};
      if (waiting?.reason) summary.reason = waiting.reason;
      else if (terminated?.reason) summary.reason = terminated.reason;
      else if (terminated) summary.reason = terminated.signal ? `Signal:${terminated.signal}` : `ExitCode:${terminated.exitCode ?? 0}`;
      else if (container.ready && running) {
        hasRunning = true;
        summary.ready++;
      }
    }
    // A pod whose main container completed while another still runs (a finished sidecar pattern).
    if (summary.reason === 'Completed' && hasRunning) summary.reason = hasReadyCondition(status) ? 'Running' : 'NotReady';
  }

  if (pod.metadata?.deletionTimestamp) {
    if (status.reason === NODE_LOST) summary.reason = 'Unknown';
    else if (status.phase !== 'Succeeded' && status.phase !== 'Failed') summary.reason = 'Terminating';
  }
  return summary;
}

/** READINESS GATES: "<true>/<gates>", counting each gate's first matching condition. */
function readinessGates(pod: V1Pod): string {
  const gates = pod.spec?.readinessGates ?? [];
  if (gates.length === 0) return '<none>';
  const conditions = pod.status?.conditions ?? [];
  const ready = gates.filter((g) => conditions.find((c) => c.type === g.conditionType)?.status === 'True').length;
  return `${ready}/${gates.length}`;
}

function cells(pod: V1Pod, now: Date): unknown[] {
  const { ready, total, reason, restarts, lastRestart } = summarize(pod);
  const restartText = restarts !== 0 && lastRestart !== undefined ? `${restarts} (${since(now, lastRestart)} ago)` : String(restarts);
  // status.podIP is authoritative over podIPs[0] when both are set (v1 to internal conversion).
  const ip = pod.status?.podIP || pod.status?.podIPs?.[0]?.ip || '<none>';
  return [
    pod.metadata?.name ?? '',
    `${ready}/${total}`,
    reason,
    restartText,
    since(now, pod.metadata?.creationTimestamp),
    ip,
    pod.spec?.nodeName || '<none>',
    pod.status?.nominatedNodeName || '<none>',
    readinessGates(pod),
  ];
}

/** A finished pod's row carries a Completed condition (kubectl used it to hide finished pods). */
function conditions(pod: V1Pod): TableRowCondition[] | undefined {
  switch (pod.status?.phase) {
    case 'Succeeded': return [{ type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' }];
    case 'Failed': return [{ type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' }];
    default: return undefined;
  }
}

export const podPrinter = printer<V1Pod>(columns, cells, conditions);
