import { readFileSync } from 'node:fs';
import type { ProgressFn } from '../../lab/types.ts';
import { containerExec } from './docker.ts';
import type { KindLab } from './lab.ts';
import { paths } from './record.ts';
import { runActions } from '../../lab/actions.ts';

// Reset without recreating the cluster: put a lab back into the state it had right after creation
// (then the caller re-runs the scenario's break). Undone here, whatever the scenario: NetworkPolicies,
// the kube-system objects kind installed (kindnet, CoreDNS and its Corefile, from the snapshot taken
// at creation), node eth0 MTU and route caches, and the base workloads (client and web pods are
// recreated: fresh PMTU caches, conflists re-read). Node-level rules a scenario added (iptables) are
// undone by the scenario's own solution steps, which a reset runs first (best effort). What a
// learner changed by hand beyond that is caught by the baseline check, which falls back to
// recreating the lab (resetLab in lab/session.ts).

/** Shell run in each node container to undo node-level changes that do not depend on the scenario. */
export function nodeRestoreScript(mtu: number): string {
  return [
    'set -u',
    `ip link set dev eth0 mtu ${mtu}`,
    'ip route flush cache 2>/dev/null || true',
  ].join('\n');
}

export interface RestoreDeps {
  waitReady(lab: KindLab, onProgress?: ProgressFn): Promise<void>;
  refreshFacts(lab: KindLab): Promise<KindLab>;
}

export async function restoreBaseline(lab: KindLab, deps: RestoreDeps, onProgress?: ProgressFn): Promise<KindLab> {
  const p = paths(lab.id);
  const k = lab.kube;
  await runActions([
    ['Removing NetworkPolicies', async () => {
      await k.must(['delete', 'networkpolicy', '--all', '--all-namespaces', '--wait=true']);
    }],
    ['Restoring kube-system', async () => {
      await k.apply(readFileSync(p.snapshot, 'utf8'));
      // Pods crash-looping on a broken Corefile would wait out their back-off: start them afresh.
      await k.must(['-n', 'kube-system', 'rollout', 'restart', 'deployment/coredns']);
    }],
    ['Restoring nodes', async () => {
      for (const n of lab.facts.nodes) {
        const r = await containerExec(lab.nodeContainer(n.name), ['sh', '-c', nodeRestoreScript(lab.record.mtu)], { timeoutMs: 30_000 });
        if (r.code !== 0) throw new Error(`restoring ${n.name}: ${r.stderr.trim() || `exit ${r.code}`}`);
      }
    }],
    ['Restarting CNI', async () => {
      // kindnet writes the conflist (pod MTU) and the routes to other nodes' podCIDRs when it starts.
      await k.must(['-n', 'kube-system', 'delete', 'pod', '-l', 'app=kindnet', '--wait=true'], { timeoutMs: 120_000 });
    }],
    ['Recreating base workloads', async () => {
      await k.must(['-n', 'default', 'delete', 'pod', '-l', 'netdojo.io/base=true', '--wait=true'], { timeoutMs: 120_000 });
      await k.must(['-n', 'default', 'delete', 'pod', '-l', 'app=web', '--wait=true'], { timeoutMs: 120_000 });
      await k.apply(readFileSync(p.manifests, 'utf8'));
    }],
  ], onProgress);
  lab.forgetPods();
  await deps.waitReady(lab, onProgress);
  return deps.refreshFacts(lab);
}
