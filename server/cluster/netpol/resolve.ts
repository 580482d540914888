import type { ClusterApi } from '../api.ts';
import type { Allow, IsolatedPod, Peer, PortMatch } from './iptables.ts';
import { podInfo, podRules, worldFromObjects, type Allowance, type Direction } from './policy.ts';

// From the API's objects to what a node's chains need: the policy semantics (policy.ts) resolve
// selectors to pod IPs and named ports to numbers; this flattens each allowance into one rule per
// peer and port, so that every iptables rule names one thing it lets through.

function flatten(a: Allowance): { peer: Peer; port?: PortMatch }[] {
  const peers: Peer[] = a.peers === 'any' ? [{ kind: 'any' }] : a.peers.map((p) => p.kind === 'pod'
    ? { kind: 'pod', ip: p.ip, pod: `${p.namespace}/${p.name}` }
    : { kind: 'cidr', cidr: p.cidr, except: p.except });
  const ports: (PortMatch | undefined)[] = a.ports === 'any' ? [undefined] : a.ports;
  return peers.flatMap((peer) => ports.map((port) => ({ peer, port })));
}

/** The pods of `node` that policies isolate, per direction, with everything the policies allow them. */
export function isolatedPodsOn(api: ClusterApi, node: string): IsolatedPod[] {
  const policies = api.list('NetworkPolicy', undefined).items;
  // No policy, nothing isolated: the common case, and pods change all the time.
  if (!policies.length) return [];
  const pods = api.list('Pod', undefined).items;
  const world = worldFromObjects({ namespaces: api.list('Namespace', undefined).items, pods, policies });
  const out: IsolatedPod[] = [];
  for (const obj of pods) {
    if ((obj.spec as { nodeName?: string } | undefined)?.nodeName !== node) continue;
    const pod = podInfo(obj);
    if (!pod || pod.hostNetwork) continue;
    for (const direction of ['ingress', 'egress'] as Direction[]) {
      const r = podRules(world, pod, direction);
      if (!r.isolated) continue;
      const allow: Allow[] = r.rules.flatMap((rule) => rule.allows.flatMap(flatten).map((x) => ({
        policy: `${rule.policy.namespace}/${rule.policy.name}`, rule: `${direction}[${rule.index}]`, ...x,
      })));
      out.push({
        pod: `${pod.namespace}/${pod.name}`, ip: pod.ip, direction, allow,
        policies: r.policies.map((p) => `${p.namespace}/${p.name}`),
      });
    }
  }
  return out;
}
