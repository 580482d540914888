import type { ClusterApi } from './api.ts';
import type { KubeObject } from './object.ts';

// Events as client-go's EventRecorder writes them (core/v1, the form `kubectl describe` and
// `kubectl get events` read): one object per occurrence, aggregated when the same source reports
// the same reason and message about the same object again (count and lastTimestamp grow, as the
// "x3 over 2m" in describe shows). Old events are dropped to keep a lab's store bounded, as the
// API server's one-hour event TTL does.

const MAX_EVENTS = 2000;

export function eventRecorder(api: ClusterApi) {
  const recent = new Map<string, { namespace: string; name: string }>();
  // client-go names an event after its object and the time in nanoseconds, in hex: listed by name
  // (as the API lists), a lab's events come in the order they happened, which is how `kubectl
  // describe` orders those of the same second. A counter keeps names apart within a millisecond.
  let last = 0n;
  const eventName = (object: KubeObject) => {
    const ns = BigInt(api.now().getTime()) * 1_000_000n;
    last = ns > last ? ns : last + 1n;
    return `${object.metadata.name}.${last.toString(16)}`;
  };
  return (object: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string, component: string) => {
    const fieldPath = object.metadata.annotations?.['netdojo.dev/fieldPath'];
    const namespace = object.metadata.namespace || 'default';
    const key = [object.metadata.uid, reason, message, fieldPath, component].join('\0');
    const now = api.now().toISOString().replace(/\.\d+Z$/, 'Z');
    const seen = recent.get(key);
    if (seen && api.mutate('Event', seen.namespace, seen.name, (e) => { e.count = Number(e.count ?? 1) + 1; e.lastTimestamp = now; })) return;
    // A kubelet reports from its node (about its pods, or the node itself).
    const host = component === 'kubelet' ? (object.kind === 'Node' ? object.metadata.name : (object.spec as { nodeName?: string } | undefined)?.nodeName) : undefined;
    const event: KubeObject = {
      apiVersion: 'v1', kind: 'Event',
      metadata: { name: eventName(object), namespace },
      involvedObject: {
        kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name, uid: object.metadata.uid,
        apiVersion: object.apiVersion, resourceVersion: object.metadata.resourceVersion, ...(fieldPath ? { fieldPath } : {}),
      },
      reason, message, type, count: 1, firstTimestamp: now, lastTimestamp: now, eventTime: null,
      source: { component, ...(host ? { host } : {}) },
      reportingComponent: component, reportingInstance: host ?? '',
    };
    try {
      const created = api.create('Event', namespace, event);
      recent.set(key, { namespace, name: created.metadata.name! });
    } catch { return; /* a namespace being deleted takes no new events */ }
    if (recent.size > MAX_EVENTS) {
      const [oldest] = recent;
      recent.delete(oldest[0]);
      try { api.delete('Event', oldest[1].namespace, oldest[1].name); } catch { /* already gone */ }
    }
  };
}
