import type { ObjectStore } from './store.ts';
import type { KubeObject } from './object.ts';
import { condition, isPodReady, isTerminal, isTerminating } from './controllers/podutil.ts';
import type { Node, Pod } from './controllers/types.ts';

// Whether a lab's cluster has stopped moving, for the grader: after a change the data plane
// follows within a few seconds (kube-proxy rewrites its chains, EndpointSlices follow readiness,
// kindnet re-renders policies, CoreDNS reloads), which is why a failing check is probed again for
// a retry window. A cluster where nothing has been written for that long, whose pods are all Ready
// and whose nodes are all Ready, has nothing left to follow: what a probe sees there is the
// network's answer, not a step on the way to another one.
//
// Events are not changes: the kubelet records one for every failing probe, which says the state
// holds rather than that it moves. A steady lab writes nothing else (no heartbeats), so quiet
// time is the time since the last change of something controllers act on.
//
// A pod that is not Ready is a state in motion even when nothing is written: a readiness probe
// runs every periodSeconds and flips it on its own, a container in back-off restarts on a timer, a
// pending pod waits for its node's network. Such a cluster is never settled, and its checks get
// the whole window as before.

export interface Settledness {
  /** Milliseconds since the last write of anything but an Event. */
  quietMs: number;
  /** What is still in motion: "pod default/web-x: not Ready", "node worker: NotReady". */
  unsettled: string[];
}

/** Why each object of the cluster is in motion; empty when everything has settled. */
export function inMotion(pods: readonly KubeObject[], nodes: readonly KubeObject[]): string[] {
  const out: string[] = [];
  for (const node of nodes) {
    const ready = condition((node as Node).status?.conditions, 'Ready')?.status;
    if (ready !== 'True') out.push(`node ${node.metadata.name}: NotReady`);
  }
  for (const o of pods) {
    const pod = o as Pod;
    const name = `pod ${o.metadata.namespace}/${o.metadata.name}`;
    if (isTerminating(o)) out.push(`${name}: Terminating`);
    else if (isTerminal(pod)) continue;
    else if (pod.status?.phase !== 'Running') out.push(`${name}: ${pod.status?.phase ?? 'Pending'}`);
    else if (!isPodReady(pod)) out.push(`${name}: not Ready`);
  }
  return out;
}

/** Follows a store's writes; `settledness()` reads the cluster as it is now. */
export class ChangeClock {
  private lastChangeAt: number;
  private readonly stop: () => void;

  constructor(private readonly store: ObjectStore, private readonly now: () => number = Date.now) {
    this.lastChangeAt = now();
    this.stop = store.subscribe(undefined, (e) => { if (e.kind !== 'Event') this.lastChangeAt = this.now(); });
  }

  settledness(): Settledness {
    return {
      quietMs: Math.max(0, this.now() - this.lastChangeAt),
      unsettled: inMotion(this.store.list('Pod'), this.store.list('Node')),
    };
  }

  close(): void {
    this.stop();
  }
}
