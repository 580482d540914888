import type { ControllerSpec } from './controller.ts';
import { objectKey } from './controller.ts';
import { tolerates } from './placement.ts';
import { condition, isTerminating, timestamp } from './podutil.ts';
import type { Node, Pod, Taint, Toleration } from './types.ts';

// What kube-controller-manager does about a node that is NotReady. The node lifecycle controller
// taints a node whose kubelet posts Ready=False with node.kubernetes.io/not-ready, NoSchedule (the
// scheduler sends no new pod there but those that tolerate it, such as DaemonSet agents with
// `operator: Exists`) and NoExecute (with the time it was added), and takes both off once the node is
// Ready again. The taint eviction controller then deletes the pods on a node with a NoExecute taint
// they do not tolerate, at once, or once the shortest tolerationSeconds of the tolerations that
// match has passed since the taint was added: every pod gets 300 s for not-ready from admission
// (DefaultTolerationSeconds), DaemonSet pods tolerate it for ever.

const NOT_READY = 'node.kubernetes.io/not-ready';

const taintsFor = (n: Node, now: string): Taint[] => {
  const ready = condition(n.status?.conditions, 'Ready')?.status;
  const others = (n.spec?.taints ?? []).filter((t) => t.key !== NOT_READY);
  if (ready !== 'False') return others;
  const kept = (effect: Taint['effect']) => n.spec?.taints?.find((t) => t.key === NOT_READY && t.effect === effect);
  return [...others, kept('NoSchedule') ?? { key: NOT_READY, effect: 'NoSchedule' }, kept('NoExecute') ?? { key: NOT_READY, effect: 'NoExecute', timeAdded: now }];
};

export function nodeLifecycleController(): ControllerSpec {
  return {
    name: 'node-lifecycle-controller',
    watches: ['Node'],
    keysFor: (e) => (e.type === 'DELETED' ? [] : [objectKey(e.object)]),
    initialKeys: (ctx) => ctx.api.list('Node', undefined).items.map(objectKey),
    reconcile(name, ctx) {
      ctx.api.mutate('Node', undefined, name, (o) => {
        const n = o as Node;
        const taints = taintsFor(n, timestamp(ctx.api.now()));
        if (JSON.stringify(taints) === JSON.stringify(n.spec?.taints ?? [])) return false;
        const { taints: _old, ...spec } = n.spec ?? {};
        n.spec = taints.length ? { ...spec, taints } : spec;
      });
    },
  };
}

/** When a pod must go from a node with these NoExecute taints: now, at a time, or never (undefined). */
function evictionTime(taints: Taint[], tolerations: Toleration[] | undefined): number | undefined {
  let due: number | undefined;
  for (const taint of taints) {
    const matching = (tolerations ?? []).filter((t) => tolerates(t, taint));
    if (!matching.length) return 0;
    if (matching.some((t) => t.tolerationSeconds === undefined || t.tolerationSeconds === null)) continue;
    const seconds = Math.max(0, Math.min(...matching.map((t) => t.tolerationSeconds!)));
    const at = Date.parse(taint.timeAdded ?? '') + seconds * 1000;
    due = Math.min(due ?? Infinity, Number.isNaN(at) ? 0 : at);
  }
  return due;
}

export function taintEvictionController(): ControllerSpec {
  return {
    name: 'taint-eviction-controller',
    watches: ['Node', 'Pod'],
    keysFor: (e) => (e.kind === 'Node' ? [objectKey(e.object)] : [(e.object as Pod).spec.nodeName ?? ''].filter(Boolean)),
    initialKeys: (ctx) => ctx.api.list('Node', undefined).items.map(objectKey),
    reconcile(name, ctx) {
      const node = ctx.api.tryGet('Node', undefined, name) as Node | undefined;
      const noExecute = (node?.spec?.taints ?? []).filter((t) => t.effect === 'NoExecute');
      if (!noExecute.length) return;
      const now = ctx.api.now().getTime();
      let next: number | undefined;
      for (const p of ctx.api.list('Pod', undefined, { fieldSelector: `spec.nodeName=${name}` }).items as Pod[]) {
        if (isTerminating(p)) continue;
        const due = evictionTime(noExecute, p.spec.tolerations);
        if (due === undefined) continue;
        if (due > now) { next = Math.min(next ?? Infinity, due); continue; }
        ctx.api.mutate('Pod', p.metadata.namespace, p.metadata.name!, (o) => {
          const st = ((o as Pod).status ??= {});
          st.conditions = [...(st.conditions ?? []).filter((c) => c.type !== 'DisruptionTarget'),
            { type: 'DisruptionTarget', status: 'True', lastProbeTime: null, lastTransitionTime: timestamp(ctx.api.now()), reason: 'DeletionByTaintManager', message: 'Taint manager: deleting due to NoExecute taint' }];
        }, { subresource: 'status' });
        ctx.event(p, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${p.metadata.namespace}/${p.metadata.name}`, 'taint-eviction-controller');
        ctx.api.delete('Pod', p.metadata.namespace, p.metadata.name!);
      }
      return next === undefined ? undefined : { requeueAfterMs: next - now };
    },
  };
}
