import type { ControllerSpec } from '../controllers/controller.ts';
import { runningDaemonPod } from '../controllers/daemonpod.ts';
import type { PodRuntime } from '../kubelet/runtime.ts';
import { ensureForwardJumpScript, renderPolicies } from './iptables.ts';
import { isolatedPodsOn } from './resolve.ts';

// kindnet's network policies (kube-network-policies, built into kindnetd since kind 0.24), one
// per node, as its DaemonSet pod would run them: while the node's kindnet pod runs, every change
// to NetworkPolicies, Pods (their labels, IPs, ports) or Namespaces (their labels) is written to
// the node's iptables. When the pod is gone the node's rules stay as they were and go stale.
// kube-proxy re-inserts its FORWARD jumps at the top when it restarts, so the policies' jump is
// checked again whenever the node's kube-proxy pod changes.

export interface NetworkPoliciesOptions {
  runtime: PodRuntime;
  nodes: () => { name: string; podCIDR: string }[];
}

export function networkPolicies(o: NetworkPoliciesOptions): ControllerSpec {
  const synced = new Map<string, { instance: string; rules: string; chains: Set<string> }>();
  return {
    name: 'kindnet-network-policies',
    watches: ['NetworkPolicy', 'Pod', 'Namespace'],
    // A policy's peers may be pods anywhere: any change may concern every node.
    keysFor: () => o.nodes().map((n) => n.name),
    initialKeys: () => o.nodes().map((n) => n.name),
    async reconcile(node, ctx) {
      const kindnet = runningDaemonPod(ctx, 'kindnet', node);
      if (!kindnet) return;
      const instance = `${kindnet} ${runningDaemonPod(ctx, 'kube-proxy', node) ?? '-'}`;
      const prev = synced.get(node);
      const podCIDR = o.nodes().find((n) => n.name === node)?.podCIDR;
      if (!podCIDR) return;
      const { rules, chains } = renderPolicies(isolatedPodsOn(ctx.api, node), podCIDR, prev?.chains);
      if (prev?.instance === instance && prev.rules === rules) return;
      // The chains first (a jump into a chain that does not exist yet fails), then the jump.
      const script = `set -e\niptables-restore -w --noflush <<'NETDOJO_RULES'\n${rules}NETDOJO_RULES\n${ensureForwardJumpScript()}`;
      const r = await o.runtime.inNode(node, script);
      if (r.code !== 0) throw new Error(`network policies on ${node}: ${(r.stdout + r.stderr).trim()}`);
      synced.set(node, { instance, rules, chains });
    },
  };
}
