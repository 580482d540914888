import type { ControllerContext } from './controller.ts';

// The node agents that run as DaemonSet pods here (kube-proxy, kindnet) act on a node only while
// their pod there runs, and start over when it is replaced or restarts, as a new process would.

/** The node's running pod of a DaemonSet (by its k8s-app label): its uid and restart count. */
export function runningDaemonPod(ctx: ControllerContext, app: string, node: string): string | undefined {
  const pod = ctx.api.list('Pod', 'kube-system', { labelSelector: `k8s-app=${app}` }).items.find((p) =>
    (p.spec as { nodeName?: string }).nodeName === node && !p.metadata.deletionTimestamp);
  const status = pod?.status as { phase?: string; containerStatuses?: { state?: { running?: object }; restartCount?: number }[] } | undefined;
  const cs = status?.containerStatuses?.[0];
  if (!pod || status?.phase !== 'Running' || !cs?.state?.running) return undefined;
  return `${pod.metadata.uid}/${cs.restartCount ?? 0}`;
}
